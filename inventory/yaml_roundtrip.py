"""Round-trip YAML editing for the inventory writer: values as the user would write them, comments kept.

ruamel.yaml keeps comments, quoting, anchors and key order, but it does not know that
the loader reads YAML 1.1 (PyYAML) nor which comment lines belong to which host; these
helpers fill that gap. Pure functions on ruamel nodes, no files.
"""
from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

import yaml
from ruamel.yaml import YAML
from ruamel.yaml.comments import CommentedMap, CommentedSeq
from ruamel.yaml.error import CommentMark
from ruamel.yaml.scalarstring import DoubleQuotedScalarString
from ruamel.yaml.tokens import CommentToken

_PLAIN_OK = re.compile(r"[A-Za-z0-9_./~+][A-Za-z0-9_./~+@ -]*")
_PYYAML_RESOLVER = yaml.resolver.Resolver()


def same(a: Any, b: Any) -> bool:
    """Equal and of the same kind (``True`` is not ``1``; ruamel's string subclasses are strings)."""
    if isinstance(a, bool) or isinstance(b, bool):
        return isinstance(a, bool) and isinstance(b, bool) and a == b
    if isinstance(a, Mapping) and isinstance(b, Mapping):
        return a.keys() == b.keys() and all(same(a[k], b[k]) for k in a)
    if isinstance(a, (list, tuple)) and isinstance(b, (list, tuple)):
        return len(a) == len(b) and all(same(x, y) for x, y in zip(a, b))
    if isinstance(a, str) or isinstance(b, str):
        return isinstance(a, str) and isinstance(b, str) and str(a) == str(b)
    if isinstance(a, (int, float)) and isinstance(b, (int, float)):
        return a == b
    return a is None and b is None


def keep_anchors(node: Any, seen: set[int]) -> None:
    # ruamel drops an anchor once nothing refers to it; the user wrote it, so keep it.
    if id(node) in seen:
        return
    seen.add(id(node))
    anchor = getattr(node, "anchor", None)
    if anchor is not None and getattr(anchor, "value", None):
        anchor.always_dump = True
    if isinstance(node, CommentedMap):
        for value in node.values():
            keep_anchors(value, seen)
    elif isinstance(node, CommentedSeq):
        for value in node:
            keep_anchors(value, seen)


def assign(node: CommentedMap, key: str, value: Any) -> None:
    """Set ``node[key]``; unchanged values keep their quoting, mappings are edited in place."""
    own = dict(node.non_merged_items())
    old = own.get(key)
    if key in own and same(old, value):
        return
    if isinstance(old, CommentedMap) and isinstance(value, Mapping):
        for k in [k for k, _ in old.non_merged_items() if k not in value]:
            del old[k]
        for k, v in value.items():
            assign(old, k, v)
        return
    node[key] = to_node(value, like=old)


def to_node(value: Any, like: Any = None, block: bool = False) -> Any:
    """JSON value -> ruamel node; scalar-only collections in flow style like the SPEC's examples."""
    if isinstance(value, Mapping):
        node: Any = CommentedMap((scalar(k), to_node(v)) for k, v in value.items())
    elif isinstance(value, (list, tuple)):
        node = CommentedSeq(to_node(v) for v in value)
    elif isinstance(value, str):
        return scalar(value)
    else:
        return value
    simple = all(not isinstance(v, (Mapping, list, tuple)) for v in (value.values() if isinstance(value, Mapping) else value))
    if isinstance(like, (CommentedMap, CommentedSeq)) and like.fa.flow_style() is False:
        simple = False  # the user wrote this one in block style
    if simple and not block:
        node.fa.set_flow_style()
    else:
        node.fa.set_block_style()
    return node


def scalar(text: str) -> str:
    """Quote strings that PyYAML (YAML 1.1, used by the loader) would read as something else."""
    tag = _PYYAML_RESOLVER.resolve(yaml.ScalarNode, text, (True, False))
    if tag == "tag:yaml.org,2002:str" and _PLAIN_OK.fullmatch(text) and not text.endswith(" "):
        return text
    return DoubleQuotedScalarString(text)


