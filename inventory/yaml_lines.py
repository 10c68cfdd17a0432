"""Safe YAML reading that remembers the line of every mapping key and sequence item.

``read_yaml_with_lines(text)`` returns ``(data, lines, issues)``:

* ``data``   -- plain Python objects, as ``yaml.safe_load`` would build them;
* ``lines``  -- ``{path: line}`` with 1-based lines, where ``path`` is a tuple
  such as ``("hosts", 3, "services", 1)`` (the same shape as pydantic's ``loc``);
* ``issues`` -- ``[(path, line, message)]`` for things YAML allows but we refuse
  (duplicate keys, non-scalar keys).

YAML syntax errors are raised as ``yaml.YAMLError`` with marks, as usual.
"""

from __future__ import annotations

from typing import Any

import yaml
from yaml.nodes import MappingNode, Node, ScalarNode, SequenceNode

__all__ = ["LineLoader", "read_yaml_with_lines", "YamlPath", "TooComplexError", "MAX_NODES"]

YamlPath = tuple[Any, ...]
MAX_NODES = 500_000  # guards against "billion laughs" alias expansion
_MERGE_TAG = "tag:yaml.org,2002:merge"
_PLAIN_TAGS = {"tag:yaml.org,2002:map", "tag:yaml.org,2002:seq"}


class TooComplexError(ValueError):
    pass


class _LineMixin:
    """Builds data from the composed node graph of a safe loader, keeping node marks."""

    def __init__(self, stream: str) -> None:
        super().__init__(stream)
        self.lines: dict[YamlPath, int] = {}
        self.issues: list[tuple[YamlPath, int, str]] = []
        self._nodes = 0
        self._active: set[int] = set()

    # ----------------------------------------------------------------- public
    def load_with_lines(self) -> Any:
        try:
            node = self.get_single_node()
        finally:
            self.dispose()
        if node is None:
            return None
        self.lines[()] = node.start_mark.line + 1
        return self._build(node, ())

    # ----------------------------------------------------------------- helpers
    def _build(self, node: Node, path: YamlPath) -> Any:
        self._nodes += 1
        if self._nodes > MAX_NODES:
            raise TooComplexError(f"the file expands to more than {MAX_NODES} YAML nodes (alias bomb?)")
        if isinstance(node, ScalarNode):
            return self._scalar(node)
        if node.tag not in _PLAIN_TAGS:
            raise yaml.constructor.ConstructorError(
                None, None, f"unsupported YAML tag {node.tag!r}", node.start_mark
            )
        if id(node) in self._active:
            raise TooComplexError(f"recursive alias on line {node.start_mark.line + 1}")
        self._active.add(id(node))
        try:
            if isinstance(node, MappingNode):
                return self._build_mapping(node, path)
            out = []
            for index, item in enumerate(node.value):
                self.lines.setdefault(path + (index,), item.start_mark.line + 1)
                out.append(self._build(item, path + (index,)))
            return out
        finally:
            self._active.discard(id(node))

    def _scalar(self, node: ScalarNode) -> Any:
        """The scalar's value. PyYAML's constructors raise what they meet (ValueError for `!!int x`,
        AttributeError for `!!timestamp x`, KeyError for `!!bool x`): a YAML error with its line instead."""
        try:
            return self.construct_object(node, deep=True)
        except yaml.YAMLError:
            raise
        except (ValueError, TypeError, AttributeError, KeyError, OverflowError):
            tag = node.tag.rsplit(":", 1)[-1] if node.tag.startswith("tag:yaml.org,2002:") else node.tag
            raise yaml.constructor.ConstructorError(
                None, None, f"{node.value!r} is not a valid !!{tag} value", node.start_mark) from None

    def _key(self, key_node: Node, path: YamlPath) -> tuple[bool, Any]:
        line = key_node.start_mark.line + 1
        if not isinstance(key_node, ScalarNode):
            self.issues.append((path, line, "mapping keys must be plain words, not lists or mappings"))
            return False, None
        key = self._scalar(key_node)
        try:
            hash(key)
        except TypeError:
            self.issues.append((path, line, f"unusable mapping key {key!r}"))
            return False, None
        return True, key

    def _build_mapping(self, node: MappingNode, path: YamlPath) -> dict[Any, Any]:
        result: dict[Any, Any] = {}
        first_line: dict[Any, int] = {}
        merges: list[Node] = []
        for key_node, value_node in node.value:
            if key_node.tag == _MERGE_TAG:
                merges.append(value_node)
                continue
            ok, key = self._key(key_node, path)
            if not ok:
                continue
            line = key_node.start_mark.line + 1
            if key in result:
                self.issues.append(
                    (path + (key,), line, f"duplicate key {key!r} (first on line {first_line[key]}); remove one of them")
                )
                continue
            first_line[key] = line
            self.lines[path + (key,)] = line
            result[key] = self._build(value_node, path + (key,))
        # `<<: *anchor` merge keys: explicit keys win, then earlier merge sources.
        for merge in merges:
            sources = merge.value if isinstance(merge, SequenceNode) else [merge]
            for source in sources:
                if not isinstance(source, MappingNode):
                    self.issues.append((path, merge.start_mark.line + 1, "'<<' must refer to a mapping"))
                    continue
                outer, self.lines = self.lines, {}
                try:
                    merged = self._build_mapping(source, path)
                finally:
                    inner, self.lines = self.lines, outer
                taken = {key for key in merged if key not in result}
                for key in taken:
                    result[key] = merged[key]
                depth = len(path)
                for p, line in inner.items():
                    if len(p) > depth and p[depth] in taken:
                        self.lines.setdefault(p, line)
        return result


class LineLoader(_LineMixin, yaml.SafeLoader):
    """``yaml.SafeLoader`` subclass recording the line of every mapping key and sequence item."""


_FAST = getattr(yaml, "CSafeLoader", None)
_FastLineLoader = type("_FastLineLoader", (_LineMixin, _FAST), {}) if _FAST else None


def read_yaml_with_lines(text: str) -> tuple[Any, dict[YamlPath, int], list[tuple[YamlPath, int, str]]]:
    """Parse ``text`` (safe tags only); see the module docstring for the result."""
    loader: _LineMixin
    if _FastLineLoader is not None:  # libyaml is ~5x faster on big fleets
        loader = _FastLineLoader(text)
        try:
            data = loader.load_with_lines()
            return data, loader.lines, loader.issues
        except yaml.MarkedYAMLError:
            pass  # re-read with the pure-Python parser: its messages are more precise
    loader = LineLoader(text)
    data = loader.load_with_lines()
    return data, loader.lines, loader.issues
