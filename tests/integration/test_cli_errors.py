"""CLI mistakes end in one clear line, never a traceback or silence (issue 14, items 10 and 11).

Every command runs as a real `python -m collector.cli` process.
"""
from __future__ import annotations

import os
import signal
import socket
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import pytest

from tests.support.hubproc import ROOT, host_entry, write_inventory
from tests.support.sshd import free_port


def _cli(*args: str, env: dict[str, str] | None = None, input: str | None = None,
         timeout: float = 60) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "collector.cli", *args], cwd=ROOT, capture_output=True, text=True,
                          env={**os.environ, **(env or {})}, input=input, timeout=timeout)


def _one_line_error(proc: subprocess.CompletedProcess) -> str:
    assert "Traceback" not in proc.stderr, proc.stderr
    lines = [line for line in proc.stderr.splitlines() if line.startswith("fleetwatch: ")]
    assert lines, proc.stderr
    return lines[-1]


@pytest.mark.parametrize("command", [["serve", "--listen", f"127.0.0.1:{free_port()}"], ["db", "upgrade"],
                                     ["user", "list"], ["token", "list"]])
def test_an_unsupported_database_url_says_which_urls_work(command):
    proc = _cli(*command, "--db", "mysql://root:secret@127.0.0.1/fleet")
    line = _one_line_error(proc)
    assert proc.returncode == 2
    assert "unsupported database URL" in line and "sqlite:///" in line and "postgresql://" in line, line
    assert "secret" not in proc.stderr


def test_serve_on_a_port_in_use_exits_at_once_without_polling(tmp_path):
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        inventory = write_inventory(tmp_path / "hosts.yaml", [])
        started = time.monotonic()
        proc = _cli("serve", "--inventory", str(inventory), "--db", str(tmp_path / "p.db"),
                    "--listen", f"127.0.0.1:{port}")
        took = time.monotonic() - started
    line = _one_line_error(proc)
    assert proc.returncode == 1 and f"cannot listen on 127.0.0.1:{port}" in line and "--listen" in line, line
    assert "hub started" not in proc.stderr and not (tmp_path / "p.db").exists(), "nothing started before the check"
    assert took < 15


def test_serve_with_a_missing_inventory_says_so_and_how_to_make_one(tmp_path):
    port = free_port()
    missing = tmp_path / "nowhere" / "hosts.yaml"
    proc = subprocess.Popen([sys.executable, "-m", "collector.cli", "serve", "--inventory", str(missing),
                             "--db", str(tmp_path / "m.db"), "--listen", f"127.0.0.1:{port}", "--no-backup"],
                            cwd=ROOT, stderr=subprocess.PIPE, text=True)
    try:
        seen = ""
        deadline = time.monotonic() + 30
        while "API on http://" not in seen:
            assert time.monotonic() < deadline and proc.poll() is None, seen
            seen += proc.stderr.readline()
    finally:
        proc.terminate()
        rest = proc.communicate(timeout=20)[1]
    warning = [line for line in (seen + rest).splitlines() if "does not exist" in line]
    assert warning and str(missing) in warning[0] and "hosts.example.yaml" in warning[0], seen
    assert "0 hosts" in warning[0]
    assert proc.returncode == 0


def test_user_add_and_token_create_name_the_database_they_wrote_to(tmp_path):
    env = {"FLEETWATCH_DATA": str(tmp_path / "data")}
    env.pop("FLEETWATCH_DB", None)
    added = _cli("user", "add", "ada", "--role", "admin", "--password-stdin", input="a long password 1\n",
                 env={**env, "FLEETWATCH_DB": ""})
    assert added.returncode == 0, added.stderr
    where = f"in sqlite:///{(tmp_path / 'data' / 'fleetwatch.db').as_posix()}"
    assert where in added.stdout.splitlines()[-1], "the confirmation itself names the database"
    token = _cli("token", "create", "ci", "--role", "viewer", env={**env, "FLEETWATCH_DB": ""})
    confirmation = [line for line in token.stderr.splitlines() if line.startswith("token ci (viewer) created")]
    assert token.returncode == 0 and where in confirmation[0], token.stderr


def test_version():
    proc = _cli("--version")
    assert proc.returncode == 0 and proc.stdout.strip() == "fleetwatch 0.1.0"


def test_a_console_that_cannot_show_a_character_gets_a_question_mark_not_a_traceback(tmp_path):
    inventory = tmp_path / "hosts.yaml"
    inventory.write_text('hosts:\n  - id: gpu-01\n    address: "服务器 1"\n', encoding="utf-8")
    proc = _cli("inventory", "check", str(inventory), env={"PYTHONIOENCODING": "ascii"})  # a cp1252-like console
    assert proc.returncode == 2 and "Traceback" not in proc.stderr, proc.stderr
    assert "invalid address '??? 1'" in proc.stdout


# Ctrl-Break on Windows (SIGBREAK) is a stop signal uvicorn handles there and raises again when it is done.
# This machine has no SIGBREAK, so the hub is started with SIGUSR1 standing in for it, handled by uvicorn
# as on Windows: the stop must be the same clean stop as SIGTERM's, exit code 0 and the final flush.
SIGBREAK_STAND_IN = """
import signal, sys
import uvicorn.server
signal.SIGBREAK = signal.SIGUSR1
uvicorn.server.HANDLED_SIGNALS += (signal.SIGUSR1,)
from collector.cli import main
sys.exit(main(sys.argv[1:]))
"""


def test_ctrl_break_stops_the_hub_cleanly_with_the_final_flush(sshd, tmp_path):
    inventory = write_inventory(tmp_path / "hosts.yaml", [host_entry(sshd, "break-host")], interval="1s")
    db = tmp_path / "break.db"
    port = free_port()
    log = tmp_path / "break.log"
    with open(log, "wb") as out:
        proc = subprocess.Popen([sys.executable, "-c", SIGBREAK_STAND_IN, "serve", "--inventory", str(inventory),
                                 "--db", str(db), "--listen", f"127.0.0.1:{port}", "--no-backup"],
                                cwd=ROOT, stdout=out, stderr=subprocess.STDOUT)
    try:
        deadline = time.monotonic() + 30
        while not db.exists() or _count(db, "samples") < 2:
            assert time.monotonic() < deadline and proc.poll() is None, log.read_text()
            time.sleep(0.2)
        proc.send_signal(signal.SIGUSR1)
        code = proc.wait(timeout=20)
    finally:
        if proc.poll() is None:
            proc.kill()
    text = log.read_text()
    assert code == 0, f"exit {code}\n{text[-2000:]}"
    assert "Traceback" not in text
    samples = _count(db, "samples")
    with sqlite3.connect(db) as conn:
        rolled = conn.execute("SELECT coalesce(sum(sample_count), 0) FROM samples_hourly").fetchone()[0]
    assert rolled == samples, "the stop rolled up every sample it wrote"


def _count(db: Path, table: str) -> int:
    try:
        with sqlite3.connect(db) as conn:
            return conn.execute(f"SELECT count(*) FROM {table}").fetchone()[0]
    except sqlite3.OperationalError:  # not migrated yet
        return 0
