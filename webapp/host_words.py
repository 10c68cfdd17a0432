"""A host's last error and the events' messages, worded by the collector in English, in the page's language
(webapp/message_patterns.py).

The collector knows no web (import-linter) and words what went wrong with a host in English: a `HostError`'s
message becomes the host's `last_error` (collector/ssh_pool.py, prober.py, poller.py; the reverse forward's own
errors, collector/proxy.py), and the events are stored with their English message (collector/events.py,
gpu_events.py, the hub's proxy_up/proxy_down). The pages translate them here, where they show them (the overview's
cards, the host page, the Events page, the chart markers, discovering services); the API, the CLI, the logs and the
notifiers keep them English.

ERRORS are the host's errors, EVENTS the events' messages (host_down quotes the last error: `%(problem)s` is
translated as a whole message), PARTS the pieces the collector puts inside them (a GPU described in words, a
reason, advice). After rewording a message in collector/, reword its template here (and its Chinese):
tests/unit/test_host_words.py makes each template match a message the collector's code really produces.

Values stay as they are: addresses, host ids, paths, unit names, numbers, commands, and the texts of others (the
operating system's `strerror`, asyncssh's reason, an exception's text, nvidia-smi's model names).
"""
from __future__ import annotations

import re
from functools import lru_cache

from schema.units_format import DURATION_UNITS
from webapp.i18n import N_, current, word
from webapp.message_patterns import Patterns

ERRORS = (
    # collector/ssh_pool.py: the client key (_load_client_key), the host keys (_connect_material, _host_key_error)
    N_("identity file %(path)s not found; set identity_file for host %(id)s to its private key"),
    N_("identity_file %(path)s is not a regular file; set identity_file for host %(id)s to its private key"),
    N_("cannot read identity file %(path)s: %(reason)s; it must be readable by the hub's user (and no one else)"),
    N_("identity_file %(path)s is not a private key (or is encrypted): passphrase-protected keys are not supported; "
       "use a dedicated key without passphrase, readable only by the hub's user"),
    N_("cannot read host keys for %(id)s: %(problem)s"),
    # collector/hostkeys.py (KnownHostsError, inside "cannot read host keys for ...")
    N_("known_hosts %(path)s is not a known_hosts file: line %(line)s is not `host keytype key`; point known_hosts "
       "at an OpenSSH known_hosts file"),
    N_("known_hosts %(path)s is not a regular file; point known_hosts at an OpenSSH known_hosts file"),
    N_("cannot read known_hosts %(path)s: %(reason)s; check the file's permissions for the hub's user"),
    N_("host_key of %(id)s in the inventory is not a public key; set it to `ssh-ed25519 AAAA...` or remove it to use "
       "known_hosts"),
    # the host key: changed or unknown, pinned in the inventory or in known_hosts, with the key it offered or not
    # (with it first: "%(target)s" alone would swallow " (it offered ...)")
    N_("HOST KEY CHANGED for %(target)s (it offered %(offered)s); the key pinned in the inventory has %(expected)s. "
       "Refusing to connect: this may be an attack. If the host was reinstalled, check the new fingerprint on its "
       "console and run `fleetwatch hosts trust %(id)s --replace`."),
    N_("HOST KEY CHANGED for %(target)s; the key pinned in the inventory has %(expected)s. Refusing to connect: this "
       "may be an attack. If the host was reinstalled, check the new fingerprint on its console and run "
       "`fleetwatch hosts trust %(id)s --replace`."),
    N_("HOST KEY CHANGED for %(target)s (it offered %(offered)s); known_hosts %(path)s has %(expected)s. Refusing to "
       "connect: this may be an attack. If the host was reinstalled, check the new fingerprint on its console and "
       "run `fleetwatch hosts trust %(id)s --replace`."),
    N_("HOST KEY CHANGED for %(target)s; known_hosts %(path)s has %(expected)s. Refusing to connect: this may be an "
       "attack. If the host was reinstalled, check the new fingerprint on its console and run "
       "`fleetwatch hosts trust %(id)s --replace`."),
    N_("host key of %(target)s is not known (it offered %(offered)s): not in the key pinned in the inventory. Run "
       "`fleetwatch hosts trust %(id)s` to check and pin it."),
    N_("host key of %(target)s is not known: not in the key pinned in the inventory. Run `fleetwatch hosts trust "
       "%(id)s` to check and pin it."),
    N_("host key of %(target)s is not known (it offered %(offered)s): not in known_hosts %(path)s. Run "
       "`fleetwatch hosts trust %(id)s` to check and pin it."),
    N_("host key of %(target)s is not known: not in known_hosts %(path)s. Run `fleetwatch hosts trust %(id)s` to "
       "check and pin it."),
    # collector/ssh_pool.py classify(): the connection (a "TypeName: text" of a surprise stays English)
    N_("%(login)s refused key %(key)s; add its public key to ~%(user)s/.ssh/authorized_keys on the host (see "
       "docs/host-setup.md)"),
    N_("no answer from %(target)s within %(seconds)s s"),
    N_("cannot resolve %(address)s: %(reason)s"),
    N_("connection to %(target)s refused: is sshd running on port %(port)s?"),
    N_("cannot reach the target %(target)s: %(reason)s"),  # collector/proxy.py, before the next one
    N_("cannot reach %(target)s: %(reason)s"),
    N_("%(target)s closed the connection: %(reason)s"),
    N_("%(target)s refused a session channel: %(reason)s"),
    N_("command on %(id)s took longer than %(seconds)s s"),
    # collector/prober.py, collector/poller.py (cut at 500 characters: the second one has lost its end)
    N_("probe on %(id)s produced no usable output: it was cut at %(size)s bytes (an ordinary probe prints about "
       "3 KiB); the host is misbehaving"),
    N_("probe on %(id)s produced no usable output (%(why)s); is the login shell of the monitoring user a POSIX sh?"),
    N_("service catalog on %(id)s produced no usable output (%(size)s bytes); is the login shell of the monitoring "
       "user a POSIX sh?"),
    N_("probe of %(id)s took longer than %(seconds)s s"),
    N_("the hub could not interpret %(id)s's probe output (%(error)s)"),
    N_("the hub could not interpret %(id)s's probe output (%(error)s"),
    # collector/proxy.py: the reverse forward's last error
    N_("the SSH connection was lost; reconnecting"),
    N_("the host refused to listen on %(listen)s: the port is in use (or forwarding is not allowed for this key)"),
)

