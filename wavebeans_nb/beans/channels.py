"""Multichannel streams: ``channels(left, right, ...)`` joins sample streams into frames."""

from __future__ import annotations

from typing import Iterator, Sequence

import numpy as np

from ..errors import InvalidParameterError
from .base import Stream
from .blocks import Block, BlockReader

__all__ = ["Frame", "ChannelsStream", "channels"]


class Frame:
    """Element type of multichannel streams: one frame, a sample per channel.

    A block of frames is a 2-D float64 array of shape (n_frames, n_channels).
    An element taken out of a block (``elements()``) is a list of channel values.
    """

    @staticmethod
    def block_from_elements(elements: Sequence) -> np.ndarray:
        """Stack frames (sequences of channel values) into a (n_frames, n_channels) block."""
        block = np.asarray(elements, dtype=np.float64)
        return block.reshape(len(elements), -1) if len(elements) else block.reshape(0, 0)


class ChannelsStream(Stream):
    """Sample streams side by side, one per channel.

    The stream is as long as the longest input; an input that has ended
    contributes 0.0. All inputs run at the same sample rate.
    """

    element_type = Frame

    def __init__(self, *inputs: Stream) -> None:
        if not inputs:
            raise InvalidParameterError("channels() needs at least one stream; pass one stream per channel")
        for position, upstream in enumerate(inputs):
            if isinstance(upstream, Stream) and upstream.element_type is not float:
                raise InvalidParameterError(
                    f"channel {position} ({upstream.label()}) is a stream of "
                    f"{getattr(upstream.element_type, '__name__', upstream.element_type)}, not of samples; "
                    "pass sample streams"
                )
        super().__init__(*inputs)

    @property
    def channels_count(self) -> int:
        """Number of channels (inputs)."""
        return len(self.inputs)

    def label(self) -> str:
        return f"channels({len(self.inputs)})"

    def samples_count(self, sample_rate: float) -> int | None:
        counts = [s.samples_count(sample_rate) for s in self.inputs]
        if None in counts:
            return None
        return max(counts)

    def _blocks(self, sample_rate: float, block_size: int) -> Iterator[Block]:
        rate = self.rate_for(sample_rate)
        readers = [BlockReader(s.iter_blocks(rate, block_size)) for s in self.inputs]
        while True:
            parts = [reader.read(block_size) for reader in readers]
            length = max((len(part) for part in parts if part is not None), default=0)
            if length == 0:
                return
            frames = np.zeros((length, len(readers)), dtype=np.float64)
            for column, part in enumerate(parts):
                if part is not None:
                    frames[: len(part), column] = part
            yield frames


def channels(*streams: Stream) -> ChannelsStream:
    """Join sample streams into one multichannel stream, for example a stereo file.

    Parameters
    ----------
    *streams : Stream
        One sample stream per channel, in channel order.

    Returns
    -------
    ChannelsStream
        Blocks of shape (n_frames, n_channels), float64. Its length is that of
        the longest input; shorter inputs are padded with 0.0.

    Raises
    ------
    InvalidParameterError
        If no stream is given or one is not a stream of samples.
    SampleRateMismatchError
        At evaluation, if the inputs need different sample rates.

    Examples
    --------
    >>> import wavebeans_nb as wb
    >>> stereo = wb.channels(wb.list_input([0.1, 0.2]), wb.list_input([-0.1]))
    >>> list(stereo.elements(8000))
    [[0.1, -0.1], [0.2, 0.0]]
    """
    return ChannelsStream(*streams)
