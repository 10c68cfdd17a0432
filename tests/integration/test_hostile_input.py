"""Issue 5 item 7: hostile unit names and mount points never reach a remote shell unquoted.

Every value in HOSTILE tries to run `touch CANARY` (or to write CANARY) in its
own way. Each is thrown at every door a unit name or mount point comes in by:

- the REST API (POST and PUT /api/servers): a 422 naming the field, the
  inventory file byte-for-byte unchanged, never a 500;
- the inventory file: `load_inventory` raises InventoryError naming the field;
- the collector itself (`probe_args`), for a HostSpec built around validation;
- the probe, on purpose WITHOUT validation: `probe_command([... value ...])`
  runs over a real SSH connection to the test sshd as the unprivileged test
  user, who can write the canary's directory (a control test proves it), and
  the canary is never created. The value also comes back byte for byte from
  the fake systemctl, so it reached the tool as one literal argument.
"""
from __future__ import annotations

import json
import secrets
import shutil
from pathlib import Path

import pytest
import pytest_asyncio
import yaml

from collector.errors import HostError
from collector.prober import probe_args
from collector.ssh_pool import HostConnection
from inventory import InventoryError, load_inventory, load_inventory_text
from inventory.patterns import validate_mount, validate_unit
from remote_scripts import probe_command
from tests.support.apphub import served_hub
from tests.support.hubproc import host_entry, write_inventory
from tests.support.sshd import SSHDServer

CANARY = "CANARY"  # replaced by the real canary path in every template below

# (id, template): each embeds `touch CANARY` (or a write to CANARY) differently.
HOSTILE_TEMPLATES: list[tuple[str, str]] = [
    ("semicolon", "x; touch CANARY"),
    ("semicolon-tight", "x;touch CANARY;"),
    ("command-subst", "$(touch CANARY)"),
    ("backticks", "`touch CANARY`"),
    ("escaped-backticks", "\\`touch CANARY\\`"),
    ("and-and", "x && touch CANARY"),
    ("or-or", "x || touch CANARY"),
    ("pipe", "x | touch CANARY"),
    ("background", "x & touch CANARY"),
    ("newline", "x\ntouch CANARY"),
    ("carriage-return", "x\rtouch CANARY"),
    ("crlf", "nginx.service\r\ntouch CANARY"),
    ("line-continuation", "x\\\ntouch CANARY"),
    ("unicode-line-separator", "x\u2028touch CANARY"),
    ("single-quote-break", "a'; touch CANARY; '"),
    ("double-quote-break", 'a"; touch CANARY; "'),
    ("escaped-single-quote", "a\\'; touch CANARY; \\'"),
    ("quoted-subst-single", "'$(touch CANARY)'"),
    ("quoted-subst-double", '"$(touch CANARY)"'),
    ("ifs", "x;${IFS}touch${IFS}CANARY"),
    ("ifs-only", "${IFS}touch${IFS}CANARY"),
    ("brace-expansion", "{touch,CANARY}"),
    ("arith-subst", "$((0))$(touch CANARY)"),
    ("process-subst", "<(touch CANARY)"),
    ("redirect", "x > CANARY"),
    ("redirect-append", "x >> CANARY"),
    ("printf-redirect", "$(printf x > CANARY)"),
    ("glob-star", "* ; touch CANARY"),
    ("glob-path", "/*/../*;touch CANARY"),
    ("glob-question", "/???/touch CANARY?"),
    ("option-output", "--output=CANARY"),
    ("option-m", "-m\ntouch CANARY"),
    ("option-double-dash", "-- ; touch CANARY"),
    ("option-help-chain", "--help;touch CANARY"),
    ("dash-prefix-unit", "-nginx.service;touch CANARY"),
    ("tab", "x\ttouch CANARY"),
    ("nul-byte", "x\x00; touch CANARY"),
    ("escape-char", "x\x1b[31m;touch CANARY"),
    ("tilde", "~/$(touch CANARY)"),
    ("mount-like-subst", "/mnt/$(touch CANARY)"),
    ("mount-like-semicolon", "/data; touch CANARY"),
    ("mount-like-newline", "/data\n/; touch CANARY"),
    ("mount-dotdot", "/../../$(touch CANARY)"),
    ("unit-like-subst", "nginx.service$(touch CANARY)"),
    ("non-ascii-latin", "ünïcödé;touch CANARY"),
    ("non-ascii-cyrillic", "нгинкс.service`touch CANARY`"),
    ("non-ascii-nbsp", "x\u00a0;touch CANARY"),
    ("fullwidth-semicolon", "x\uff1b touch CANARY;"),
    ("url-encoded-newline", "x%0atouch CANARY"),
    ("long-10000", "x" * 10_000 + "; touch CANARY"),
    ("long-mount-10000", "/" + "a" * 10_000 + "$(touch CANARY)"),
    ("long-unit-10000", "n" * 10_000 + ".service"),
]
IDS = [name for name, _ in HOSTILE_TEMPLATES]
TEMPLATES = [t for _, t in HOSTILE_TEMPLATES]
DUMMY_CANARY = "/tmp/fleetwatch-hostile-canary"