EVENTS = (
    # collector/events.py state_events (auth_failed and host_key_mismatch say the last error: ERRORS)
    N_("%(id)s is %(state)s after %(polls)s failed polls: %(problem)s"),
    N_("%(id)s is %(state)s after %(polls)s failed poll: %(problem)s"),
    N_("%(id)s is %(state)s again after %(duration)s (was %(was)s: %(problem)s)"),
    N_("%(id)s is %(state)s again (was %(was)s: %(problem)s)"),
    # collector/events.py sample_events
    N_("%(unit)s on %(id)s has failed (was %(was)s)"),
    N_("%(unit)s on %(id)s has failed"),
    N_("%(unit)s on %(id)s is active again after failing"),
    N_("%(id)s rebooted: booted at %(boot)s, up %(duration)s (previous boot %(previous)s)"),
    N_("GPU %(index)s on %(id)s at %(temp)s °C (≥ %(threshold)s °C)"),
    # collector/gpu_events.py
    N_("%(card)s is gone: nvidia-smi no longer lists it while it answers for the host. Check `dmesg` on the host for "
       "NVIDIA Xid errors (79: fallen off the bus, 48: double-bit ECC); drain its jobs, then a reset "
       "(`nvidia-smi -r -i %(index)s`) or, usually, a reboot brings it back. If it keeps happening, check the card's "
       "seating, power and cooling, or replace it."),
    N_("%(card)s is lost: nvidia-smi answers \"GPU is lost\" or [Unknown Error] for it. Check `dmesg` on the host for "
       "NVIDIA Xid errors (79: fallen off the bus, 48: double-bit ECC); drain its jobs, then a reset "
       "(`nvidia-smi -r -i %(index)s`) or, usually, a reboot brings it back. If it keeps happening, check the card's "
       "seating, power and cooling, or replace it."),
    N_("%(card)s: uncorrected ECC errors rose from %(before)s to %(after)s (since the driver loaded). Data in the "
       "card's memory was corrupted: jobs on it may have crashed or computed wrong results. Drain the card, check "
       "`nvidia-smi -q -d ECC,ROW_REMAPPER,PAGE_RETIREMENT` for pending row remaps or retired pages, and reset the "
       "GPU (or reboot) to apply them; replace the card if the count keeps rising."),
    N_("%(card)s: uncorrected ECC errors rose from %(before)s to %(after)s (over the card's life). Data in the "
       "card's memory was corrupted: jobs on it may have crashed or computed wrong results. Drain the card, check "
       "`nvidia-smi -q -d ECC,ROW_REMAPPER,PAGE_RETIREMENT` for pending row remaps or retired pages, and reset the "
       "GPU (or reboot) to apply them; replace the card if the count keeps rising."),
    N_("%(card)s has its clocks held back by %(reasons)s for %(polls)s polls in a row (now %(readings)s): jobs on it "
       "run slower. %(advice)s; `nvidia-smi -q -d PERFORMANCE` shows the reasons."),
    N_("%(card)s has its clocks held back by %(reasons)s for %(polls)s polls in a row: jobs on it run slower. "
       "%(advice)s; `nvidia-smi -q -d PERFORMANCE` shows the reasons."),
    # collector/proxy.py ProxyManager (the hub records them as events)
    N_("reverse forward %(listen)s -> %(target)s is up"),
    N_("reverse forward %(listen)s -> %(target)s is down: %(problem)s"),
)

