"""identity_file and known_hosts: no file contents in any message, and API/UI paths kept to key folders.

Issue 14, item 4. An admin who points a host's known_hosts (or identity_file) at another file must
not get that file's lines back through `last_error`, the stored events or the log; and the API and
the Servers page may only point these fields into ~/.ssh, the data folder or a `serve --key-dir`.
"""
from __future__ import annotations

import asyncio
import logging
import subprocess
import sys
import time
from pathlib import Path

import asyncssh
from sqlmodel import Session, select

from collector.hub import Hub, HubOptions
from schema.db import make_engine
from schema.migrate import upgrade
from schema.models import Event
from tests.support.hubproc import host_entry, write_inventory
from tests.support.sshd import SSHDServer, write_key

SECRET = "hunter2"


def _secret_files(tmp: Path) -> dict[str, Path]:
    """Files that are not what the field wants, each holding something secret."""
    env = tmp / "environ"
    env.write_text(f"SECRET={SECRET}\nPATH=/usr/bin\n")
    marker = tmp / "marker"
    marker.write_text(f"@{SECRET} 10.0.0.1 ssh-ed25519 AAAA\n")
    private = write_key(asyncssh.generate_private_key("ssh-ed25519"), tmp / "id_other")
    # a PKCS#1 PEM whose type names the secret: asyncssh answers "Unknown PEM key type: <it>"
    rsa = asyncssh.generate_private_key("ssh-rsa", key_size=1024).export_private_key("pkcs1-pem").decode()
    pem = tmp / "pem"
    pem.write_text(rsa.replace("RSA PRIVATE", f"{SECRET.upper()} PRIVATE"))
    return {"env": env, "marker": marker, "private": private, "pem": pem}


def _secrets(files: dict[str, Path]) -> list[str]:
    """What must never be shown: the secret, and every body line of the private keys."""
    out = [SECRET, SECRET.upper()]
    for name in ("private", "pem"):
        out += [ln[:16] for ln in files[name].read_text().splitlines() if ln and not ln.startswith("-----")]
    return out


def _leaks(text: str, secrets: list[str]) -> list[str]:
    return [s for s in secrets if s in text]


async def _until(what: str, check, timeout: float = 15.0):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if check():
            return
        await asyncio.sleep(0.1)
    raise AssertionError(f"timed out after {timeout} s waiting for {what}")


async def test_no_file_contents_in_last_error_events_or_log(sshd: SSHDServer, tmp_path: Path, caplog):
    caplog.set_level(logging.DEBUG)
    files = _secret_files(tmp_path)
    hosts = {
        "kh-env": {"known_hosts": str(files["env"])},
        "kh-marker": {"known_hosts": str(files["marker"])},
        "kh-key": {"known_hosts": str(files["private"])},
        "id-env": {"identity_file": str(files["env"])},
        "id-pem": {"identity_file": str(files["pem"])},
    }
    path = write_inventory(tmp_path / "hosts.yaml", [host_entry(sshd, h, **o) for h, o in hosts.items()])
    url = f"sqlite:///{tmp_path / 'h.db'}"
    upgrade(url, log=lambda _m: None)
    hub = Hub(path, make_engine(url), HubOptions(backup_every_s=0, inventory_check_s=0.2))
    await hub.start()
    try:
        def events() -> list[Event]:
            with Session(hub.engine) as s:
                return list(s.exec(select(Event)))
        await _until("a failure event per host", lambda: {e.host_id for e in events()} >= set(hosts))
        errors = {h: hub.poller.runtime(h).status.last_error or "" for h in hosts}
        stored = "\n".join(f"{e.message}\n{e.details}" for e in events())
    finally:
        await hub.stop()
    secrets = _secrets(files)
    for host_id, error in errors.items():
        assert not _leaks(error, secrets), f"{host_id}: file contents in last_error: {error}"
        assert "\n" not in error, error
    assert not _leaks(stored, secrets), f"file contents in stored events: {stored}"
    assert not _leaks(caplog.text, secrets), f"file contents in the log: {caplog.text}"
    # ...and each message still says what is wrong and where
    assert "not a known_hosts file: line 1 is not `host keytype key`" in errors["kh-env"]
    assert str(files["env"]) in errors["kh-env"]
    assert "not a known_hosts file: line 1 is not `host keytype key`" in errors["kh-marker"]
    assert "not a known_hosts file: line 2 is not `host keytype key`" in errors["kh-key"]  # line 1: BEGIN
    for host_id in ("id-env", "id-pem"):
        assert "is not a private key (or is encrypted)" in errors[host_id], errors[host_id]
        assert str(hosts[host_id]["identity_file"]) in errors[host_id]


