"""Inputs that generate or hold data: sine, sine sweep, function input, list input."""

from __future__ import annotations

import math
from typing import Any, Callable, Iterator

import numpy as np

from ..errors import InvalidParameterError
from .base import BeanKind, Stream, check_element_type, check_sample_rate, rates_equal
from .blocks import Block, block_from_elements
from ..errors import SampleRateMismatchError

__all__ = ["SineInput", "SineSweepInput", "FunctionInput", "ListInput", "sine", "sine_sweep", "input", "list_input"]


def _finite_number(name: str, value: Any) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float, np.integer, np.floating)):
        raise InvalidParameterError(f"{name} {value!r} is not a number; pass a finite int or float")
    if not math.isfinite(float(value)):
        raise InvalidParameterError(f"{name} {value!r} is not finite; pass a finite int or float")
    return float(value)


def _generator_label(head: str, params: dict) -> str:
    """Close a generator label, naming amplitude and offset only when they differ from the defaults."""
    if params["amplitude"] != 1.0:
        head += f", amplitude {params['amplitude']:g}"
    if params["time_offset"] != 0.0:
        head += f", offset {params['time_offset']:g} s"
    return head + ")"


class SourceStream(Stream):
    """Base of inputs: no upstream beans, single partition."""

    kind = BeanKind.SOURCE

    def _fixed_rate_check(self, sample_rate: float) -> None:
        desired = self.desired_sample_rate
        if desired is not None and not rates_equal(desired, sample_rate):
            raise SampleRateMismatchError(
                f"{self.label()} produces {desired:g} Hz but was evaluated at {sample_rate:g} Hz; "
                f"evaluate at {desired:g} Hz or add .resample() after it"
            )


class SineInput(SourceStream):
    """Infinite sine wave ``amplitude * sin(2π f (time_offset + k / sample_rate))``."""

    def __init__(self, *, frequency: float, amplitude: float = 1.0, time_offset: float = 0.0) -> None:
        super().__init__(
            frequency=_finite_number("frequency", frequency),
            amplitude=_finite_number("amplitude", amplitude),
            time_offset=_finite_number("time offset", time_offset),
        )

    def label(self) -> str:
        return _generator_label(f"sine({self.params['frequency']:g} Hz", self.params)

    def _blocks(self, sample_rate: float, block_size: int) -> Iterator[Block]:
        frequency = self.params["frequency"]
        amplitude = self.params["amplitude"]
        offset = self.params["time_offset"]
        start = 0
        while True:
            # The index is exact integer arithmetic, so every block size gives identical samples.
            index = np.arange(start, start + block_size, dtype=np.float64)
            yield amplitude * np.sin(2.0 * np.pi * frequency * (offset + index / sample_rate))
            start += block_size


class SineSweepInput(SourceStream):
    """Linear chirp from ``start_frequency`` to ``end_frequency`` over ``time`` seconds.

    The phase is continuous. After ``time`` seconds the stream keeps the end
    frequency forever, so it is infinite; trim it to end it.
    """

    def __init__(
        self,
        *,
        start_frequency: float,
        end_frequency: float,
        amplitude: float = 1.0,
        time: float = 1.0,
        time_offset: float = 0.0,
    ) -> None:
        time = _finite_number("sweep time", time)
        if time <= 0:
            raise InvalidParameterError(f"sweep time {time!r} s is invalid; pass a positive length in seconds")
        super().__init__(
            start_frequency=_finite_number("start frequency", start_frequency),
            end_frequency=_finite_number("end frequency", end_frequency),
            amplitude=_finite_number("amplitude", amplitude),
            time=time,
            time_offset=_finite_number("time offset", time_offset),
        )

    def label(self) -> str:
        head = (f"sine_sweep({self.params['start_frequency']:g}-{self.params['end_frequency']:g} Hz"
                f" in {self.params['time']:g} s")
        return _generator_label(head, self.params)

    def _blocks(self, sample_rate: float, block_size: int) -> Iterator[Block]:
        f0 = self.params["start_frequency"]
        f1 = self.params["end_frequency"]
        duration = self.params["time"]
        amplitude = self.params["amplitude"]
        offset = self.params["time_offset"]
        rate_of_change = (f1 - f0) / duration
        end_phase = f0 * duration + 0.5 * rate_of_change * duration**2
        start = 0
        while True:
            t = offset + np.arange(start, start + block_size, dtype=np.float64) / sample_rate
            sweeping = t < duration
            phase = np.where(
                sweeping,
                f0 * t + 0.5 * rate_of_change * t * t,
                end_phase + f1 * (t - duration),
            )
            yield amplitude * np.sin(2.0 * np.pi * phase)
            start += block_size


