"""A host's last error and the events' messages, worded by the collector in English, translated on the web side by
pattern (webapp/host_words.py): each template matches a message the collector's code really produces, each such
message matches a template (a reworded message fails here), the Chinese leaves no English words beyond the values,
English and unknown messages pass through."""
from __future__ import annotations

import asyncio
import re
from pathlib import Path
from types import SimpleNamespace

import asyncssh
import pytest

from collector import hostkeys, poller as poller_module, ssh_pool
from collector.backoff import Backoff
from collector.errors import Failure, HostError
from collector.events import EventDeduper, HostSnapshot, sample_events, state_events
from collector.gpu_events import Card, gpu_health_events
from collector.host_state import HostStatus, on_failure, on_success
from collector.prober import MAX_PROBE_OUTPUT, catalog_from_output, probe_once
from collector.proxy import HostProxy, ProxyManager
from collector.ssh_pool import CommandResult, HostConnection, classify
from inventory import load_inventory
from webapp import i18n
from webapp.host_words import EVENTS, ERRORS, MESSAGES, PARTS, PIECES, translate_host_message

NOW = 1_700_000_000.0
# words that stay as they are in Chinese: programs, formats, protocols, what nvidia-smi says
KEPT = {"sshd", "OpenSSH", "POSIX", "sh", "KiB", "SSH", "UUID", "GPU", "ECC", "SM", "MHz", "NVIDIA", "Xid", "nvidia",
        "smi", "shell", "known_hosts", "host_key", "identity_file"}


# --------------------------------------------------------------------------- real messages
def _spec(tmp: Path, **fields):
    """A host as the inventory resolves it (fields: its YAML keys)."""
    fields = {"known_hosts": tmp / "known_hosts", "identity_file": tmp / "id_ed25519", **fields}
    extra = "".join(f"    {k}: {v}\n" for k, v in fields.items())
    path = tmp / "hosts.yaml"
    path.write_text(f"hosts:\n  - id: gpu-07\n    address: 10.0.0.7\n    user: monitor\n{extra}")
    return load_inventory(path).host("gpu-07")


def _host_error(fn, *args) -> str:
    with pytest.raises(HostError) as info:
        fn(*args)
    return info.value.message


def key_messages(tmp: Path, monkeypatch) -> list[str]:
    """ssh_pool._connect_material: the client key and the known host keys, each way they can be unusable."""
    key = asyncssh.generate_private_key("ssh-ed25519")
    good = tmp / "good_key"
    good.write_bytes(key.export_private_key())
    junk = tmp / "junk"
    junk.write_text("junk\n")  # neither a private key nor a known_hosts line
    (tmp / "folder").mkdir()
    out = [_host_error(ssh_pool._connect_material, _spec(tmp, identity_file=path))
           for path in (tmp / "missing", tmp / "folder", junk / "child", junk)]
    out += [_host_error(ssh_pool._connect_material, _spec(tmp, identity_file=good, known_hosts=path))
            for path in (tmp / "folder", junk)]
    broken = _spec(tmp, identity_file=good).model_copy(update={"host_key": "ssh-ed25519 AAAAjunk"})
    out.append(_host_error(ssh_pool._connect_material, broken))
    unreadable = tmp / "known_hosts_unreadable"
    unreadable.write_text("")
    spec = _spec(tmp, identity_file=good, known_hosts=unreadable)
    real_read = Path.read_bytes

    def refuse(self):  # the tests run as root: no file mode keeps it out
        if self == unreadable:
            raise PermissionError(13, "Permission denied")
        return real_read(self)
    monkeypatch.setattr(Path, "read_bytes", refuse)
    out.append(_host_error(ssh_pool._connect_material, spec))
    monkeypatch.undo()
    return out


