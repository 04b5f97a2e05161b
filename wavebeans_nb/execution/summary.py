"""Bounded summaries of what an output has written so far, for live thumbnails in status data.

An :class:`OutputSummary` watches the blocks an output writes (it is a
writer's ``observer``) and keeps a picture of fixed size, whatever the
stream length:

* sample streams: a min/max envelope of at most ``buckets`` buckets. When the
  buckets are full, neighbours are merged in pairs and the bucket size doubles.
* FFT streams: the magnitude in dB of the latest frame, max-pooled to at most
  ``spectrum_bins`` values.

:meth:`OutputSummary.snapshot` returns plain data (lists, floats, strings) that
pickles and serialises to JSON, so status handlers can ship it between
processes. Other element types get no picture (``snapshot()`` returns None).
"""

from __future__ import annotations

import threading
from typing import Any

import numpy as np

from ..beans.types import FftBlock, FftSample

__all__ = ["OutputSummary", "DEFAULT_BUCKETS", "DEFAULT_SPECTRUM_BINS", "FLOOR_DB"]

DEFAULT_BUCKETS = 128
DEFAULT_SPECTRUM_BINS = 64
FLOOR_DB = -200.0
"""Magnitudes below this (including the -inf of an empty bin) are stored as this value, in dB."""


class OutputSummary:
    """A fixed-size picture of the elements written so far; safe to read while another thread writes.

    Parameters
    ----------
    buckets : int, default 128
        Maximum envelope buckets; must be even and at least 2.
    spectrum_bins : int, default 64
        Maximum values of the spectrum of the latest FFT frame.
    """

    def __init__(self, buckets: int = DEFAULT_BUCKETS, spectrum_bins: int = DEFAULT_SPECTRUM_BINS) -> None:
        if buckets < 2 or buckets % 2:
            raise ValueError(f"buckets={buckets} is invalid; pass an even number of at least 2")
        self.buckets = buckets
        self.spectrum_bins = spectrum_bins
        self.bucket_size = 1
        self.elements = 0
        self._lock = threading.Lock()
        self._min = np.empty(0)
        self._max = np.empty(0)
        self._open_count = 0
        self._open_min = np.inf
        self._open_max = -np.inf
        self._spectrum: dict[str, Any] | None = None

    def __call__(self, block: Any) -> None:
        """Record one written block (so the summary can be a writer's observer)."""
        with self._lock:
            self.elements += len(block)
            if isinstance(block, np.ndarray) and block.ndim == 1:
                self._add_samples(block)
            elif isinstance(block, FftBlock) and len(block):
                self._set_spectrum(block.magnitude()[-1], block.sample_rate, block.index[-1])
            elif isinstance(block, list) and block and isinstance(block[-1], FftSample):
                frame = block[-1]
                self._set_spectrum(frame.magnitude(), frame.sample_rate, frame.index)

    def snapshot(self) -> dict | None:
        """Return the picture as plain data, or None when the elements have no picture.

        Returns
        -------
        dict or None
            ``{"kind": "envelope", "elements", "samples_per_bucket", "min", "max"}``
            (lists of floats, the last bucket possibly partial), or ``{"kind":
            "spectrum", "elements", "frame", "frequency_max" (Hz), "magnitude_db"}``.
        """
        with self._lock:
            if self._spectrum is not None:
                return {"kind": "spectrum", "elements": self.elements, **self._spectrum}
            if not len(self._min) and not self._open_count:
                return None
            low, high = self._min, self._max
            if self._open_count:
                low = np.append(low, self._open_min)
                high = np.append(high, self._open_max)
            return {"kind": "envelope", "elements": self.elements, "samples_per_bucket": self.bucket_size,
                    "min": low.tolist(), "max": high.tolist()}

    def _add_samples(self, samples: np.ndarray) -> None:
        position, count = 0, len(samples)
        while position < count:
            if len(self._min) == self.buckets:
                self._merge_pairs()
            size = self.bucket_size
            if self._open_count or count - position < size:
                part = samples[position:position + size - self._open_count]
                self._open_min = min(self._open_min, float(part.min()))
                self._open_max = max(self._open_max, float(part.max()))
                self._open_count += len(part)
                position += len(part)
                if self._open_count == size:
                    self._min = np.append(self._min, self._open_min)
                    self._max = np.append(self._max, self._open_max)
                    self._open_count, self._open_min, self._open_max = 0, np.inf, -np.inf
                continue
            whole = min((count - position) // size, self.buckets - len(self._min))
            rows = samples[position:position + whole * size].reshape(whole, size)
            self._min = np.concatenate([self._min, rows.min(axis=1)])
            self._max = np.concatenate([self._max, rows.max(axis=1)])
            position += whole * size

    def _merge_pairs(self) -> None:
        # Called only when every bucket is full, so an open bucket contains fewer samples than the old size.
        self._min = self._min.reshape(-1, 2).min(axis=1)
        self._max = self._max.reshape(-1, 2).max(axis=1)
        self.bucket_size *= 2

    def _set_spectrum(self, magnitude: np.ndarray, sample_rate: float, frame: int) -> None:
        values = np.maximum(np.nan_to_num(magnitude, nan=FLOOR_DB, neginf=FLOOR_DB), FLOOR_DB)
        group = max(1, -(-len(values) // self.spectrum_bins))
        padded = np.full(-(-len(values) // group) * group, FLOOR_DB)
        padded[:len(values)] = values
        self._spectrum = {"frame": int(frame), "frequency_max": sample_rate / 2.0,
                          "magnitude_db": padded.reshape(-1, group).max(axis=1).tolist()}
