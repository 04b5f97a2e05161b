"""A small writer of DOT text, the palette and the node styles shared by the drawings.

The writer quotes every identifier and value, and emits statements in the
order they were added, so the same calls always give the same text.
"""

from __future__ import annotations

import contextlib
from collections import Counter
from dataclasses import dataclass
from typing import Iterator

from ...beans.base import BeanKind

__all__ = [
    "DotGraph", "quote", "tooltip_text", "wrap_label", "PartitionColour", "PARTITION_COLOURS", "partition_colour",
    "KIND_STYLES", "CROSS_LINK_COLOUR", "choose_rankdir",
]


def quote(text: object) -> str:
    """Return ``text`` as a double-quoted DOT string, shown literally by Graphviz.

    Backslashes are doubled, so Graphviz escapes such as ``\\N`` or ``\\l``
    in a bean label stay plain text. A newline becomes a centred line break.
    """
    escaped = str(text).replace("\\", "\\\\").replace('"', '\\"')
    return '"' + escaped.replace("\r", "").replace("\n", "\\n") + '"'


def tooltip_text(text: str) -> str:
    """Return ``text`` prepared for a ``tooltip`` attribute, to be passed through :func:`quote`.

    Graphviz unescapes tooltips once more than labels (checked with Graphviz
    14.1 in pygraphviz 2.0.4), so each backslash is doubled here as well.
    """
    return text.replace("\\", "\\\\")


def wrap_label(text: str, width: int = 30) -> list[str]:
    """Split a label into lines of about ``width`` characters, breaking after ", " only.

    A part longer than ``width`` stays on one line, so no name is cut in two.
    """
    parts = text.split(", ")
    lines: list[str] = []
    current = ""
    for index, part in enumerate(parts):
        piece = part + ("," if index < len(parts) - 1 else "")
        if current and len(current) + 1 + len(piece) > width:
            lines.append(current)
            current = piece
        else:
            current = f"{current} {piece}" if current else piece
    lines.append(current)
    return lines


def _attributes(attrs: dict[str, object]) -> str:
    pairs = [f"{name}={quote(value)}" for name, value in attrs.items() if value is not None]
    return f" [{', '.join(pairs)}]" if pairs else ""


class DotGraph:
    """DOT text of one directed graph, built statement by statement.

    Parameters
    ----------
    name : str
        Graph name, written after ``digraph``.

    Attributes
    ----------
    graph_attrs, node_attrs, edge_attrs : dict
        Attributes of the graph and defaults of its nodes and edges, written
        at the top of the text; they may change until :attr:`source` is read.
    nodes : list of str
        Node names in the order they were added.
    edges : list of tuple of str
        ``(tail, head)`` pairs in the order they were added.
    """

    def __init__(self, name: str) -> None:
        self.name = name
        self.graph_attrs: dict[str, object] = {}
        self.node_attrs: dict[str, object] = {}
        self.edge_attrs: dict[str, object] = {}
        self.nodes: list[str] = []
        self.edges: list[tuple[str, str]] = []
        self._lines: list[str] = []
        self._depth = 1

    def _emit(self, statement: str) -> None:
        self._lines.append("  " * self._depth + statement)

    def node(self, name: str, **attrs: object) -> None:
        """Add a node called ``name``, leaving out attributes set to None."""
        self.nodes.append(name)
        self._emit(f"{quote(name)}{_attributes(attrs)};")

    def edge(self, tail: str, head: str, **attrs: object) -> None:
        """Add an edge from ``tail`` to ``head`` (both node names)."""
        self.edges.append((tail, head))
        self._emit(f"{quote(tail)} -> {quote(head)}{_attributes(attrs)};")

    @contextlib.contextmanager
    def cluster(self, name: str, **attrs: object) -> Iterator[None]:
        """Open a boxed cluster; nodes added inside the ``with`` block belong to it."""
        self._emit(f"subgraph {quote('cluster_' + name)} {{")
        self._depth += 1
        for attr, value in attrs.items():
            if value is not None:
                self._emit(f"{attr}={quote(value)};")
        try:
            yield
        finally:
            self._depth -= 1
            self._emit("}")

    @property
    def source(self) -> str:
        """The DOT text."""
        header = [
            f"  {kind}{_attributes(attrs)};"
            for kind, attrs in (("graph", self.graph_attrs), ("node", self.node_attrs), ("edge", self.edge_attrs))
            if attrs
        ]
        return "\n".join([f"digraph {quote(self.name)} {{", *header, *self._lines, "}"]) + "\n"


