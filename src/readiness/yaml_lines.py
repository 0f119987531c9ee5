"""YAML that remembers where each value was written, so findings can name file:line.

PyYAML's composer already knows the line of every node; this loader keeps it
on the constructed mappings and sequences instead of throwing it away.
Anchors, aliases and merge keys (``<<``) behave as in ``yaml.safe_load``.

It is also the safe loader for hostile input: the node graph is composed
without recursion (libyaml's own composer recurses in C and crashes the
process on deep nesting), nesting is bounded, alias uses and the nodes they
add are bounded (a "billion laughs" file is refused before anything walks the
expanded tree), and a key written twice in one mapping is an error naming the
key and its line: such a file is ambiguous, so nothing over it may pass.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import yaml
from yaml.events import (
    AliasEvent,
    MappingStartEvent,
    ScalarEvent,
    SequenceStartEvent,
    StreamEndEvent,
    StreamStartEvent,
)
from yaml.nodes import MappingNode, Node, ScalarNode, SequenceNode

_Base: type = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
MERGE_TAG = "tag:yaml.org,2002:merge"


@dataclass(frozen=True)
class Limits:
    """How much structure one YAML document may have.

    ``alias_nodes`` bounds the nodes aliases add once expanded (each use of
    ``*a`` counts every node under ``&a``); Kubernetes' YAML reader refuses
    documents whose aliases expand disproportionately in the same spirit.
    """

    depth: int = 100
    aliases: int = 10_000
    alias_nodes: int = 1_000_000


DEFAULT_LIMITS = Limits()


class UnsafeYAML(yaml.MarkedYAMLError):
    """The document exceeds a limit or is ambiguous (a duplicate key). The message never quotes a value."""

    def __init__(self, problem: str, mark: Any) -> None:
        super().__init__(problem=problem, problem_mark=mark)

    def __str__(self) -> str:
        line = error_line(self)
        return f"{self.problem} (line {line})" if line else str(self.problem)


def _short(key: Any) -> str:
    text = repr(key)
    return text if len(text) <= 60 else text[:57] + "..."


class BoundedComposer:
    """An iterative composer with limits, used in place of PyYAML's (or libyaml's) own."""

    limits: Limits = DEFAULT_LIMITS

    def check_node(self) -> bool:
        if self.check_event(StreamStartEvent):  # type: ignore[attr-defined]
            self.get_event()  # type: ignore[attr-defined]
        return not self.check_event(StreamEndEvent)  # type: ignore[attr-defined]

    def get_node(self) -> Node | None:
        if not self.check_event(StreamEndEvent):  # type: ignore[attr-defined]
            return self._compose_document()
        return None

    def get_single_node(self) -> Node | None:
        self.get_event()  # type: ignore[attr-defined]
        document = None
        if not self.check_event(StreamEndEvent):  # type: ignore[attr-defined]
            document = self._compose_document()
        if not self.check_event(StreamEndEvent):  # type: ignore[attr-defined]
            event = self.get_event()  # type: ignore[attr-defined]
            raise yaml.composer.ComposerError(
                "expected a single document in the stream",
                document.start_mark if document else None,
                "but found another document",
                event.start_mark,
            )
        self.get_event()  # type: ignore[attr-defined]
        return document

    def _compose_document(self) -> Node:
        self.get_event()  # type: ignore[attr-defined]  # DocumentStartEvent
        node = self._compose_tree()
        self.get_event()  # type: ignore[attr-defined]  # DocumentEndEvent
        return node

    def _compose_tree(self) -> Node:
        """One document's node graph, built with an explicit stack; every node gets ``expanded``:
        its node count with aliases expanded, from which alias growth is bounded without expanding."""
        limits = self.limits
        get_event = self.get_event  # type: ignore[attr-defined]
        resolve = self.resolve  # type: ignore[attr-defined]
        anchors: dict[str, Node] = {}
        open_nodes: list[Node] = []  # collections not yet closed, innermost last
        pending: list[Node | None] = []  # per open mapping: its key waiting for a value
        alias_uses = alias_nodes = 0
        while True:
            event = get_event()
            kind = type(event)
            if kind is ScalarEvent or kind is SequenceStartEvent or kind is MappingStartEvent:
                anchor = event.anchor
                if anchor is not None and anchor in anchors:
                    raise yaml.composer.ComposerError(
                        f"found duplicate anchor {anchor!r}; first occurrence",
                        anchors[anchor].start_mark,
                        "second occurrence",
                        event.start_mark,
                    )
                tag = event.tag
                if kind is ScalarEvent:
                    if tag is None or tag == "!":
                        tag = resolve(ScalarNode, event.value, event.implicit)
                    node: Node = ScalarNode(tag, event.value, event.start_mark, event.end_mark, style=event.style)
                    node.expanded = 1  # type: ignore[attr-defined]
                else:
                    node_kind = SequenceNode if kind is SequenceStartEvent else MappingNode
                    if tag is None or tag == "!":
                        tag = resolve(node_kind, None, event.implicit)
                    node = node_kind(tag, [], event.start_mark, None, flow_style=event.flow_style)
                    node.expanded = 0  # type: ignore[attr-defined]
                if anchor is not None:
                    anchors[anchor] = node
                if kind is not ScalarEvent:
                    open_nodes.append(node)
                    pending.append(None)
                    if len(open_nodes) > limits.depth:
                        raise UnsafeYAML(f"nested deeper than {limits.depth} levels", event.start_mark)
                    continue
            elif kind is AliasEvent:
                node = anchors.get(event.anchor)  # type: ignore[assignment]
                if node is None:
                    raise yaml.composer.ComposerError(
                        None, None, f"found undefined alias {event.anchor!r}", event.start_mark
                    )
                if any(node is n for n in open_nodes):
                    raise UnsafeYAML("an alias refers to a node that contains it (recursive alias)", event.start_mark)
                alias_uses += 1
                alias_nodes += node.expanded  # type: ignore[attr-defined]
                if alias_uses > limits.aliases:
                    raise UnsafeYAML(f"more than {limits.aliases} alias uses", event.start_mark)
                if alias_nodes > limits.alias_nodes:
                    raise UnsafeYAML(
                        f"aliases expand to more than {limits.alias_nodes} nodes (an alias bomb?)", event.start_mark
                    )
            else:  # SequenceEndEvent or MappingEndEvent
                node = open_nodes.pop()
                pending.pop()
                node.end_mark = event.end_mark
                node.expanded += 1  # type: ignore[attr-defined]
            if not open_nodes:
                return node
            parent = open_nodes[-1]
            parent.expanded += node.expanded  # type: ignore[attr-defined]
            if type(parent) is SequenceNode:
                parent.value.append(node)
            elif pending[-1] is None:
                pending[-1] = node
            else:
                parent.value.append((pending[-1], node))
                pending[-1] = None


class LineDict(dict):
    """A mapping with ``line`` (1-based, its own) and ``key_line(key)`` for each key."""

    line: int = 0
    key_lines: dict[Any, int]

    def key_line(self, key: Any) -> int:
        return self.key_lines.get(key, self.line)


class LineList(list):
    """A sequence with ``line`` and ``item_line(index)``."""

    line: int = 0
    item_lines: list[int]

    def item_line(self, index: int) -> int:
        return self.item_lines[index] if index < len(self.item_lines) else self.line


class LineLoader(BoundedComposer, _Base):  # type: ignore[misc, valid-type]
    """The loader behind ``load``; subclass it to add tags (Compose's !reset, CloudFormation's !Ref)."""


def _reject_duplicate_keys(loader: yaml.SafeLoader, node: yaml.MappingNode) -> None:
    seen: dict[Any, int] = {}
    for key_node, _ in node.value:
        if key_node.tag == MERGE_TAG or not isinstance(key_node, ScalarNode):
            continue
        key = loader.construct_object(key_node)
        line = key_node.start_mark.line + 1
        try:
            first = seen.get(key)
        except TypeError:
            continue
        if first is not None:
            raise UnsafeYAML(
                f"duplicate key {_short(key)} (first at line {first}): the file is ambiguous", key_node.start_mark
            )
        seen[key] = line


def _mapping(loader: yaml.SafeLoader, node: yaml.MappingNode) -> LineDict:
    _reject_duplicate_keys(loader, node)
    loader.flatten_mapping(node)
    out = LineDict()
    out.line = node.start_mark.line + 1
    out.key_lines = {}
    for key_node, value_node in node.value:
        key = loader.construct_object(key_node, deep=True)
        try:
            hash(key)
        except TypeError:
            key = str(key)
        out[key] = loader.construct_object(value_node, deep=True)
        out.key_lines[key] = key_node.start_mark.line + 1
    return out


def _sequence(loader: yaml.SafeLoader, node: yaml.SequenceNode) -> LineList:
    out = LineList(loader.construct_object(child, deep=True) for child in node.value)
    out.line = node.start_mark.line + 1
    out.item_lines = [child.start_mark.line + 1 for child in node.value]
    return out


LineLoader.add_constructor(yaml.resolver.BaseResolver.DEFAULT_MAPPING_TAG, _mapping)
LineLoader.add_constructor(yaml.resolver.BaseResolver.DEFAULT_SEQUENCE_TAG, _sequence)


def load_all(text: str) -> list[Any]:
    """Every document of ``text``; raises ``yaml.YAMLError`` (with its mark) when malformed."""
    return list(yaml.load_all(text, Loader=LineLoader))


def load(text: str) -> Any:
    return yaml.load(text, Loader=LineLoader)


def error_line(exc: yaml.YAMLError) -> int | None:
    mark = getattr(exc, "problem_mark", None) or getattr(exc, "context_mark", None)
    return mark.line + 1 if mark else None