def host_key_messages(tmp: Path) -> list[str]:
    """ssh_pool._host_key_error: changed or unknown, pinned or in known_hosts, with the key offered or not."""
    pinned, offered = (asyncssh.generate_private_key("ssh-ed25519") for _ in range(2))
    known = tmp / "known_hosts_kh"
    known.write_text(f"10.0.0.7 {hostkeys.public_key_line(pinned)}\n")
    client = ssh_pool._Client()
    client.validate_host_public_key("10.0.0.7", "10.0.0.7", 22, offered)
    specs = [_spec(tmp, host_key=f"'{hostkeys.public_key_line(pinned)}'"), _spec(tmp, known_hosts=known),
             _spec(tmp).model_copy(update={"host_key": "junk"}), _spec(tmp, known_hosts=tmp / "none")]
    return [ssh_pool._host_key_error(spec, c, None).message for spec in specs for c in (client, ssh_pool._Client())]


def connection_messages(tmp: Path) -> list[str]:
    """ssh_pool.classify() of what connecting and opening a channel raise, and a command that ran too long."""
    spec = _spec(tmp, timeout="5s")
    raised = [asyncssh.PermissionDenied("no more auth methods"), TimeoutError(),
              ssh_pool.socket.gaierror(-2, "Name or service not known"),  # the exception type only: EAI_NONAME
              ConnectionRefusedError(111, "Connection refused"), OSError(113, "No route to host"),
              asyncssh.ConnectionLost("Connection lost"), asyncssh.DisconnectError(11, "bye"),
              asyncssh.ChannelOpenError(2, "open failed")]
    out = [classify(exc, spec).message for exc in raised]

    class Conn:
        def is_closed(self):
            return False

        async def create_process(self, *args, **kwargs):
            await asyncio.sleep(10)

    conn = HostConnection(spec)
    conn._conn = Conn()
    with pytest.raises(HostError) as info:
        asyncio.run(conn.run("true", timeout=0.01))
    return out + [info.value.message]


class _FakeConn:
    """What probe_once and the poller need of a HostConnection: its spec and `run`."""

    def __init__(self, spec, result: CommandResult | None = None):
        self.spec, self.result, self.connected, self.connects = spec, result, True, 1

    async def run(self, command, *, timeout=None, max_output=0):
        if self.result is None:
            await asyncio.sleep(10)
        return self.result


def probe_messages(tmp: Path, monkeypatch) -> list[str]:
    """prober.py (a probe or the service catalog with nothing usable) and poller.py (too slow, uninterpretable)."""
    spec = _spec(tmp, gpu="off", timeout="50ms")
    out = []
    for result in (CommandResult(b"", b"sh: 1: syntax error\n", 2, False, 0.1),
                   CommandResult(b"", b"", 127, False, 0.1),
                   CommandResult(b"x" * MAX_PROBE_OUTPUT, b"", 0, True, 0.1)):
        with pytest.raises(HostError) as info:
            asyncio.run(probe_once(_FakeConn(spec, result)))
        out.append(info.value.message)
    out.append(_host_error(catalog_from_output, "gpu-07", b"%PATH%\r\n"))

    class Writer:
        def set_host(self, host_id, **fields):
            self.error = fields["last_error"]

    def poll(conn, **patches) -> str:
        writer = Writer()
        with monkeypatch.context() as m:
            for name, value in patches.items():
                m.setattr(poller_module, name, value)
            asyncio.run(poller_module.Poller(writer, EventDeduper()).poll(conn))
        return writer.error

    out.append(poll(_FakeConn(spec), GRACE_S=0.01))
    reading = SimpleNamespace(get=lambda name: None, errors={})

    async def read(*args, **kwargs):
        return reading

    def cannot(text):
        def build(*args, **kwargs):
            raise ValueError(text)
        return build
    out.append(poll(_FakeConn(spec), probe_once=read, build_report=cannot("could not convert 'x' to float")))
    out.append(poll(_FakeConn(spec), probe_once=read, build_report=cannot("x" * 600)))  # cut at 500 characters
    return out