def _fleetwatch(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "collector.cli", *args], capture_output=True, text=True,
                          timeout=60, stdin=subprocess.DEVNULL)


def test_probe_and_hosts_trust_print_no_file_contents(sshd: SSHDServer, tmp_path: Path):
    files = _secret_files(tmp_path)
    hosts = {"kh-env": {"known_hosts": str(files["env"])}, "kh-key": {"known_hosts": str(files["private"])},
             "id-pem": {"identity_file": str(files["pem"])}}
    inv = write_inventory(tmp_path / "hosts.yaml", [host_entry(sshd, h, **o) for h, o in hosts.items()])
    secrets = _secrets(files)
    before = {name: f.read_bytes() for name, f in files.items()}
    for host_id in hosts:
        probe = _fleetwatch("probe", host_id, "--json", "--inventory", str(inv))
        assert probe.returncode == 1, probe.stderr
        assert not _leaks(probe.stdout + probe.stderr, secrets), probe.stdout + probe.stderr
        assert len(probe.stderr.strip().splitlines()) == 1, probe.stderr  # one line, no traceback
    for host_id in ("kh-env", "kh-key"):
        trust = _fleetwatch("hosts", "trust", host_id, "--yes", "--inventory", str(inv))
        assert trust.returncode != 0
        assert not _leaks(trust.stdout + trust.stderr, secrets), trust.stdout + trust.stderr
        assert "not a known_hosts file" in trust.stderr and "Traceback" not in trust.stderr, trust.stderr
    assert {name: f.read_bytes() for name, f in files.items()} == before  # trust appended to none of them


# --------------------------------------------------------------------------- paths set from the web
# identity_file / known_hosts written through the API or the Servers page must lie in ~/.ssh, the
# data folder or a `serve --key-dir` folder; what the hand-edited file says is trusted.

def _folders(tmp_path: Path, monkeypatch) -> tuple[Path, Path]:
    home, data = tmp_path / "home", tmp_path / "data"
    (home / ".ssh").mkdir(parents=True)
    data.mkdir()
    monkeypatch.setenv("HOME", str(home))
    monkeypatch.setenv("FLEETWATCH_DATA", str(data))
    return home / ".ssh", data


async def _until_state(hub, host_id: str, state: str, timeout: float = 15.0) -> None:
    await _until(f"{host_id} to be {state}", lambda: host_id in hub.specs
                 and hub.poller.runtime(host_id).status.state == state, timeout)


def _refusal(resp, field: str) -> str:
    assert resp.status_code == 422, resp.text
    problems = [p for p in resp.json()["detail"] if p.get("field") == field]
    assert problems, resp.json()
    return problems[0]["message"]