def hostile(template: str, canary: str | Path = DUMMY_CANARY) -> str:
    return template.replace(CANARY, str(canary))


def test_the_list_is_long_and_every_value_is_different() -> None:
    assert len(TEMPLATES) >= 30
    assert len(set(TEMPLATES)) == len(TEMPLATES) and len(set(IDS)) == len(IDS)
    assert sum(CANARY in t for t in TEMPLATES) >= 30


@pytest.mark.parametrize("template", TEMPLATES, ids=IDS)
def test_both_validators_refuse_it_with_a_short_message(template: str) -> None:
    value = hostile(template)
    for validate, what in ((validate_unit, "unit name"), (validate_mount, "mount point")):
        with pytest.raises(ValueError) as info:
            validate(value)
        message = str(info.value)
        assert what in message
        assert len(message) < 300, "a 10 kB value must not be echoed whole"


# ------------------------------------------------------------------ inventory file
def _inventory_doc(value: object, field: str, where: str) -> dict:
    host = {"id": "h1", "address": "127.0.0.1"}
    doc: dict = {"defaults": {"user": "monitor"}, "hosts": [host]}
    (host if where == "host" else doc["defaults"])[field] = value
    return doc


# (field, how the value is written, the field path a problem names)
SHAPES = (
    ("services", lambda v: [v], "services[0]"),
    ("services", lambda v: ["ssh.service", v], "services[1]"),
    ("disks", lambda v: [v], "disks[0]"),
    ("disks", lambda v: ["/", v], "disks[1]"),
    ("disks", lambda v: v, "disks"),  # a string where a list belongs: only "all" and "all+tmpfs" are allowed
)


@pytest.mark.parametrize("template", TEMPLATES, ids=IDS)
def test_inventory_file_refuses_it_naming_the_field(template: str, tmp_path: Path) -> None:
    value = hostile(template)
    path = tmp_path / "hosts.yaml"
    for field, shape, named in SHAPES:
        for where in ("host", "defaults"):
            doc = _inventory_doc(shape(value), field, where)
            text = yaml.safe_dump(doc, sort_keys=False, allow_unicode=True)
            assert yaml.safe_load(text) == doc  # the file really holds the hostile value
            path.write_text(text, encoding="utf-8")
            with pytest.raises(InventoryError) as info:
                load_inventory(path)
            problems = info.value.problems
            expected = named if where == "host" else f"defaults.{named}"
            assert [p.field for p in problems] == [expected], (field, where, [str(p) for p in problems])
            assert f"field '{expected}'" in str(info.value)
            if where == "host":
                assert problems[0].host == "h1" and problems[0].line is not None
            assert len(str(info.value)) < 600, "a 10 kB value must not be echoed whole"


def test_inventory_control_a_plain_value_loads(tmp_path: Path) -> None:
    """The same documents with ordinary values load: the refusals above are about the values."""
    for field, value in (("services", "nginx.service"), ("disks", "/data")):
        for where in ("host", "defaults"):
            inv = load_inventory_text(yaml.safe_dump(_inventory_doc([value], field, where)))
            spec = inv.resolved_hosts()[0]
            assert value in getattr(spec, field)


@pytest.mark.parametrize("template", TEMPLATES, ids=IDS)
def test_probe_args_revalidates_a_spec_built_around_validation(template: str) -> None:
    """A HostSpec made without the inventory's validators still cannot put the value on a command line."""
    spec = load_inventory_text(yaml.safe_dump({"hosts": [{"id": "h1", "address": "127.0.0.1"}]})).resolved_hosts()[0]
    value = hostile(template)
    for changes in ({"services": (value,)}, {"disks": ("/", value)}):
        bad = spec.model_copy(update=changes)  # model_copy does not validate
        with pytest.raises(ValueError):
            probe_args(bad, want_os=True, want_ps=True)


# ------------------------------------------------------------------ REST API
@pytest_asyncio.fixture(scope="module", loop_scope="module")
async def api(sshd: SSHDServer, tmp_path_factory):
    """A hub with one host, served by uvicorn on loopback, and an authenticated client."""


    tmp = tmp_path_factory.mktemp("hostile-api")
    inventory = write_inventory(tmp / "hosts.yaml", [host_entry(sshd, "live", services=["nginx.service"])])
    async with served_hub(inventory, f"sqlite:///{tmp / 'hostile.db'}") as served:
        yield {"client": served.client, "hub": served.hub, "inventory": inventory}


def _names_field(detail: object, field: str) -> bool:
    if isinstance(detail, list):
        return any(isinstance(p, dict) and str(p.get("field", "")).startswith(field) for p in detail)
    return field in json.dumps(detail)


