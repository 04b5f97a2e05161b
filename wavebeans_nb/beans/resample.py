"""Resampling: change the sample rate of a stream, streamed in blocks.

Rate rules: ``stream.resample(to=R)`` must be evaluated at R Hz (its desired
rate is R); without ``to`` it produces the rate its consumer requests.
It reads its input at the input's own desired rate (a file's rate), or at the
requested rate when the input adapts to any rate. Equal rates pass the input
through untouched, so ``sine(440).resample(to=44100)`` simply generates at 44.1 kHz.

Methods:

* ``"polyphase"`` (default for samples): the polyphase FIR resampler of
  :func:`scipy.signal.resample_poly` with its default filter (Kaiser window,
  β = 5, 10 zero crossings per side of the longer rate factor). Measured
  response: flat within 0.1 dB up to 0.86 × the lower Nyquist frequency,
  −6 dB at the lower Nyquist frequency, at least 55 dB attenuation above
  1.2 × the lower Nyquist frequency. The output is centred (no delay) and has
  ``ceil(n · out / in)`` samples for n input samples.
* ``"sinc"``: windowed-sinc interpolation (Blackman window) over
  ``window_size`` input samples centred on each output time, with the cutoff
  at the lower Nyquist frequency and weights normalised to unit DC gain.
  Output j is the input interpolated at position ``j · in / out``; the output
  is neither advanced nor ended with NaN, and has ``ceil(n · out / in)`` samples.
* ``"simple"``: integer factors only. Upsampling by k repeats every element k
  times; downsampling by k reduces each group of k elements (the last group
  may be shorter) with ``reduce`` (the mean by default for samples). It is the
  default for streams of other element types.

Both FIR methods keep their state across blocks and compute every output from
the same input samples and weights whatever the block size, so results do not
depend on it. The polyphase method runs :func:`scipy.signal.upfirdn` over
segments of at least 65536 new input samples (or one whole block when blocks
are larger) with the history the filter needs. Its output is bit-for-bit the output
of one ``resample_poly`` call on the whole signal, and it holds about one
segment plus one block of input. It emits nothing until the first segment is
complete, or until the input ends.
"""

from __future__ import annotations

import logging
from fractions import Fraction
from typing import Any, Callable, Iterator

import numpy as np
from scipy.signal import firwin, upfirdn

from ..errors import InvalidParameterError
from .base import Stream, check_sample_rate, rates_equal, register_api
from .blocks import Block, block_from_elements, iter_elements

__all__ = ["ResampleStream", "RESAMPLE_METHODS", "polyphase_filter"]

logger = logging.getLogger(__name__)

RESAMPLE_METHODS = ("polyphase", "sinc", "simple")

#: Largest up or down factor the polyphase method accepts; its filter has 20 taps per unit of factor.
MAX_POLYPHASE_FACTOR = 1 << 16

_REDUCERS: dict[str, Callable[[np.ndarray], np.ndarray]] = {
    "mean": lambda groups: groups.mean(axis=1),
    "sum": lambda groups: groups.sum(axis=1),
    "min": lambda groups: groups.min(axis=1),
    "max": lambda groups: groups.max(axis=1),
    "first": lambda groups: groups[:, 0].copy(),
    "last": lambda groups: groups[:, -1].copy(),
}

# Outputs per vectorised batch are limited so the gathered (outputs, taps) matrix stays near 8 MiB.
_GATHER_LIMIT = 1 << 20

# The polyphase method filters at least this many new input samples per scipy call, to amortise its overhead.
_MIN_SEGMENT = 1 << 16


def _rate_factors(in_rate: float, out_rate: float) -> tuple[int, int]:
    """Return (up, down): the reduced integer ratio out/in of two rates, exact for float rates."""
    ratio = Fraction(out_rate) / Fraction(in_rate)
    return ratio.numerator, ratio.denominator


