"""The inventory's problems on the Servers page (its form, the file's problems, a failed delete), in the page's language
(webapp/message_patterns.py).

Every message the form and the page's list of the file's problems can show from inventory/ (patterns.py,
fields.py, durations.py, paths.py, errors.py, edit_checks.py, allowlist.py, models.py, writer.py, yaml_lines.py and
the loader's own messages and wording of pydantic's errors), as a template of its English wording; `%(...)s` stands
for the values. After rewording a message in inventory/, reword its template here (and its Chinese):
tests/unit/test_inventory_words.py makes each template match a message the inventory code really produces.

Two kinds of value are worded too (`fix`): a YAML value the loader describes in words ("got the string 'x'",
inventory/loader.py `_describe`, VALUES), and a message inside a message (`%(problem)s`: the duration's problem
inside gpu_processes', the address's inside the proxy's).
"""
from __future__ import annotations

from webapp.i18n import N_
from webapp.message_patterns import Patterns

# a YAML value in words (inventory/loader.py `_describe`, inventory/alert_models.py `describe`), as in "got %(value)s"
VALUES = Patterns((
    N_("nothing (an empty value)"),
    N_("nothing"),
    N_("the boolean %(shown)s"),
    N_("the number %(shown)s"),
    N_("the string %(shown)s"),
    N_("a list"),
    N_("a mapping"),
))