# --------------------------------------------------------------------------- comments
# ruamel stores the comment lines *after* a node on the end-of-line comment of its last
# scalar; so the lines just above host N+1 hang off host N. These helpers move them.
def comment_spine(node: Any) -> list[tuple[dict[Any, Any], Any, int]]:
    out: list[tuple[dict[Any, Any], Any, int]] = []
    while isinstance(node, (CommentedMap, CommentedSeq)) and len(node):
        if isinstance(node, CommentedMap):
            keys = [k for k, _ in node.non_merged_items()]
            if not keys:
                break
            key, slot = keys[-1], 2
        else:
            key, slot = len(node) - 1, 0
        out.append((node.ca.items, key, slot))
        child = node[key]
        if not isinstance(child, (CommentedMap, CommentedSeq)) or child.fa.flow_style():
            break
        node = child
    return out


def take_following(node: Any) -> str:
    """Cut and return the comment lines that follow ``node`` (its end-of-line comment stays)."""
    taken = ""
    for items, key, slot in comment_spine(node):
        entry = items.get(key)
        token = entry[slot] if entry and len(entry) > slot else None
        if not isinstance(token, CommentToken):
            continue
        head, sep, rest = token.value.partition("\n")
        if rest:
            taken += rest
            if head.strip():
                token.value = head + sep
            else:
                entry[slot] = None
    return taken


def put_following(node: Any, text: str) -> None:
    spine = comment_spine(node)
    if not text or not spine:
        return
    items, key, slot = spine[-1]
    entry = items.setdefault(key, [None, None, None, None])
    token = entry[slot] if len(entry) > slot else None
    if isinstance(token, CommentToken):
        token.value = token.value.partition("\n")[0] + "\n" + text
    else:
        entry[slot] = CommentToken("\n" + text, CommentMark(0))


def replace_first_lead(data: CommentedMap, text: str) -> None:
    """The comment above the first host belongs to the ``hosts:`` key; swap in ``text``."""
    entry = data.ca.items.setdefault("hosts", [None, None, None, None])
    hosts = data.get("hosts")
    entry[3] = None
    if isinstance(hosts, CommentedSeq) and hosts.ca.comment and len(hosts.ca.comment) > 1:
        hosts.ca.comment[1] = None  # a copy of entry[3]; setting .comment to None would drop .end
    token = entry[2] if isinstance(entry[2], CommentToken) else None
    head = token.value.partition("\n")[0] if token else ""
    if head.strip() or text:
        entry[2] = CommentToken(head + "\n" + text, CommentMark(token.column if token else 0))
    else:
        entry[2] = None


def take_end_comments(hosts: CommentedSeq) -> str:
    end = getattr(hosts.ca, "end", None) or []
    hosts.ca.end = []
    return "".join(" " * (t.column or 0) + t.value if t.value.strip() else t.value for t in end)


# --------------------------------------------------------------------------- YAML setup and files
def make_yaml(text: str) -> YAML:
    ry = YAML(typ="rt")
    ry.preserve_quotes = True
    ry.width = 4096  # never re-fold the user's long lines
    ry.indent(**guess_indent(text))
    first = next((s for s in (ln.strip() for ln in text.splitlines()) if s and not s.startswith("#")), "")
    ry.explicit_start = first.startswith("---")
    return ry


def guess_indent(text: str) -> dict[str, int]:
    """Mapping indent and list dash offset as the file uses them (default: the example's 2/4/2)."""
    mapping = offset = sequence = None
    prev: tuple[int, bool] | None = None  # (column of the key, line opens a block)
    for raw in text.splitlines():
        stripped = raw.strip()
        if not stripped or stripped.startswith("#") or stripped in ("---", "..."):
            continue
        col = len(raw) - len(raw.lstrip(" "))
        inner, inner_col = raw.lstrip(" "), col
        while inner == "-" or inner.startswith("- "):
            rest = inner[1:].lstrip(" ")
            inner_col += len(inner) - len(rest)
            inner = rest
        if prev is not None and prev[1]:
            if stripped == "-" or stripped.startswith("- "):
                if offset is None and col >= prev[0] and inner:
                    offset, sequence = col - prev[0], inner_col - prev[0]
            elif mapping is None and col > prev[0]:
                mapping = col - prev[0]
        if mapping is not None and offset is not None:
            break
        opens = re.sub(r"\s+#.*$", "", inner).endswith(":")
        prev = (inner_col, opens)
    if offset is None or sequence is None or sequence < offset + 2:
        offset, sequence = 2, 4
    return {"mapping": mapping or 2, "sequence": sequence, "offset": offset}