def proxy_messages(tmp: Path) -> list[str]:
    """collector/proxy.py: the forward's last errors as the host page shows them, and its proxy_up/proxy_down
    events as the hub records them (ProxyManager)."""
    spec = _spec(tmp, proxy="{enabled: true, remote_listen: '127.0.0.1:18080', target: '127.0.0.1:1'}")
    errors, events = [], []

    class Ssh:
        def __init__(self, listens: bool, closes: asyncio.Event | None = None):
            self.listens, self.closes = listens, closes

        async def start_server(self, *args, **kwargs):
            if not self.listens:
                raise asyncssh.ChannelListenError("port in use")

        async def wait_closed(self):
            if self.closes is not None:
                await self.closes.wait()

    class Conn:
        def __init__(self, steps):
            self.steps = steps

        async def ensure_connected(self):
            step = self.steps.pop(0)
            if isinstance(step, Exception):
                raise step
            return step

    manager = ProxyManager(None, on_event=lambda host, kind, message: events.append(message))

    async def run():
        refused = HostError(Failure.UNREACHABLE, classify(ConnectionRefusedError(), spec).message)
        conn = Conn([refused, Ssh(False), Ssh(True), Ssh(True, asyncio.Event())])
        proxy = HostProxy("gpu-07", spec.proxy, conn, on_change=manager._changed,
                          backoff=Backoff(base=0.001, cap=0.001))
        set_status = proxy._set

        def noted(state, **changes):  # every last error the status takes, as the host page would show it
            errors.append(changes.get("last_error"))
            set_status(state, **changes)
        proxy._set = noted
        proxy.start()
        while proxy.status.state != "up" or conn.steps:
            await asyncio.sleep(0.005)
        await proxy._serve(None, None)  # the target refuses: the forward stays up, its last error says why
        await proxy.stop()

    asyncio.run(run())
    return [e for e in errors if e] + events


def event_messages(tmp: Path) -> list[str]:
    """collector/events.py and gpu_events.py, from states and snapshots as the poller feeds them."""
    refused = classify(ConnectionRefusedError(), _spec(tmp)).message
    up = HostStatus("up", None, NOW - 100, NOW - 1000)
    status, out = up, []
    for i in range(3):  # three failed polls: host_down
        prev, status = status, on_failure(status, Failure.UNREACHABLE, refused, NOW + i)
        out += [e.message for e in state_events("gpu-07", prev, status, NOW + i)]
    back = on_success(status, degraded=False, error_text=None, now=NOW + 200)
    out += [e.message for e in state_events("gpu-07", status, back, NOW + 200)]  # host_up after 5 min
    locked = HostStatus("auth_failed", None, None, None)
    once = on_failure(locked, Failure.UNREACHABLE, refused, NOW)
    out += [e.message for e in state_events("gpu-07", locked, once, NOW)]  # unreachable after 1 failed poll
    out += [e.message for e in state_events("gpu-07", HostStatus("down", None, None, None), up, NOW)]  # no error
    denied = classify(asyncssh.PermissionDenied("no"), _spec(tmp)).message
    out += [e.message for e in state_events("gpu-07", up, on_failure(up, Failure.AUTH_FAILED, denied, NOW), NOW)]

    def snap(ts, uptime, services=None, temps=None) -> HostSnapshot:
        return HostSnapshot.of(ts, uptime, services or {}, temps or {})
    before = snap(NOW, 5000.0, {"nginx.service": "active", "db.service": "failed", "new.service": "failed"},
                  {0: 60.0})
    after = snap(NOW + 5, 10.0, {"nginx.service": "failed", "db.service": "active", "x.service": "failed"},
                 {0: 85.0})
    out += [e.message for e in sample_events("gpu-07", before, after, NOW + 5)]  # failed, recovered, reboot, hot
    absurd = snap(NOW + 10, float("inf"))
    out += [e.message for e in sample_events("gpu-07", absurd, snap(NOW + 15, 1e20), NOW + 15)]  # not valid times

    a100, nameless = "NVIDIA A100-SXM4-80GB", None  # a card nvidia-smi names, one it does not (nor its UUID)
    before = (Card(0, "GPU-aaaa0000", a100, ecc_volatile=0, thermal=True, hw_slowdown=False, throttled_polls=1),
              Card(1, None, nameless, ecc_aggregate=1, thermal=True, hw_slowdown=True, throttled_polls=1),
              Card(2, "GPU-cccc2222", a100))
    after = (Card(0, "GPU-aaaa0000", a100, ecc_volatile=3, thermal=True, hw_slowdown=False, temperature_c=91.0,
                  sm_clock_mhz=900.0, mem_clock_mhz=1593.0),
             Card(1, None, nameless, ecc_aggregate=4, thermal=True, hw_slowdown=True))  # card 2 is gone
    out += [e.message for e in gpu_health_events("gpu-07", before, after, NOW)]  # ECC both ways, throttled, gone
    before = (Card(0, "GPU-aaaa0000", a100), Card(1, None, nameless, thermal=False, hw_slowdown=False,
                                                  throttled_polls=1))
    after = (Card(0, "GPU-aaaa0000", a100, lost=True), Card(1, None, nameless, thermal=False, hw_slowdown=True))
    out += [e.message for e in gpu_health_events("gpu-07", before, after, NOW)]  # lost, throttled by HW slowdown
    return out


