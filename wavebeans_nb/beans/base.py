"""Bean and stream base classes.

A *bean* is one node of a processing graph: an input (no inputs of its own),
an operation (one or more inputs) or an output (a sink that writes). Beans of
the first two kinds are *streams*: lazily evaluated sequences of elements that
produce blocks when pulled with a sample rate. Operations are attached to
:class:`Stream` as fluent methods by :func:`register_api`.

Every bean keeps its constructor parameters in ``params`` so that the
execution layer can describe the graph as data and rebuild it elsewhere:
``type(bean)(*inputs, **bean.params)`` must give an equal bean.
"""

from __future__ import annotations

import enum
from typing import Any, Callable, ClassVar, Iterator

import numpy as np

from ..errors import InvalidParameterError, SampleRateMismatchError
from .blocks import Block, iter_elements

__all__ = [
    "BeanKind",
    "Bean",
    "Stream",
    "register_api",
    "DEFAULT_BLOCK_SIZE",
    "check_sample_rate",
    "check_element_type",
    "rates_equal",
]

#: Elements per block that sources produce unless the caller asks otherwise.
DEFAULT_BLOCK_SIZE = 8192


class BeanKind(enum.Enum):
    """Role of a bean in the graph, used for drawing and for grouping into pods."""

    SOURCE = "source"
    OPERATION = "operation"
    OUTPUT = "output"


def rates_equal(a: float, b: float) -> bool:
    """Compare two sample rates at float32 precision, as rates are stored in files."""
    return bool(np.float32(a) == np.float32(b))


def check_sample_rate(sample_rate: float) -> float:
    """Return ``sample_rate`` as a float, or raise if it is not a positive finite number."""
    if isinstance(sample_rate, bool):
        raise InvalidParameterError(
            f"sample rate {sample_rate!r} is not a number; pass a rate in Hz such as 44100"
        )
    try:
        rate = float(sample_rate)
    except (TypeError, ValueError):
        raise InvalidParameterError(
            f"sample rate {sample_rate!r} is not a number; pass a rate in Hz such as 44100"
        ) from None
    if not np.isfinite(rate) or rate <= 0:
        raise InvalidParameterError(
            f"sample rate {sample_rate!r} is invalid; pass a positive rate in Hz such as 44100"
        )
    return rate


def check_block_size(block_size: int | None) -> int:
    """Return a valid block size, the default when ``block_size`` is None."""
    if block_size is None:
        return DEFAULT_BLOCK_SIZE
    if isinstance(block_size, bool) or not isinstance(block_size, (int, np.integer)) or block_size < 1:
        raise InvalidParameterError(f"block size {block_size!r} is invalid; pass a whole number >= 1")
    return int(block_size)


def check_element_type(element_type: Any, what: str) -> None:
    """Raise unless ``element_type`` is a class or None (None lets the bean infer it)."""
    if element_type is not None and not isinstance(element_type, type):
        raise InvalidParameterError(
            f"element_type {element_type!r} of {what} is not a class; pass a type such as float or "
            "object, or leave it out"
        )


class Bean:
    """One node of a processing graph.

    Attributes
    ----------
    inputs : tuple of Stream
        The streams this bean reads, in input order.
    params : dict
        Constructor keyword arguments besides the inputs.
    kind : BeanKind
        Source, operation or output.
    partitionable : bool
        True when copies of the bean may each process every N-th chunk of the
        stream and give the same result as one copy (element-wise, 1:1 beans).
    """

    kind: ClassVar[BeanKind] = BeanKind.OPERATION
    partitionable: ClassVar[bool] = False

    def __init__(self, *inputs: "Stream", **params: Any) -> None:
        for position, upstream in enumerate(inputs):
            if not isinstance(upstream, Stream):
                raise InvalidParameterError(
                    f"input {position} of {type(self).__name__} is {_short(upstream)} "
                    f"(a {type(upstream).__name__}), not a stream; pass a stream such as wave(...) or sine(...)"
                )
        self.inputs: tuple[Stream, ...] = tuple(inputs)
        self.params: dict[str, Any] = params

    @property
    def input(self) -> "Stream":
        """The single input of a one-input bean."""
        return self.inputs[0]

    def label(self) -> str:
        """Return a short human-readable description, used in drawings and errors."""
        shown = ", ".join(
            f"{key}={_short(value)}" for key, value in self.params.items() if not callable(value)
        )
        name = _snake(type(self).__name__)
        return f"{name}({shown})" if shown else name

    def __repr__(self) -> str:
        return f"<{self.label()}>"