def polyphase_filter(up: int, down: int) -> tuple[np.ndarray, int]:
    """Return the FIR filter and the output offset that :func:`scipy.signal.resample_poly` uses.

    Returns
    -------
    (numpy.ndarray, int)
        The filter (gain ``up``, zero-padded in front so output 0 is centred)
        and the number of leading outputs of the full convolution to skip.
    """
    longest = max(up, down)
    half_len = 10 * longest
    taps = firwin(2 * half_len + 1, 1.0 / longest, window=("kaiser", 5.0)) * up
    pre_pad = down - half_len % down
    skip = (half_len + pre_pad) // down
    return np.concatenate([np.zeros(pre_pad), taps]), skip


class _FirResampler:
    """Streaming polyphase FIR: ``y[j] = Σ_t x[(j·down + offset) // up − t] · W[phase(j), t]``.

    ``phase(j) = (j·down + offset) mod up`` selects a row of ``weights(phase)``,
    an array of shape ``(len(phase), taps)``. Inputs before 0 and after the end count as 0.
    """

    def __init__(self, up: int, down: int, offset: int, taps: int,
                 weights: Callable[[np.ndarray], np.ndarray]) -> None:
        self.up, self.down, self.offset, self.taps = up, down, offset, taps
        self.weights = weights
        self.buffer = np.zeros(taps)  # zeros stand for the samples before the start
        self.origin = -taps  # absolute input index of buffer[0]
        self.received = 0
        self.next_output = 0
        self.batch = max(1, _GATHER_LIMIT // taps)

    def _last_input(self, j: np.ndarray | int) -> Any:
        return (j * self.down + self.offset) // self.up

    def push(self, samples: np.ndarray) -> np.ndarray:
        """Add input samples; return every output whose inputs have all arrived."""
        self.buffer = np.concatenate([self.buffer, samples])
        self.received += len(samples)
        # Output j is ready when its last input index (j·down + offset) // up < received.
        ready = -((self.offset - self.received * self.up) // self.down)
        return self._emit(max(ready, self.next_output))

    def finish(self) -> np.ndarray:
        """Return the remaining outputs; there are ``ceil(n · up / down)`` in total for n inputs."""
        total = -((-self.received * self.up) // self.down)
        if total <= self.next_output:
            return np.empty(0)
        needed = int(self._last_input(total - 1)) + 1
        self.buffer = np.concatenate([self.buffer, np.zeros(max(0, needed - self.origin - len(self.buffer)))])
        return self._emit(total)

    def _emit(self, end: int) -> np.ndarray:
        parts = []
        steps = np.arange(self.taps, dtype=np.int64)
        while self.next_output < end:
            stop = min(end, self.next_output + self.batch)
            j = np.arange(self.next_output, stop, dtype=np.int64)
            position = j * self.down + self.offset
            last = position // self.up
            phase = position - last * self.up
            gathered = self.buffer[(last - self.origin)[:, None] - steps[None, :]]
            parts.append((gathered * self.weights(phase)).sum(axis=1))
            self.next_output = stop
        keep_from = int(self._last_input(self.next_output)) - self.taps + 1
        drop = min(max(0, keep_from - self.origin), len(self.buffer))
        self.buffer, self.origin = self.buffer[drop:], self.origin + drop
        return np.concatenate(parts) if parts else np.empty(0)


class _PolyphaseResampler:
    """Streaming :func:`scipy.signal.resample_poly`: :func:`scipy.signal.upfirdn` over segments of the input.

    Full-signal output j is output ``j + skip`` of the filtered signal, at position
    ``(j + skip) · down`` on the upsampled grid, and reads inputs ``last − taps_per_phase + 1 .. last``
    with ``last = (j + skip) · down // up``. A segment that starts at an input index that is a
    multiple of ``down`` puts its outputs on the same grid, so each segment carries the history its
    first output needs and yields only outputs whose inputs have all arrived. Every output then sums
    the same products in the same order as one call on the whole signal does.
    """

    def __init__(self, up: int, down: int, min_segment: int = _MIN_SEGMENT) -> None:
        self.up, self.down = up, down
        self.filter, self.skip = polyphase_filter(up, down)
        self.taps_per_phase = -(-len(self.filter) // up)
        self.min_segment = max(1, min_segment)
        # Each upfirdn call also computes about len(filter) / down + up outputs around the wanted ones.
        # A call emits at most 2**20 outputs (8 MiB), or 8 times len(filter) / down when that is larger.
        self.max_outputs = max(_GATHER_LIMIT, 8 * (len(self.filter) // down + 1))
        self.pending: list[np.ndarray] = []
        self.pending_count = 0
        self.buffer = np.empty(0)
        self.origin = 0  # absolute input index of buffer[0], always a multiple of down
        self.received = 0
        self.next_output = 0

    def push(self, samples: np.ndarray) -> np.ndarray:
        """Add input samples; once a segment of new samples is complete, return every output whose inputs have all arrived."""
        self.pending.append(samples)
        self.pending_count += len(samples)
        self.received += len(samples)
        if self.pending_count < self.min_segment:
            return np.empty(0)
        self._absorb_pending()
        # Output j is ready when its last input (j + skip) · down // up is below the received count.
        ready = -((self.skip * self.down - self.received * self.up) // self.down)
        return self._emit(ready)

    def finish(self) -> np.ndarray:
        """Return the remaining outputs; there are ``ceil(n · up / down)`` in total for n inputs."""
        self._absorb_pending()
        total = -((-self.received * self.up) // self.down)
        return self._emit(total)

    def _absorb_pending(self) -> None:
        if self.pending:
            self.buffer = np.concatenate([self.buffer, *self.pending])
            self.pending, self.pending_count = [], 0

    def _segment_start(self, output: int) -> int:
        """Return the input index, a multiple of down, where a segment whose first output is ``output`` starts."""
        first_input = (output + self.skip) * self.down // self.up - self.taps_per_phase + 1
        return max(0, first_input) // self.down * self.down

    def _emit(self, end: int) -> np.ndarray:
        parts = []
        while self.next_output < end:
            stop = min(end, self.next_output + self.max_outputs)
            parts.append(self._filter_outputs(self.next_output, stop))
            self.next_output = stop
        drop = min(self._segment_start(self.next_output) - self.origin, len(self.buffer))
        self.buffer, self.origin = self.buffer[drop:], self.origin + drop
        if len(parts) == 1:
            return parts[0]
        return np.concatenate(parts) if parts else np.empty(0)

    def _filter_outputs(self, first: int, stop: int) -> np.ndarray:
        """Return outputs ``first .. stop − 1``; inputs past the buffer's end count as the end of the signal."""
        start = self._segment_start(first)
        last_input = (stop - 1 + self.skip) * self.down // self.up
        segment = self.buffer[start - self.origin: last_input + 1 - self.origin]
        filtered = upfirdn(self.filter, segment, self.up, self.down)
        base = start * self.up // self.down  # filtered[0] is output (base − skip) of the whole signal
        # upfirdn returns ((len(segment) − 1)·up + len(filter)) // down + 1 outputs. Since the filter's
        # half length 10·max(up, down) is at least up, they reach every output up to ceil(n·up/down),
        # so resample_poly's extra zero padding of the filter is never needed here.
        return filtered[first + self.skip - base: stop + self.skip - base]


def _polyphase_engine(up: int, down: int) -> _PolyphaseResampler:
    if max(up, down) > MAX_POLYPHASE_FACTOR:
        raise InvalidParameterError(
            f"polyphase resampling by {up}/{down} needs a filter of {20 * max(up, down)} taps; "
            "use method='sinc' for rates without a small common factor"
        )
    return _PolyphaseResampler(up, down)


def _sinc_weights(fraction: np.ndarray, window_size: int, cutoff: float) -> np.ndarray:
    """Return normalised windowed-sinc weights for outputs at ``fraction`` past an input sample."""
    half = window_size // 2
    span = window_size / 2.0  # every distance below lies in (−span, span)
    # Tap t reads input (last − t) where last = floor(position) + half, so its distance is:
    distance = fraction[:, None] - half + np.arange(window_size)[None, :]
    shape = 0.42 + 0.5 * np.cos(np.pi * distance / span) + 0.08 * np.cos(2.0 * np.pi * distance / span)
    weights = np.sinc(cutoff * distance) * shape
    return weights / weights.sum(axis=1, keepdims=True)


def _sinc_engine(up: int, down: int, window_size: int) -> _FirResampler:
    cutoff = min(1.0, up / down)
    half = window_size // 2
    # Output j is at input position j·down/up; with offset half·up the last tap is floor(position) + half.
    if up * window_size <= _GATHER_LIMIT:
        table = _sinc_weights(np.arange(up) / up, window_size, cutoff)
        weights = lambda phase: table[phase]  # noqa: E731
    else:
        weights = lambda phase: _sinc_weights(phase / up, window_size, cutoff)  # noqa: E731
    return _FirResampler(up, down, half * up, window_size, weights)


class _SimpleResampler:
    """Integer-factor resampling: repeat elements, or reduce groups of them."""

    def __init__(self, up: int, down: int, reduce: "str | Callable[[Any], Any] | None", samples: bool,
                 in_rate: float, out_rate: float) -> None:
        if up != 1 and down != 1:
            raise InvalidParameterError(
                f"simple resampling from {in_rate:g} Hz to {out_rate:g} Hz needs an integer factor, "
                f"but the ratio is {up}/{down}; use method='polyphase' or 'sinc'"
            )
        if down > 1 and reduce is None and not samples:
            raise InvalidParameterError(
                "simple downsampling of non-sample elements needs reduce=fn(list_of_elements)"
            )
        self.up, self.down, self.samples = up, down, samples
        self.reduce = "mean" if reduce is None else reduce
        self.pending: list | np.ndarray = np.empty(0) if samples else []

    def push(self, block: Block) -> Block | None:
        if self.up > 1:
            if self.samples:
                return np.repeat(block, self.up)
            return [e for e in iter_elements(block) for _ in range(self.up)]
        values = np.concatenate([self.pending, block]) if self.samples else self.pending + list(iter_elements(block))
        whole = len(values) // self.down * self.down
        self.pending = values[whole:]
        return self._reduce(values[:whole]) if whole else None

    def finish(self) -> Block | None:
        if self.up > 1 or not len(self.pending):
            return None
        return self._reduce(self.pending)

    def _reduce(self, values: Block) -> Block:
        groups = [values[i: i + self.down] for i in range(0, len(values), self.down)]
        if self.samples and isinstance(self.reduce, str) and len(values) % self.down == 0:
            return _REDUCERS[self.reduce](np.asarray(values).reshape(-1, self.down))
        if isinstance(self.reduce, str):
            return np.concatenate([_REDUCERS[self.reduce](np.asarray(g)[None, :]) for g in groups])
        return [self.reduce(g if self.samples else list(g)) for g in groups]


class ResampleStream(Stream):
    """The input stream converted to another sample rate (see the module documentation)."""

    def __init__(self, input: Stream, *, to: float | None = None, method: str | None = None,
                 reduce: "str | Callable[[Any], Any] | None" = None, window_size: int = 64) -> None:
        if to is not None:
            to = check_sample_rate(to)
        if method is None:
            method = "polyphase" if input.element_type is float else "simple"
        if method not in RESAMPLE_METHODS:
            raise InvalidParameterError(f"resample method {method!r} is unknown; use one of {RESAMPLE_METHODS}")
        if method != "simple" and input.element_type is not float:
            raise InvalidParameterError(
                f"resample method {method!r} needs a sample stream; use method='simple' for other elements"
            )
        if isinstance(reduce, str) and reduce not in _REDUCERS:
            raise InvalidParameterError(f"reduce {reduce!r} is unknown; use one of {sorted(_REDUCERS)} or a callable")
        if reduce is not None and not isinstance(reduce, str) and not callable(reduce):
            raise InvalidParameterError(f"reduce {reduce!r} is not a name or a callable; pass one of {sorted(_REDUCERS)} or fn(list)")
        if isinstance(window_size, bool) or not isinstance(window_size, (int, np.integer)) or window_size < 2:
            raise InvalidParameterError(f"sinc window size {window_size!r} is invalid; pass a whole number >= 2")
        super().__init__(input, to=to, method=method, reduce=reduce, window_size=int(window_size))
        self.element_type = input.element_type

    def label(self) -> str:
        to = self.params["to"]
        return f"resample({'' if to is None else f'{to:g} Hz, '}{self.params['method']})"

    @property
    def desired_sample_rate(self) -> float | None:
        return self.params["to"]

    def input_rate(self, sample_rate: float) -> float:
        """Return the rate the input runs at when this stream is requested at ``sample_rate``."""
        desired = self.input.desired_sample_rate
        return sample_rate if desired is None else desired

    def output_rate(self, sample_rate: float) -> float:
        """Return the rate this stream produces when requested at ``sample_rate``."""
        to = self.params["to"]
        return sample_rate if to is None else to

    def samples_count(self, sample_rate: float) -> int | None:
        upstream = self.input.samples_count(self.input_rate(sample_rate))
        if upstream is None:
            return None
        up, down = _rate_factors(self.input_rate(sample_rate), self.output_rate(sample_rate))
        return -(-upstream * up // down)

    def _blocks(self, sample_rate: float, block_size: int) -> Iterator[Block]:
        in_rate, out_rate = self.input_rate(sample_rate), self.output_rate(sample_rate)
        blocks = self.input.iter_blocks(in_rate, block_size)
        if rates_equal(in_rate, out_rate):
            yield from blocks
            return
        up, down = _rate_factors(in_rate, out_rate)
        logger.debug("%s: %g Hz -> %g Hz (factor %d/%d)", self.label(), in_rate, out_rate, up, down)
        engine = self._engine(up, down, in_rate, out_rate)
        for block in blocks:
            out = engine.push(block)
            if out is not None and len(out):
                yield out if isinstance(out, np.ndarray) else block_from_elements(out, self.element_type)
        out = engine.finish()
        if out is not None and len(out):
            yield out if isinstance(out, np.ndarray) else block_from_elements(out, self.element_type)

    def _engine(self, up: int, down: int, in_rate: float, out_rate: float) -> Any:
        method = self.params["method"]
        if method == "polyphase":
            return _polyphase_engine(up, down)
        if method == "sinc":
            return _sinc_engine(up, down, self.params["window_size"])
        return _SimpleResampler(up, down, self.params["reduce"], self.element_type is float, in_rate, out_rate)


@register_api()
def resample(self: Stream, to: float | None = None, method: str | None = None,
             reduce: "str | Callable[[Any], Any] | None" = None, window_size: int = 64) -> ResampleStream:
    """Convert the stream to another sample rate.

    Parameters
    ----------
    to : float, optional
        Output rate in Hz; the stream must then be evaluated at this rate.
        Without it the output rate is the rate the stream is evaluated at.
    method : {"polyphase", "sinc", "simple"}, optional
        Default "polyphase" for samples (scipy's ``resample_poly`` filter,
        flat to 0.86 × the lower Nyquist frequency), "simple" for other elements.
    reduce : str or callable, optional
        For "simple" downsampling: "mean" (default for samples), "sum", "min",
        "max", "first", "last", or ``fn(group) -> element``.
    window_size : int, default 64
        For "sinc": input samples per output (>= 2).

    Returns
    -------
    Stream
        ``ceil(n · out / in)`` samples for n input samples ("simple": n·k up, ceil(n/k) down).

    Raises
    ------
    InvalidParameterError
        If ``to`` is not a positive rate, the method is unknown, or "simple"
        gets a non-integer factor (raised at evaluation).

    Examples
    --------
    >>> import wavebeans_nb as wb
    >>> s = wb.input(lambda i, sr: float(i) if i < 3 else None, sample_rate=1000)
    >>> list(s.resample(method="simple").elements(2000))
    [0.0, 0.0, 1.0, 1.0, 2.0, 2.0]
    """
    return ResampleStream(self, to=to, method=method, reduce=reduce, window_size=window_size)