TEMPLATES = (
    # inventory/patterns.py
    N_("invalid address %(value)s: allowed is a host name (letters, digits, '-', '_', '.') or an IPv4/IPv6 address"),
    N_("empty address: allowed is a host name (letters, digits, '-', '_', '.') or an IPv4/IPv6 address"),
    N_("invalid IPv4 address %(value)s"),
    N_("invalid IPv6 address %(value)s"),
    N_("invalid user name %(value)s: allowed are 1-32 letters, digits and _.- starting with a letter or '_'"),
    N_("invalid host id %(value)s: allowed are 1-63 letters, digits and ._- starting with a letter or digit"),
    N_("invalid host_key: it must be a single line"),
    N_('invalid host_key: the key data is not valid base64; expected an OpenSSH public key line like '
       '"ssh-ed25519 AAAAC3Nza..."'),
    N_("invalid host_key: the key data does not match the key type %(type)s"),
    N_('invalid host_key %(value)s: expected an OpenSSH public key line like "ssh-ed25519 AAAAC3Nza..."'),
    N_("invalid mount point %(value)s: it must start with '/'; allowed is an absolute path made of letters, "
       "digits, spaces and ._@+=:,%%~-/"),
    N_("invalid mount point %(value)s: '//' is not allowed"),
    N_("invalid mount point %(value)s: it must not end with a space"),
    N_("invalid mount point %(value)s: '.' and '..' segments are not allowed"),
    N_("invalid mount point %(value)s: allowed is an absolute path made of letters, digits, spaces and "
       "._@+=:,%%~-/"),
    N_("mount point is %(length)s characters long; at most %(most)s are allowed"),
    N_("invalid systemd unit name %(value)s: it must not start with '-'; allowed are letters, digits and :_.@- "
       "(and \\xNN escapes)"),
    N_("invalid systemd unit name %(value)s: allowed are letters, digits and :_.@- (and \\xNN escapes)"),
    N_("empty systemd unit name: allowed are letters, digits and :_.@- (and \\xNN escapes)"),
    N_("systemd unit name is %(length)s characters long; at most %(most)s are allowed"),
    N_("invalid label key %(value)s: allowed are letters, digits and _.- starting with a letter or '_' (at most 63)"),
    N_("label value %(value)s contains control characters (newline, tab, ...)"),
    N_("label value is longer than 256 characters"),
    N_("label value must be a string or a number, got %(type)s"),
    N_("invalid interface name or glob %(value)s: allowed are letters, digits, ._@- and the glob characters *?[]!"),
    N_("interface name %(value)s is %(length)s characters long; the kernel allows at most 15"),
    N_("interface glob is %(length)s characters long; at most %(most)s are allowed"),
    # inventory/fields.py, inventory/durations.py
    N_("port must be a whole number from 1 to 65535, got %(value)s"),
    N_("interval must be at least 1s, got %(value)s"),
    N_("timeout must be greater than 0, got %(value)s"),
    N_('expected a duration like "5s", "500ms", "2m", got %(value)s'),
    N_("a duration cannot be negative, got %(value)s"),
    N_("path must not be empty"),
    N_("path must not contain control characters (newline, tab, ...)"),
    N_("identity_file must be the private key, not the public key %(value)s"),
    N_('disks must be "all", "all+tmpfs" or a list of mount points like ["/", "/data"], got %(value)s'),
    N_('gpu must be "auto", "off" or "nvidia", got %(value)s (YAML reads a bare on/yes/true as a boolean)'),
    N_('gpu must be "auto", "off" or "nvidia", got %(value)s'),
    N_('gpu_processes must be a duration like "30s" or "2m", or off; %(problem)s'),
    N_("gpu_processes must be at least 5s (each read is one more nvidia-smi call, tens of ms of the host's CPU), "
       "or off; got %(value)s"),
    N_('interfaces must be a list of interface names or globs like [eth0, "en*"], got %(value)s'),
    N_('interfaces must be a list of interface names or globs like [eth0, "en*"]; leave it out to let the hub '
       'choose (empty counts nothing)'),
    # inventory/models.py ProxyConfig, inventory/patterns.py parse_host_port, inventory/allowlist.py
    N_('%(problem)s (or "builtin" for the hub\'s own HTTP CONNECT proxy)'),
    N_('invalid %(what)s %(value)s: write IPv6 addresses in brackets, expected "HOST:PORT" such as "127.0.0.1:8080" '
       'or "[::1]:8080"'),
    N_('invalid %(what)s %(value)s: expected "HOST:PORT" such as "127.0.0.1:8080" or "[::1]:8080"'),
    N_("invalid %(what)s %(value)s: the port must be a number from 1 to 65535"),
    N_("invalid remote_listen %(value)s: %(problem)s"),
    N_("invalid target %(value)s: %(problem)s"),
    N_('allow must be a list like ["pypi.org:443", "*.example.com"]'),
    N_('allow applies only to target "builtin" (an external target receives raw TCP, so restrict destinations '
       'there)'),
    N_("allowlist must be a list of strings, not a single string"),
    N_("allowlist item %(item)s: port must be a number 1-65535, got %(value)s"),
    N_("allowlist item %(item)s: expected a string like 'example.com:443'"),
    N_("allowlist item %(item)s: empty"),
    N_("allowlist item %(item)s: expected HOST, HOST:PORT or *:PORT (no scheme, path or spaces)"),
    N_("allowlist item %(item)s: bad bracketed IPv6 address"),
    N_("allowlist item %(item)s: missing host (use '*' for any host)"),
    # inventory/loader.py (the file, the YAML, pydantic's errors as the loader words them), inventory/yaml_lines.py,
    # inventory/edit_checks.py
    N_("file not found"),
    N_("the file is not UTF-8 text (bad byte 0x%(byte)s)"),
    N_("YAML syntax error: %(error)s; indent with spaces, not tabs"),
    N_("YAML syntax error: %(error)s (%(context)s on line %(line)s)"),
    N_("YAML syntax error: %(error)s"),
    N_("YAML error: control character U+%(code)s is not allowed"),
    N_("YAML error: the document is nested too deeply"),
    N_("YAML error: recursive alias on line %(line)s"),
    N_("YAML error: the file expands to more than %(most)s YAML nodes (alias bomb?)"),
    N_("YAML error: unsupported YAML tag %(tag)s"),
    N_("YAML error: %(error)s"),
    N_("no hosts: the file is empty; add a 'hosts:' list"),
    N_("no hosts: add a 'hosts:' list"),
    N_("the top level must be a mapping with the keys %(keys)s; got %(value)s"),
    N_("each host must be a mapping with at least 'id' and 'address', got %(value)s"),
    N_("duplicate host id %(id)s: first defined on line %(first)s, again on line %(line)s"),
    N_("duplicate key %(key)s (first on line %(first)s); remove one of them"),
    N_("mapping keys must be plain words, not lists or mappings"),
    N_("'<<' must refer to a mapping"),
    N_("%(key)s is not allowed: the inventory holds no secrets; fleetwatch uses key authentication only (set "
       "identity_file); allowed keys are: %(allowed)s"),
    N_("required, but missing"),
    N_("unknown key %(key)s (did you mean %(close)s?); allowed keys are: %(allowed)s"),
    N_("unknown key %(key)s; allowed keys are: %(allowed)s"),
    N_("expected a string, got %(value)s"),
    N_("expected a list, got %(value)s"),
    N_("expected a mapping (key: value), got %(value)s"),
    N_("expected true or false, got %(value)s"),
    N_("expected a non-empty string, got %(value)s"),
    N_("mapping keys must be strings, got %(key)s"),
    N_("unsupported value of type %(type)s"),
    N_("the value is nested too deeply"),
    N_("the value %(value)s would read back as %(back)s"),
    # inventory/paths.py (the key folders of web edits), inventory/errors.py, inventory/writer.py
    N_("%(field)s must lie in ~/.ssh (%(ssh)s), the data folder (%(data)s) or a --key-dir folder%(extra)s: "
       "%(path)s is outside them; copy the key into ~/.ssh or start serve with --key-dir DIR"),
    N_("%(field)s must lie in ~/.ssh (%(ssh)s), the data folder (%(data)s) or a --key-dir folder%(extra)s: "
       "%(path)s is outside them; copy the file into ~/.ssh or start serve with --key-dir DIR"),
    N_("a host with id %(id)s already exists"),
    N_("unknown host %(id)s; known hosts: (none)"),
    N_("unknown host %(id)s (did you mean %(close)s?); known hosts: %(known)s"),
    N_("unknown host %(id)s; known hosts: %(known)s"),
    N_("cannot read file: %(reason)s"),  # the reason is the operating system's ("Permission denied"): as it is
    N_("the inventory file changed while saving and the edit no longer applies: it changed %(tries)s times in a row "
       "while saving; reload and try again"),
    N_("the inventory file changed while saving and the edit no longer applies: %(problem)s; reload and try again"),
    N_("the edit was saved, but another program rewrote the inventory file at the same moment and its version could "
       "not be merged; it is kept in %(path)s: merge it by hand"),
)


def _problem(message: str) -> str:
    """A message inside a message, translated as a whole one."""
    return PROBLEMS.translate(message)


PROBLEMS = Patterns(TEMPLATES, fix={"value": VALUES.translate, "problem": _problem})
translate_problem = PROBLEMS.translate
