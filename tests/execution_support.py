"""Helpers for the execution-engine tests: a collecting output and exact comparison of results."""

from __future__ import annotations

from typing import Any, Iterator

import numpy as np

from wavebeans_nb.beans.base import Stream
from wavebeans_nb.beans.blocks import Block, iter_elements
from wavebeans_nb.beans.outputs.base import Output, Writer


class _CollectWriter(Writer):
    def __init__(self, output: "CollectOutput", blocks: Iterator[Block], sample_rate: float) -> None:
        super().__init__(output, blocks, sample_rate)
        self.collected: list = []

    def _write_block(self, block: Block) -> None:
        self.collected.append(block)

    def _commit(self) -> None:
        self.output.params["sink"][self.output.params["name"]] = self.collected

    def _discard(self) -> None:
        self.output.params["sink"].setdefault("aborted", []).append(self.output.params["name"])


class CollectOutput(Output):
    """Keeps every block it writes and stores the list in ``sink[name]`` when committed.

    An aborted run appends ``name`` to ``sink["aborted"]`` instead. The sink
    dict travels as a parameter, so a bean rebuilt inside a pod in this
    process writes to the same dict.
    """

    def __init__(self, input: Stream, *, sink: dict, name: str) -> None:
        super().__init__(input, sink=sink, name=name)

    def label(self) -> str:
        return f"collect({self.params['name']})"

    def _make_writer(self, blocks: Iterator[Block], sample_rate: float) -> Writer:
        return _CollectWriter(self, blocks, sample_rate)


def collect(stream: Stream, sink: dict, name: str) -> CollectOutput:
    """Return an output that collects ``stream`` into ``sink[name]``."""
    return CollectOutput(stream, sink=sink, name=name)


def comparable(element: Any) -> Any:
    """Return a hashable, exactly comparable form of an element (bit patterns for arrays)."""
    if isinstance(element, np.ndarray):
        return ("array", element.dtype.str, element.shape, element.tobytes())
    if isinstance(element, (float, np.floating)):
        return ("float", np.float64(element).tobytes())
    if isinstance(element, (list, tuple)):
        return tuple(comparable(item) for item in element)
    if isinstance(element, (int, str, bool, type(None))):
        return element
    slots = getattr(type(element), "__slots__", None)
    names = list(slots) if slots else sorted(vars(element))
    return (type(element).__qualname__,) + tuple(comparable(getattr(element, name)) for name in names)


def elements_of(blocks: list) -> list:
    """Return the comparable elements of a list of blocks."""
    return [comparable(element) for block in blocks for element in iter_elements(block)]


def as_samples(blocks: list) -> np.ndarray:
    """Join sample blocks into one float64 array."""
    if not blocks:
        return np.empty(0)
    return np.concatenate([np.asarray(block, dtype=np.float64) for block in blocks])


def assert_same_stream(expected: list, actual: list, name: str) -> None:
    """Assert that two collected block lists hold the same elements, bit for bit."""
    if all(isinstance(block, np.ndarray) for block in expected + actual):
        left, right = as_samples(expected), as_samples(actual)
        assert left.shape == right.shape, f"{name}: {right.shape[0]} samples, expected {left.shape[0]}"
        assert np.array_equal(left, right, equal_nan=True), f"{name}: samples differ"
        return
    left, right = elements_of(expected), elements_of(actual)
    assert len(left) == len(right), f"{name}: {len(right)} elements, expected {len(left)}"
    mismatch = next((i for i, (a, b) in enumerate(zip(left, right)) if a != b), None)
    assert mismatch is None, f"{name}: element {mismatch} differs"
