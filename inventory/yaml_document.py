"""The inventory file as a round-trip YAML document: bytes in, edited in place, bytes out as written.

ruamel.yaml (see yaml_roundtrip.py) keeps comments, quoting, anchors and key order; this module
keeps what it does not: a UTF-8 byte order mark, CRLF line ends, and a file of comments only
(ruamel keeps none of them, so the text is kept). A file that does not parse is refused with the
loader's messages, the ones users know. No files are read or written here.
"""

from __future__ import annotations

import codecs
import io
from collections.abc import Mapping
from dataclasses import dataclass

from ruamel.yaml import YAML
from ruamel.yaml.comments import CommentedMap, CommentedSeq
from ruamel.yaml.error import YAMLError

from .errors import InventoryError, Problem
from .loader import load_inventory_text
from .yaml_roundtrip import keep_anchors, make_yaml

__all__ = ["YamlDocument", "host_index"]


@dataclass
class YamlDocument:
    """The parsed file plus what is needed to write it back the same way."""

    yaml: YAML
    data: CommentedMap
    bom: bool = False
    crlf: bool = False
    prefix: str = ""  # a file of comments only: ruamel keeps none of them, so keep the text

    @classmethod
    def parse(cls, raw: bytes | None, source: str) -> YamlDocument:
        """The document in ``raw`` (None: no file yet, an empty document); InventoryError if unusable."""
        if raw is None:
            return cls(make_yaml(""), CommentedMap())
        try:
            text = raw.decode("utf-8-sig")
        except UnicodeDecodeError as exc:  # as the loader says it
            line, bad = raw[: exc.start].count(b"\n") + 1, raw[exc.start]
            raise InventoryError([Problem(source, line, None, "",
                                          f"the file is not UTF-8 text (bad byte 0x{bad:02x})")]) from None
        crlf = "\r\n" in text
        text = text.replace("\r\n", "\n")
        ry = make_yaml(text)
        try:
            data = ry.load(text)
        except YAMLError as exc:
            load_inventory_text(text, source)  # the loader's messages are the ones users know
            raise InventoryError([Problem(source, None, None, "", f"YAML error: {exc}")]) from None
        prefix = ""
        if data is None:
            data, prefix = CommentedMap(), (text.rstrip("\n") + "\n" if text.strip() else "")
            ry.explicit_start = False  # a `---` is in the prefix already
        keep_anchors(data, set())
        if not isinstance(data, CommentedMap):
            load_inventory_text(text, source)
            raise InventoryError([Problem(source, 1, None, "", "the top level must be a mapping")])
        return cls(ry, data, bom=raw.startswith(codecs.BOM_UTF8), crlf=crlf, prefix=prefix)

    def text(self) -> str:
        """The document as YAML text with ``\\n`` line ends (what the loader checks)."""
        out = io.StringIO()
        self.yaml.dump(self.data, out)
        return self.prefix + out.getvalue()

    def encode(self, text: str) -> bytes:
        """``text`` (from :meth:`text`) as the file's bytes: its line ends and byte order mark."""
        if self.crlf:
            text = text.replace("\n", "\r\n")
        return (codecs.BOM_UTF8 if self.bom else b"") + text.encode("utf-8")

    def hosts(self, source: str, create: bool) -> CommentedSeq:
        """The ``hosts:`` list (made when ``create``; a detached empty one otherwise)."""
        hosts = self.data.get("hosts")
        if hosts is None:
            if not create:
                return CommentedSeq()
            hosts = CommentedSeq()
            hosts.fa.set_block_style()
            self.data["hosts"] = hosts
        if not isinstance(hosts, CommentedSeq):
            line = self.data.lc.key("hosts")[0] + 1 if "hosts" in self.data else None
            raise InventoryError([Problem(source, line, None, "hosts", "expected a list of hosts")])
        return hosts


def host_index(hosts: CommentedSeq, host_id: str) -> int | None:
    """Where the host with ``id: host_id`` is in the list; None if it is not."""
    for i, item in enumerate(hosts):
        if isinstance(item, Mapping) and item.get("id") == host_id:
            return i
    return None
