"""The inventory's problems on the Servers page's form, in the page's language (webapp/message_patterns.py).

Every message the form can show from inventory/ (patterns.py, fields.py, durations.py, paths.py, errors.py,
edit_checks.py and the loader's wording of pydantic's errors), as a template of its English wording; `%(...)s`
stands for the values. After rewording a message in inventory/, reword its template here (and its Chinese):
tests/unit/test_inventory_words.py makes each template match a message the inventory code really produces.
"""
from __future__ import annotations

from webapp.i18n import N_
from webapp.message_patterns import Patterns


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
    N_('gpu must be "auto", "off" or "nvidia", got %(value)s'),
    # inventory/loader.py (pydantic's errors as the loader words them), inventory/edit_checks.py
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
    N_("cannot read file: %(reason)s"),
)

PROBLEMS = Patterns(TEMPLATES)
translate_problem = PROBLEMS.translate