class FunctionInput(SourceStream):
    """Elements ``fn(index, sample_rate)`` for index 0, 1, …; the first None ends the stream."""

    def __init__(self, *, fn: Callable[[int, float], Any], sample_rate: float | None = None,
                 element_type: type = float) -> None:
        if not callable(fn):
            raise InvalidParameterError(f"input function {fn!r} is not callable; pass fn(index, sample_rate)")
        if element_type is None:
            element_type = float
        check_element_type(element_type, "input")
        if sample_rate is not None:
            sample_rate = check_sample_rate(sample_rate)
        super().__init__(fn=fn, sample_rate=sample_rate, element_type=element_type)
        self.element_type = element_type

    @property
    def desired_sample_rate(self) -> float | None:
        return self.params["sample_rate"]

    @property
    def is_finite(self) -> bool:
        return False

    def _blocks(self, sample_rate: float, block_size: int) -> Iterator[Block]:
        self._fixed_rate_check(sample_rate)
        fn = self.params["fn"]
        index = 0
        while True:
            batch = []
            for _ in range(block_size):
                value = fn(index, sample_rate)
                if value is None:
                    break
                batch.append(value)
                index += 1
            if batch:
                yield block_from_elements(batch, self.element_type)
            if len(batch) < block_size:
                return


class ListInput(SourceStream):
    """A finite stream of the given elements, at any sample rate."""

    def __init__(self, *, values: Any, element_type: type | None = None) -> None:
        check_element_type(element_type, "list_input")
        if isinstance(values, (str, bytes)) or not hasattr(values, "__iter__"):
            raise InvalidParameterError(
                f"list_input values {values!r} are not a list of elements; pass a list, tuple or 1-D array"
            )
        if isinstance(values, np.ndarray) and values.ndim == 0:
            raise InvalidParameterError(
                f"list_input values {values!r} are a 0-d array; pass a list, tuple or 1-D array"
            )
        if isinstance(values, np.ndarray) and values.ndim == 1 and values.dtype.kind in "biuf":
            values = values.astype(np.float64)
            inferred: type = float
        else:
            values = list(values)
            numeric = all(
                isinstance(v, (int, float, np.integer, np.floating)) and not isinstance(v, bool)
                for v in values
            )
            inferred = float if numeric else object
            if inferred is float:
                values = np.asarray(values, dtype=np.float64)
        if len(values) == 0:
            raise InvalidParameterError("input list is empty; pass at least one element")
        element_type = element_type or inferred
        if element_type is not float and isinstance(values, np.ndarray):
            values = values.tolist()
        super().__init__(values=values, element_type=element_type)
        self.element_type = element_type

    @property
    def is_finite(self) -> bool:
        return True

    def samples_count(self, sample_rate: float) -> int | None:
        return len(self.params["values"])

    def label(self) -> str:
        return f"list_input({len(self.params['values'])} elements)"

    def _blocks(self, sample_rate: float, block_size: int) -> Iterator[Block]:
        values = self.params["values"]
        if not isinstance(values, np.ndarray):
            values = block_from_elements(values, self.element_type)
        for start in range(0, len(values), block_size):
            yield values[start:start + block_size]


def sine(frequency: float, amplitude: float = 1.0, time_offset: float = 0.0) -> SineInput:
    """Create an infinite sine wave.

    Parameters
    ----------
    frequency : float
        Frequency in Hz.
    amplitude : float, default 1.0
        Peak value.
    time_offset : float, default 0.0
        Time in seconds of the first sample; a phase of φ radians is ``φ / (2π f)``.

    Returns
    -------
    Stream
        Sample stream ``amplitude * sin(2π f (time_offset + k / sample_rate))``, k = 0, 1, …

    Examples
    --------
    >>> import wavebeans_nb as wb
    >>> [round(x, 6) for x in wb.sine(1.0).trim(1000).elements(4)]
    [0.0, 1.0, 0.0, -1.0]
    """
    return SineInput(frequency=frequency, amplitude=amplitude, time_offset=time_offset)


def sine_sweep(start_frequency: float, end_frequency: float, amplitude: float = 1.0,
               time: float = 1.0, time_offset: float = 0.0) -> SineSweepInput:
    """Create a linear sine sweep (chirp) that runs for ``time`` seconds, then stays at the end frequency.

    Parameters
    ----------
    start_frequency, end_frequency : float
        Frequencies in Hz at t = 0 and t = ``time``.
    amplitude : float, default 1.0
        Peak value.
    time : float, default 1.0
        Sweep length in seconds.
    time_offset : float, default 0.0
        Time in seconds of the first sample.

    Raises
    ------
    InvalidParameterError
        If ``time`` is not positive.
    """
    return SineSweepInput(start_frequency=start_frequency, end_frequency=end_frequency,
                          amplitude=amplitude, time=time, time_offset=time_offset)


def input(fn: Callable[[int, float], Any], sample_rate: float | None = None,
          element_type: type = float) -> FunctionInput:
    """Create a stream from a function ``fn(index, sample_rate)``; returning None ends it.

    Parameters
    ----------
    fn : callable
        Called with index 0, 1, … (int) and the evaluation rate in Hz.
    sample_rate : float, optional
        Fixed rate in Hz the stream must be evaluated at.
    element_type : type, default float
        ``float`` for samples; ``object`` for any other values.

    Examples
    --------
    >>> import wavebeans_nb as wb
    >>> list(wb.input(lambda i, sr: i * 0.5 if i < 3 else None).elements(10))
    [0.0, 0.5, 1.0]
    """
    return FunctionInput(fn=fn, sample_rate=sample_rate, element_type=element_type)


def list_input(values: Any, element_type: type | None = None) -> ListInput:
    """Create a finite stream of ``values`` (numbers become samples).

    Raises
    ------
    InvalidParameterError
        If ``values`` is empty.
    """
    return ListInput(values=values, element_type=element_type)
