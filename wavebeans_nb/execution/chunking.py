"""Cutting a pod's output blocks into numbered chunks."""

from __future__ import annotations

from collections import deque
from typing import Any, Callable

import numpy as np

from ..beans.blocks import Block, concat_blocks
from ..errors import ExecutionError
from .protocol import Chunk

__all__ = ["ChunkCutter", "SequenceCutter", "join_parts"]


def join_parts(parts: list[Block]) -> Any:
    """Return consecutive blocks as one block, or as a tuple when they are batched blocks.

    Joining samples or lists is cheap; joining batched blocks (windows, FFT
    frames) copies their arrays, so they stay apart.
    """
    if len(parts) == 1:
        return parts[0]
    if isinstance(parts[0], (list, np.ndarray)):
        return concat_blocks(parts)
    return tuple(parts)


class _Pending:
    """Elements received and not yet emitted, as a list of blocks."""

    def __init__(self) -> None:
        self.blocks: deque[Block] = deque()
        self.count = 0

    def add(self, block: Block) -> None:
        self.blocks.append(block)
        self.count += len(block)

    def take(self, count: int) -> Block:
        parts = []
        remaining = count
        while remaining:
            block = self.blocks[0]
            if len(block) <= remaining:
                parts.append(self.blocks.popleft())
                remaining -= len(block)
            else:
                parts.append(block[:remaining])
                self.blocks[0] = block[remaining:]
                remaining = 0
        self.count -= count
        return join_parts(parts)


def element_bytes(block: Block) -> int | None:
    """Return the bytes one element of ``block`` takes, or None for lists of Python objects."""
    if isinstance(block, list) or not len(block):
        return None
    arrays = [block] if isinstance(block, np.ndarray) else [
        value for value in vars(block).values() if isinstance(value, np.ndarray) and value.ndim == 2
    ]
    if not arrays:
        return None
    return max(1, sum(array.nbytes for array in arrays) // len(block))


class ChunkCutter:
    """Cut a stream into chunks of a fixed number of elements (the last may be shorter), numbered 0, 1, ….

    The number is ``chunk_elements(bytes per element)`` of the first block, so
    chunks of wide elements such as windows stay small; it never changes
    afterwards, because merges rely on the numbering, not on the length.
    """

    def __init__(self, chunk_elements: "Callable[[int | None], int]") -> None:
        self._chunk_elements = chunk_elements
        self.size: int | None = None
        self._pending = _Pending()
        self._seq = 0

    def push(self, block: Block) -> list[Chunk]:
        """Add a block and return the chunks completed by it."""
        if self.size is None:
            self.size = self._chunk_elements(element_bytes(block))
        self._pending.add(block)
        chunks = []
        while self._pending.count >= self.size:
            chunks.append(Chunk(self._seq, self._pending.take(self.size)))
            self._seq += 1
        return chunks

    def finish(self) -> list[Chunk]:
        """Return the last, partial chunk, if any elements are left."""
        if not self._pending.count:
            return []
        chunk = Chunk(self._seq, self._pending.take(self._pending.count))
        self._seq += 1
        return [chunk]


class SequenceCutter:
    """Cut the output of a partition copy into chunks that match the chunks it read.

    A partitionable bean gives one output element per input element, so
    output element i belongs to the input chunk that held input element i.
    The reading proxy appends ``(seq, length)`` to ``log`` for every chunk
    it hands to the bean; this cutter gives each output chunk that number
    and length. A bean that breaks the one-to-one promise is reported instead
    of producing a silently misordered stream.
    """

    def __init__(self, log: deque, label: str) -> None:
        self._log = log
        self._label = label
        self._pending = _Pending()
        self._emitted = 0

    def push(self, block: Block) -> list[Chunk]:
        """Add a block of output and return the chunks completed by it."""
        self._pending.add(block)
        chunks = []
        while self._log and self._pending.count >= self._log[0][1]:
            seq, length = self._log.popleft()
            chunks.append(Chunk(seq, self._pending.take(length)))
            self._emitted += length
        if self._pending.count and not self._log:
            self._fail(self._emitted + self._pending.count, self._emitted)
        return chunks

    def finish(self) -> list[Chunk]:
        """Check that every element read was matched by an output element."""
        if self._pending.count or self._log:
            read = self._emitted + sum(length for _, length in self._log)
            self._fail(self._emitted + self._pending.count, read)
        return []

    def _fail(self, produced: Any, read: Any) -> None:
        raise ExecutionError(
            f"{self._label} is marked partitionable but produced {produced} elements from {read} "
            "read; a partitionable bean must give exactly one element per input element. "
            "Declare the bean with partitionable = False",
            bean=self._label,
        )