def _short(value: Any) -> str:
    text = repr(value)
    return text if len(text) <= 24 else text[:21] + "..."


def _snake(name: str) -> str:
    out = []
    for index, char in enumerate(name):
        if char.isupper() and index:
            out.append("_")
        out.append(char.lower())
    return "".join(out)


class Stream(Bean):
    """A lazily evaluated stream of elements.

    Subclasses implement :meth:`_blocks`. Element type is declared by
    ``element_type``: ``float`` for samples, a class of this package for
    windows and FFT frames, ``object`` for anything else.
    """

    element_type: type = float

    # -- sample rates --------------------------------------------------------

    @property
    def desired_sample_rate(self) -> float | None:
        """Rate in Hz this stream must be evaluated at, or None when it adapts to any rate.

        One-input operations take their input's rate; several inputs must agree.
        """
        rates = [r for r in (s.desired_sample_rate for s in self.inputs) if r is not None]
        if not rates:
            return None
        first = rates[0]
        for other in rates[1:]:
            if not rates_equal(first, other):
                labels = ", ".join(s.label() for s in self.inputs)
                raise SampleRateMismatchError(
                    f"inputs of {self.label()} have different sample rates "
                    f"({', '.join(f'{r:g} Hz' for r in rates)}) among [{labels}]; "
                    "resample them to one rate with .resample(to=...) first"
                )
        return first

    def rate_for(self, sample_rate: float) -> float:
        """Return the rate this stream actually runs at when asked for ``sample_rate``."""
        desired = self.desired_sample_rate
        return sample_rate if desired is None else desired

    # -- evaluation ----------------------------------------------------------

    def iter_blocks(self, sample_rate: float, block_size: int | None = None) -> Iterator[Block]:
        """Evaluate the stream and yield its blocks.

        Parameters
        ----------
        sample_rate : float
            Evaluation rate in Hz.
        block_size : int, optional
            Preferred number of elements per block for sources. Results never
            depend on it; only speed and memory do.

        Yields
        ------
        numpy.ndarray or list or batched block
            Blocks of at least one element. Sample streams yield 1-D float64 arrays.
        """
        rate = check_sample_rate(sample_rate)
        size = check_block_size(block_size)
        for block in self._blocks(rate, size):
            if len(block):
                yield block

    def elements(self, sample_rate: float, block_size: int | None = None) -> Iterator[Any]:
        """Evaluate the stream and yield its elements one by one (slow; for inspection)."""
        for block in self.iter_blocks(sample_rate, block_size):
            yield from iter_elements(block)

    def _blocks(self, sample_rate: float, block_size: int) -> Iterator[Block]:
        raise NotImplementedError

    # -- metadata ------------------------------------------------------------

    @property
    def is_finite(self) -> bool:
        """True when the stream is known to end."""
        return all(s.is_finite for s in self.inputs) if self.inputs else False

    def samples_count(self, sample_rate: float) -> int | None:
        """Number of elements the stream yields at ``sample_rate``, or None when unknown."""
        return None


def register_api(name: str | None = None) -> Callable[[Callable], Callable]:
    """Attach a function to :class:`Stream` as a fluent method called ``name``."""

    def decorate(fn: Callable) -> Callable:
        setattr(Stream, name or fn.__name__, fn)
        return fn

    return decorate