def real_messages(tmp: Path, monkeypatch) -> list[str]:
    return (key_messages(tmp, monkeypatch) + host_key_messages(tmp) + connection_messages(tmp)
            + probe_messages(tmp, monkeypatch) + proxy_messages(tmp) + event_messages(tmp))


# --------------------------------------------------------------------------- the checks
def _english_left(text: str, values) -> set[str]:
    for value in sorted(values, key=len, reverse=True):
        text = text.replace(value, " ")
    text = re.sub(r"`[^`]*`|\"[^\"]*\"|\[[^\]]*\]|\S*/\S*", " ", text)  # commands, nvidia-smi's words, paths
    return set(re.findall(r"[A-Za-z_]*[A-Za-z]{2,}[A-Za-z_]*", text)) - KEPT


def _leaves(values: dict[str, str], used: set[str]) -> list[str]:
    """The values as they stand in the Chinese: a value the table words itself (a message or a piece inside the
    message, whose template counts as used) stands for the values inside it."""
    out = []
    for name, value in values.items():
        for part in value.split(", ") if name == "readings" else [value]:  # a GPU's readings, each worded
            inner = MESSAGES.match(part) or PIECES.match(part)
            if inner is not None:
                used.add(inner[0])
                out += _leaves(inner[1], used)
            else:
                out.append(part)
    return out


@pytest.fixture(scope="module")
def messages(tmp_path_factory) -> list[str]:
    monkeypatch = pytest.MonkeyPatch()
    try:
        return real_messages(tmp_path_factory.mktemp("host_words"), monkeypatch)
    finally:
        monkeypatch.undo()


def _unworded(message: str, used: set[str]) -> str | None:
    """What is wrong with this message's Chinese (None: nothing); its template (and those inside) count as used."""
    found = MESSAGES.match(message)
    if found is None:
        return f"no template for {message!r}"
    used.add(found[0])
    zh = translate_host_message(message)
    left = _english_left(zh, _leaves(found[1], used))
    if zh == message or not re.search("[\u4e00-\u9fff]", zh) or left:
        return f"{message!r} reads {zh!r} (English left: {sorted(left)})"
    return None


def test_every_template_matches_a_real_message_and_reads_as_chinese(messages):
    used: set[str] = set()
    token = i18n.activate("zh")
    try:
        wrong = [problem for problem in (_unworded(m, used) for m in messages) if problem]
    finally:
        i18n.deactivate(token)
    assert wrong == []
    assert set(ERRORS + EVENTS + PARTS) - used == set(), "templates no real message matched"