# what the collector puts inside a message: worded by the `fix` of the placeholder that holds it
PARTS = (
    N_("no error text"),  # host_down, host_up without a last error
    N_("stopped"),  # why a reverse forward is down
    N_("exit status %(status)s, %(size)s bytes of output"),  # why a probe gave nothing, when stderr said nothing
    N_("%(value)s (not a valid time)"),  # a boot time from an absurd uptime
    # a GPU in words (gpu_events.Card.describe)
    N_("GPU %(index)s (%(name)s, %(uuid)s) on %(id)s"),
    N_("model unknown"),
    N_("no UUID"),
    # why a GPU's clocks are held back, what it reads now, what to do
    N_("thermal and HW slowdown"),
    N_("thermal"),
    N_("HW slowdown"),
    N_("SM clock %(value)s"),
    N_("memory clock %(value)s"),
    N_("Check its cooling: fans, airflow, inlet temperature, dust; HW slowdown is the board's own brake "
       "(over-temperature or power): check the power supply and cables, and the cooling"),
    N_("Check its cooling: fans, airflow, inlet temperature, dust"),
    N_("HW slowdown is the board's own brake (over-temperature or power): check the power supply and cables, and "
       "the cooling"),
)

_DURATION = re.compile(r"\d+ (?:s|min|h|d)(?: \d+ (?:s|min|h|d))?")


def _duration(text: str) -> str:
    """A duration as schema.units_format.format_duration words it in English ("3 min 20 s"), in the page's
    language ("3 分 20 秒")."""
    if not _DURATION.fullmatch(text):
        return text
    units = dict(zip(DURATION_UNITS["en"], DURATION_UNITS.get(current(), DURATION_UNITS["en"])))
    return re.sub(r"(\d+) (s|min|h|d)", lambda m: f"{m.group(1)} {units[m.group(2)]}", text)


def _part(text: str) -> str:
    return PIECES.translate(text)


def _readings(text: str) -> str:
    """"85 °C, SM clock 1410 MHz, memory clock 5000 MHz": each reading in the page's language."""
    parts = [_part(p) for p in text.split(", ")]
    return ("，" if current() == "zh" else ", ").join(parts)


def _problem(text: str) -> str:
    """A message inside a message (the last error inside host_down): a whole message, else a piece."""
    translated = MESSAGES.translate(text)
    return translated if translated != text else _part(text)


PIECES = Patterns(PARTS, fix={"name": _part, "uuid": _part})
MESSAGES = Patterns(EVENTS + ERRORS, fix={
    "problem": _problem, "state": word, "was": word, "duration": _duration, "boot": _part, "previous": _part,
    "card": _part, "why": _part, "reasons": _part, "advice": _part, "readings": _readings})


@lru_cache(maxsize=4096)
def _translated(lang: str, message: str) -> str:
    return MESSAGES.translate(message)


def translate_host_message(message: str | None) -> str | None:
    """A host's last error or an event's message in the page's language (English, None, and a message no
    template matches: unchanged). The same errors come back every poll: each is matched once per language."""
    if not message or current() == "en" or not isinstance(message, str):
        return message
    return _translated(current(), message)