# -- colours and styles ------------------------------------------------------------


@dataclass(frozen=True)
class PartitionColour:
    """The colours of one partition: a light ``fill`` behind black text and a darker ``line``."""

    name: str
    fill: str
    line: str


#: Partition colours, one per partition index modulo the palette length. Red is
#: left out because the distribution plan marks links between facilitators red.
PARTITION_COLOURS: tuple[PartitionColour, ...] = (
    PartitionColour("blue", "#c6dbef", "#2166ac"),
    PartitionColour("orange", "#fdd0a2", "#d95f0e"),
    PartitionColour("green", "#c7e9c0", "#238b45"),
    PartitionColour("purple", "#dadaeb", "#6a51a3"),
    PartitionColour("gold", "#fff2a8", "#a68a00"),
    PartitionColour("teal", "#b8e6e1", "#01796f"),
    PartitionColour("pink", "#fbc8e0", "#c51b7d"),
    PartitionColour("brown", "#e8d3bd", "#8c510a"),
    PartitionColour("grey", "#dcdcdc", "#525252"),
    PartitionColour("lime", "#e0f0a8", "#6b8e00"),
)

#: Colour of links between pods on different facilitators.
CROSS_LINK_COLOUR = "#d7191c"


def partition_colour(partition: int) -> PartitionColour:
    """Return the colour of ``partition``, repeating the palette after its last entry."""
    return PARTITION_COLOURS[partition % len(PARTITION_COLOURS)]


#: Node attributes per bean kind: sources are arrow boxes, operations rounded boxes, outputs cylinders.
KIND_STYLES: dict[BeanKind, dict[str, str]] = {
    BeanKind.SOURCE: {"shape": "cds", "style": "filled", "fillcolor": "#d9f2d0", "color": "#3a7d2c",
                      "margin": "0.16,0.04"},
    BeanKind.OPERATION: {"shape": "box", "style": "rounded,filled", "fillcolor": "#eef1f6", "color": "#4a5670"},
    BeanKind.OUTPUT: {"shape": "cylinder", "style": "filled", "fillcolor": "#fde2c4", "color": "#a5531a"},
}


def choose_rankdir(nodes: list[str], edges: list[tuple[str, str]]) -> str:
    """Return ``"LR"`` or ``"TB"``, whichever lays the graph out closer to a notebook's width.

    The number of ranks (longest path) and the widest rank are weighed with
    rough node sizes in inches: a rank costs about 2.0 across and 0.8 down,
    a node beside another 0.65 down in LR and 1.8 across in TB. The layout
    whose larger overflow of a 10 x 7 inch area is smaller wins.
    """
    rank = {node: 0 for node in nodes}
    incoming: dict[str, list[str]] = {node: [] for node in nodes}
    for tail, head in edges:
        incoming.setdefault(head, []).append(tail)
        rank.setdefault(tail, 0)
        rank.setdefault(head, 0)
    # Longest-path ranks by relaxation. The drawings are acyclic, and the pass
    # limit keeps a malformed (cyclic) graph from looping.
    for _ in range(len(rank)):
        changed = False
        for head, tails in incoming.items():
            best = max((rank[tail] + 1 for tail in tails), default=0)
            if best > rank[head]:
                rank[head] = best
                changed = True
        if not changed:
            break
    if not rank:
        return "LR"
    depth = max(rank.values()) + 1
    breadth = max(Counter(rank.values()).values())
    left_right = max(2.0 * depth / 10, 0.65 * breadth / 7)
    top_bottom = max(1.8 * breadth / 10, 0.8 * depth / 7)
    return "LR" if left_right <= top_bottom else "TB"