@pytest.mark.asyncio(loop_scope="module")
@pytest.mark.parametrize("template", TEMPLATES, ids=IDS)
async def test_api_refuses_it_with_422_and_writes_nothing(api, template: str) -> None:
    client, path = api["client"], Path(api["inventory"])
    backup = Path(str(path) + ".bak")
    before = path.read_bytes()
    backup_before = backup.read_bytes() if backup.exists() else None
    value = hostile(template)
    requests = []
    for field, payload in (("services", [value]), ("disks", [value]), ("disks", ["/", value]), ("disks", value)):
        requests.append(("POST", "/api/servers", {"id": "new-host", "address": "127.0.0.1", field: payload}, field))
        requests.append(("PUT", "/api/servers/live", {field: payload}, field))
    for method, url, body, field in requests:
        r = await client.request(method, url, json=body)
        where = f"{method} {url} {field}={json.dumps(body[field])[:80]}"
        assert r.status_code == 422, f"{where}: {r.status_code} {r.text[:500]}"
        detail = r.json()["detail"]
        assert _names_field(detail, field), f"{where}: {detail}"
        assert len(r.text) < 4000, f"{where}: the 10 kB value was echoed back ({len(r.text)} bytes)"
        assert path.read_bytes() == before, f"{where}: the inventory file changed"
    assert (backup.read_bytes() if backup.exists() else None) == backup_before
    assert "new-host" not in api["hub"].specs
    assert api["hub"].specs["live"].services == ("nginx.service",)


@pytest.mark.asyncio(loop_scope="module")
async def test_api_control_a_plain_value_is_accepted(api) -> None:
    """The same requests with ordinary values succeed: the 422s above are about the values."""
    client, hub = api["client"], api["hub"]
    r = await client.put("/api/servers/live", json={"services": ["nginx.service", "cron.service"],
                                                    "disks": ["/", "/mnt/my disk"]})
    assert r.status_code == 200, r.text
    assert hub.specs["live"].services == ("nginx.service", "cron.service")
    r = await client.put("/api/servers/live", json={"services": ["nginx.service"], "disks": None})
    assert r.status_code == 200, r.text


# ------------------------------------------------------------------ the probe over real SSH
@pytest.fixture(scope="module")
def canary(sshd: SSHDServer):
    """A path the test host's unprivileged user may create (0o777 directory under the sshd's root)."""
    folder = sshd.root / f"canary-{secrets.token_hex(4)}"
    folder.mkdir()
    folder.chmod(0o777)
    yield folder / "pwned"
    shutil.rmtree(folder, ignore_errors=True)


@pytest_asyncio.fixture(scope="module", loop_scope="module")
async def ssh(sshd: SSHDServer):
    """The hub's kind of persistent connection to the test sshd, as the unprivileged test user."""
    spec = load_inventory_text(sshd.inventory_yaml("hostile-probe", timeout="20s")).resolved_hosts()[0]
    conn = HostConnection(spec)
    yield conn
    await conn.close()


@pytest.mark.asyncio(loop_scope="module")
async def test_control_an_unquoted_value_does_create_the_canary(ssh: HostConnection, canary: Path) -> None:
    """Proves the canary would catch an injection: the test user can create it over this connection."""
    assert not canary.exists()
    result = await ssh.run(f"x; touch {canary}", timeout=20)
    assert result.exit_status == 0, result.stderr
    assert canary.exists()
    canary.unlink()


POSITIONS = {
    "mount": lambda v: ["-m", v],
    "mount-among-others": lambda v: ["-g", "-m", f"/\n{v}\n/", "--", "nginx.service"],
    "unit": lambda v: ["--", v],
    "unit-among-others": lambda v: ["-m", "/", "--", "nginx.service", v, "ssh.service"],
    "first-argument": lambda v: [v],
}


@pytest.mark.asyncio(loop_scope="module")
@pytest.mark.parametrize("template", TEMPLATES, ids=IDS)
async def test_probe_passes_it_as_one_quoted_argument_and_the_canary_stays_absent(
        ssh: HostConnection, canary: Path, template: str) -> None:
    value = hostile(template, canary)
    assert str(canary) in value or CANARY not in template
    try:
        for position, make_args in POSITIONS.items():
            command = probe_command(make_args(value))
            try:
                result = await ssh.run(command, timeout=20)
            except HostError as err:
                # OpenSSH refuses an exec request holding a NUL byte and drops the connection;
                # nothing ran (the next run reconnects). Only a NUL may do that.
                assert "\x00" in value, f"{position}: {err}"
                continue
            assert not canary.exists(), f"{position}: the canary was created: {result.stdout[-500:]!r}"
            if "\x00" in value:
                continue  # the shell never saw it whole (C strings end at NUL): nothing ran at all
            out = result.stdout
            if position == "first-argument":
                # a leading '-' is the probe's "unknown option" (nothing run), else a unit name for systemctl
                assert b"<<<error>>>\nunknown option" in out or b"Id=" + value.encode() in out, out[-500:]
                continue
            assert b"<<<rc>>>" in out and b"<<<df>>>" in out, f"{position}: the probe did not run through: {out!r}"
            if position.startswith("unit"):
                # the fake systemctl prints Id=<its argument>: the value arrived intact, as one argument
                assert b"\nId=" + value.encode() + b"\n" in out, f"{position}: {out[-800:]!r}"
            else:
                assert result.exit_status != 0, f"{position}: df found a mount point named {value!r}?"
    finally:
        if canary.exists():
            canary.unlink()  # keep the other values' verdicts independent