async def test_api_refuses_key_paths_outside_the_key_folders(sshd: SSHDServer, tmp_path: Path, monkeypatch):
    from tests.support.apphub import served_hub

    ssh_dir, data = _folders(tmp_path, monkeypatch)
    (tmp_path / "outside").mkdir()
    files = _secret_files(tmp_path / "outside")
    (ssh_dir / "evil").symlink_to(files["env"])
    # the hand-written file points outside the folders (the test sshd's own key in /tmp): trusted
    inv = write_inventory(tmp_path / "hosts.yaml", [host_entry(sshd, "live")])
    async with served_hub(inv, f"sqlite:///{tmp_path / 'h.db'}") as served:
        client, hub = served.client, served.hub
        await _until_state(hub, "live", "up")
        before = inv.read_bytes()

        message = _refusal(await client.post("/api/servers", json={
            "id": "n1", "address": "127.0.0.1", "identity_file": str(files["env"])}), "identity_file")
        assert message == (f"identity_file must lie in ~/.ssh ({ssh_dir}), the data folder ({data}) or a --key-dir "
                           f"folder: {files['env']} is outside them; copy the key into ~/.ssh or start serve "
                           "with --key-dir DIR")
        message = _refusal(await client.post("/api/servers", json={
            "id": "n1", "address": "127.0.0.1", "known_hosts": str(files["private"])}), "known_hosts")
        assert message.startswith("known_hosts must lie in ~/.ssh") and "copy the file into ~/.ssh" in message
        # a link in ~/.ssh to a file elsewhere is where it leads
        message = _refusal(await client.post("/api/servers", json={
            "id": "n1", "address": "127.0.0.1", "identity_file": "~/.ssh/evil"}), "identity_file")
        assert f"~/.ssh/evil (resolves to {files['env']}) is outside them" in message
        # a relative path is taken from the hub's working folder, as the hub opens it
        monkeypatch.chdir(ssh_dir)
        message = _refusal(await client.put("/api/servers/live", json={"known_hosts": "../../outside/environ"}),
                           "known_hosts")
        assert f"../../outside/environ (resolves to {files['env']}) is outside them" in message
        assert inv.read_bytes() == before, "a refused edit writes nothing"

        # the hand-written path outside the folders keeps working, and survives unrelated edits
        r = await client.put("/api/servers/live", json={"labels": {"rack": "b2"},
                                                        "identity_file": str(sshd.client_key_path)})
        assert r.status_code == 200, r.text
        assert hub.specs["live"].labels == {"rack": "b2"}
        assert hub.specs["live"].identity_file == sshd.client_key_path

        # inside the folders: written, and the host connects with them
        key = ssh_dir / "id_fleet"
        key.write_bytes(sshd.client_key_path.read_bytes())
        key.chmod(0o600)
        (data / "known_hosts").write_bytes(sshd.known_hosts_path.read_bytes())
        r = await client.post("/api/servers", json={"id": "inside", "address": "127.0.0.1", "port": sshd.port,
                                                    "user": sshd.user, "identity_file": "~/.ssh/id_fleet",
                                                    "known_hosts": str(data / "known_hosts")})
        assert r.status_code == 201, r.text
        await _until_state(hub, "inside", "up")


async def test_key_dir_folders_are_allowed(sshd: SSHDServer, tmp_path: Path, monkeypatch):
    from tests.support.apphub import served_hub

    _folders(tmp_path, monkeypatch)
    inv = write_inventory(tmp_path / "hosts.yaml", [])
    options = HubOptions(backup_every_s=0, inventory_check_s=0.2, key_dirs=(sshd.root,))
    async with served_hub(inv, f"sqlite:///{tmp_path / 'h.db'}", options=options) as served:
        r = await served.client.post("/api/servers", json=host_entry(sshd, "keydir"))  # keys in sshd.root
        assert r.status_code == 201, r.text
        await _until_state(served.hub, "keydir", "up")
        message = _refusal(await served.client.put("/api/servers/keydir", json={"identity_file": "/etc/shadow"}),
                           "identity_file")
        assert f"or a --key-dir folder ({sshd.root}): /etc/shadow is outside them" in message


async def test_servers_form_shows_the_refusal_beside_the_field(sshd: SSHDServer, tmp_path: Path, monkeypatch):
    from bs4 import BeautifulSoup

    from tests.support.apphub import served_hub

    _folders(tmp_path, monkeypatch)
    inv = write_inventory(tmp_path / "hosts.yaml", [host_entry(sshd, "live")])
    async with served_hub(inv, f"sqlite:///{tmp_path / 'h.db'}") as served:
        before = inv.read_bytes()
        resp = await served.client.post("/servers", headers={"Accept": "text/html"}, data={
            "id": "n1", "address": "127.0.0.1", "identity_file": "/etc/shadow"})
        assert resp.status_code == 422, resp.text[:500]
        shown = BeautifulSoup(resp.text, "html.parser").select_one('[data-error-for="identity_file"]').text
        assert "identity_file must lie in ~/.ssh" in shown and "/etc/shadow is outside them" in shown
        assert inv.read_bytes() == before
        # saving the edit form of a host whose hand-written key lies elsewhere still works
        resp = await served.client.post("/servers/live", headers={"Accept": "text/html"}, data={
            "address": "127.0.0.1", "port": str(sshd.port), "user": sshd.user,
            "identity_file": str(sshd.client_key_path), "known_hosts": str(sshd.known_hosts_path),
            "labels": "rack=b2"})
        assert resp.status_code == 303, resp.text[:500]
        assert served.hub.specs["live"].labels == {"rack": "b2"}