def test_english_and_unknown_messages_pass_through(tmp_path):
    refused = classify(ConnectionRefusedError(), _spec(tmp_path, port=45325)).message
    assert refused == "connection to 10.0.0.7:45325 refused: is sshd running on port 45325?"
    assert translate_host_message(refused) == refused  # English (the default language)
    assert translate_host_message(None) is None
    token = i18n.activate("zh")
    try:
        assert translate_host_message(refused) == "连接 10.0.0.7:45325 被拒绝：端口 45325 上的 sshd 在运行吗？"
        assert translate_host_message("ValueError: odd") == "ValueError: odd"  # a surprise's own words
        assert translate_host_message("nvidia: nvidia-smi failed") == "nvidia: nvidia-smi failed"
        assert translate_host_message(None) is None and translate_host_message("") == ""
    finally:
        i18n.deactivate(token)


def test_nested_messages_states_durations_and_the_system_s_words_read_as_chinese(tmp_path):
    token = i18n.activate("zh")
    try:
        assert translate_host_message(
            "gpu-07 is unreachable after 3 failed polls: cannot reach 10.0.0.7:22: No route to host") == \
            "gpu-07 连续 3 次轮询失败，状态为不可达：无法连接 10.0.0.7:22：No route to host"
        assert translate_host_message(
            "gpu-07 is up again after 3 min 20 s (was down: no answer from 10.0.0.7:22 within 5 s)") == \
            "gpu-07 在 3 分 20 秒后恢复为正常（此前为宕机：等待 10.0.0.7:22 应答超时（5 秒））"
        assert translate_host_message("gpu-07 is degraded again (was unreachable: no error text)") == \
            "gpu-07 已恢复为降级（此前为不可达：无错误信息）"
        assert translate_host_message("nginx.service on gpu-07 has failed (was active)") == \
            "gpu-07 上的服务 nginx.service 失败（此前为运行中）"
        assert translate_host_message("reverse forward 127.0.0.1:8080 -> builtin is down: stopped") == \
            "反向转发 127.0.0.1:8080 -> builtin 已中断：已停止"
        assert translate_host_message("cannot resolve gpu-07.lan: Name or service not known") == \
            "无法解析 gpu-07.lan：Name or service not known"
    finally:
        i18n.deactivate(token)


def test_a_card_and_the_host_page_show_the_error_in_the_page_language(tmp_path):
    """The overview's card (built under the page's language) and the host page's filter; the access hint still
    reads the English message (it tells a changed host key from an unknown one)."""
    from schema.fleet import HostNow
    from webapp.fleet_view import host_card
    from webapp.templating import templates

    spec = _spec(tmp_path)
    changed = ssh_pool._host_key_error(_spec(tmp_path, known_hosts=_known(tmp_path)), ssh_pool._Client(), None).message
    status = HostNow(id="gpu-07", state="host_key_mismatch", last_error=changed)
    english = host_card(spec, status)
    assert english.last_error == changed and english.conditions[0].title == changed
    token = i18n.activate("zh")
    try:
        card = host_card(spec, status)
        assert card.last_error.startswith("警告：10.0.0.7:22 的主机密钥已变更") and card.conditions[0].title == card.last_error
        assert card.access_hint.startswith("其主机密钥已变更") and card.access_hint.endswith("--replace")
        assert templates.env.from_string("{{ e|host_message }}").render(e=changed) == card.last_error
    finally:
        i18n.deactivate(token)


def _known(tmp: Path) -> Path:
    known = tmp / "known_hosts_changed"
    known.write_text(f"10.0.0.7 {hostkeys.public_key_line(asyncssh.generate_private_key('ssh-ed25519'))}\n")
    return known
