"""Blocks: the batches of elements that travel between beans.

A stream is evaluated as a sequence of blocks. A block of samples is a 1-D
float64 numpy array. A block of windows or FFT frames is a batched class of
this package (2-D arrays inside). A block of any other element type is a
Python list. Every block supports ``len()`` and slicing; this module adds
concatenation, element iteration, per-element sample counts and a reader that
re-cuts a block stream into pieces of an exact length.
"""

from __future__ import annotations

from collections import deque
from typing import Any, Iterable, Iterator

import numpy as np

from .measure import measure

__all__ = [
    "Block",
    "concat_blocks",
    "iter_elements",
    "block_from_elements",
    "block_measures",
    "BlockReader",
    "empty_samples",
]

Block = Any


def empty_samples() -> np.ndarray:
    return np.empty(0, dtype=np.float64)


def concat_blocks(blocks: list[Block]) -> Block:
    """Join blocks of one kind into one block, in order."""
    if len(blocks) == 1:
        return blocks[0]
    first = blocks[0]
    if isinstance(first, np.ndarray):
        return np.concatenate(blocks)
    if isinstance(first, list):
        joined: list = []
        for block in blocks:
            joined.extend(block)
        return joined
    return type(first).concat(blocks)


def iter_elements(block: Block) -> Iterator[Any]:
    """Yield the elements of a block one by one (samples as Python floats)."""
    if isinstance(block, np.ndarray):
        return iter(block.tolist())
    if isinstance(block, list):
        return iter(block)
    return iter(block.elements())


def block_from_elements(elements: list, element_type: type) -> Block:
    """Build the block form of a list of elements of ``element_type``."""
    if element_type is float:
        return np.asarray(elements, dtype=np.float64).reshape(-1)
    from_elements = getattr(element_type, "block_from_elements", None)
    if from_elements is not None:
        return from_elements(elements)
    return list(elements)


def block_measures(block: Block) -> np.ndarray:
    """Return the sample count of each element of ``block`` as an int64 array."""
    if isinstance(block, np.ndarray):
        return np.ones(len(block), dtype=np.int64)
    if isinstance(block, list):
        return np.fromiter((measure(e) for e in block), dtype=np.int64, count=len(block))
    return block.measures()


class BlockReader:
    """Read exact numbers of elements from an iterator of blocks of any sizes.

    Beans with two inputs, or with element budgets (trim, projection), use it
    so that their result does not depend on how the input was cut into blocks.
    """

    def __init__(self, blocks: Iterable[Block]) -> None:
        self._source = iter(blocks)
        self._pending: deque[Block] = deque()
        self._buffered = 0
        self._exhausted = False

    def _pull(self) -> bool:
        if self._exhausted:
            return False
        for block in self._source:
            if len(block):
                self._pending.append(block)
                self._buffered += len(block)
                return True
        self._exhausted = True
        return False

    @property
    def buffered(self) -> int:
        """Number of elements read from the source and not yet returned."""
        return self._buffered

    def at_end(self) -> bool:
        """Return True when no element is left, pulling from the source if needed."""
        return self._buffered == 0 and not self._pull()

    def read_block(self) -> Block | None:
        """Return the next pending block as the source cut it, or None at the end."""
        if self._buffered == 0 and not self._pull():
            return None
        block = self._pending.popleft()
        self._buffered -= len(block)
        return block

    def read(self, count: int) -> Block | None:
        """Return the next ``count`` elements, fewer at the end, or None when nothing is left."""
        while self._buffered < count and self._pull():
            pass
        if self._buffered == 0:
            return None
        parts = []
        wanted = count
        while wanted > 0 and self._pending:
            block = self._pending[0]
            if len(block) <= wanted:
                parts.append(self._pending.popleft())
                wanted -= len(block)
            else:
                parts.append(block[:wanted])
                self._pending[0] = block[wanted:]
                wanted = 0
        taken = count - wanted
        self._buffered -= taken
        return concat_blocks(parts)

    def read_up_to(self, count: int) -> Block | None:
        """Return at most ``count`` elements that are already buffered or in the next block."""
        if self._buffered == 0 and not self._pull():
            return None
        return self.read(min(count, self._buffered))
