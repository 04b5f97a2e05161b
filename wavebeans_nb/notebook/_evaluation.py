"""Evaluating a stream in the kernel for plots and previews: argument checks and bounded reads."""

from __future__ import annotations

import contextlib
from typing import Any

import numpy as np

from ..beans.base import Stream, check_sample_rate, rates_equal
from ..beans.blocks import Block
from ..beans.channels import Frame
from ..beans.timeunit import TimeMeasure, time_to_sample_ceil, time_to_sample_floor
from ..errors import InvalidParameterError, SampleRateMismatchError

__all__ = ["check_stream", "check_rate", "check_seconds", "seconds_to_samples", "read_blocks", "join_samples"]


def _type_name(element_type: Any) -> str:
    return getattr(element_type, "__name__", str(element_type))


def check_stream(stream: Any, function: str, element_types: tuple[type, ...]) -> Stream:
    """Return ``stream`` if it is a stream of one of ``element_types``, or raise naming ``function``."""
    if not isinstance(stream, Stream):
        raise InvalidParameterError(f"{function}() needs a stream, not a {type(stream).__name__}")
    if stream.element_type not in element_types:
        expected = " or ".join(_type_name(kind) for kind in element_types)
        raise InvalidParameterError(
            f"{function}() needs a stream of {expected}, but {stream.label()} is a stream of "
            f"{_type_name(stream.element_type)}"
        )
    return stream


def check_rate(stream: Stream, sample_rate: float) -> float:
    """Return ``sample_rate`` as a float, or raise if the stream must run at another rate.

    Raises
    ------
    InvalidParameterError
        If the rate is not a positive finite number.
    SampleRateMismatchError
        If the stream reads a file (or another fixed-rate input) of a different rate.
    """
    rate = check_sample_rate(sample_rate)
    desired = stream.desired_sample_rate
    if desired is not None and not rates_equal(desired, rate):
        raise SampleRateMismatchError(
            f"{stream.label()} runs at {desired:g} Hz but was asked for {rate:g} Hz; "
            f"pass sample_rate={desired:g} or add .resample() to the stream"
        )
    return rate


def check_seconds(seconds: "float | str", name: str) -> TimeMeasure:
    """Return a positive length given in seconds (or as a string such as ``"500ms"``)."""
    try:
        length = TimeMeasure.of(seconds, "s")
    except InvalidParameterError as error:
        raise InvalidParameterError(f"{name}={seconds!r} is invalid: {error}") from None
    if length.nanos <= 0:
        raise InvalidParameterError(f"{name}={seconds!r} is not positive; pass a length in seconds > 0")
    return length


def seconds_to_samples(length: TimeMeasure, sample_rate: float, round_up: bool = False) -> int:
    """Return the number of samples in ``length`` at ``sample_rate``, rounded down (as trim does) or up."""
    if round_up:
        return time_to_sample_ceil(length.nanos, sample_rate)
    return time_to_sample_floor(length.nanos, sample_rate)


def read_blocks(stream: Stream, sample_rate: float, limit: int | None,
                block_size: int | None = None) -> tuple[list[Block], bool]:
    """Evaluate ``stream`` up to ``limit`` elements (all of them when None).

    Returns
    -------
    blocks : list
        The blocks read, the last one cut so that at most ``limit`` elements are kept.
    more : bool
        True when the stream had at least one element after the first ``limit``.
    """
    blocks: list[Block] = []
    count = 0
    with contextlib.closing(stream.iter_blocks(sample_rate, block_size)) as source:
        for block in source:
            if limit is not None and count + len(block) > limit:
                if limit > count:
                    blocks.append(block[: limit - count])
                return blocks, True
            blocks.append(block)
            count += len(block)
    return blocks, False


def join_samples(stream: Stream, blocks: list[Block]) -> np.ndarray:
    """Join sample blocks into shape ``(n,)``, or frame blocks into ``(n, channels)``."""
    if blocks:
        return np.concatenate(blocks)
    return np.empty((0, 0)) if stream.element_type is Frame else np.empty(0)
