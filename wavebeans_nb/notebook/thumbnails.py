"""Small inline SVG pictures of what an output has written so far.

The pictures are drawn from the bounded summaries in an overseer's status
(see :class:`wavebeans_nb.execution.summary.OutputSummary`), never from the
audio itself, so a thumbnail costs the same for a second of audio as for an
hour:

* ``{"kind": "envelope", "min": [...], "max": [...], ...}`` becomes a filled
  waveform envelope, scaled to its peak;
* ``{"kind": "spectrum", "magnitude_db": [...], ...}`` becomes a polyline of
  the latest spectrum, showing the top 80 dB.

A summary with another kind, or none, gives an empty string.
"""

from __future__ import annotations

import math
from typing import Any, Sequence

__all__ = ["thumbnail_svg", "SPECTRUM_RANGE_DB"]

SPECTRUM_RANGE_DB = 80.0
_FILL = "#4c78a8"
_LINE = "#e45756"


def thumbnail_svg(summary: dict | None, width: int = 160, height: int = 32,
                  progress: float | None = None) -> str:
    """Draw a status summary as an inline SVG document.

    Parameters
    ----------
    summary : dict or None
        One output's ``summary`` from an overseer's ``status()``.
    width, height : int
        Picture size in CSS pixels.
    progress : float, optional
        Fraction (0 to 1) of the output written so far. An envelope then
        covers only that part of the width, so it grows as the job runs.

    Returns
    -------
    str
        An ``<svg>`` element, or ``""`` when there is nothing to draw.
    """
    if not isinstance(summary, dict):
        return ""
    kind = summary.get("kind")
    if kind == "envelope":
        body = _envelope(summary.get("min") or [], summary.get("max") or [], width, height, progress)
    elif kind == "spectrum":
        body = _spectrum(summary.get("magnitude_db") or [], width, height)
    else:
        return ""
    if not body:
        return ""
    return (f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" '
            f'viewBox="0 0 {width} {height}" style="background:#f4f4f4">{body}</svg>')


def _finite(values: Sequence[Any], default: float) -> list[float]:
    result = []
    for value in values:
        number = float(value) if value is not None else default
        result.append(number if math.isfinite(number) else default)
    return result


def _envelope(low: Sequence[Any], high: Sequence[Any], width: int, height: int,
              progress: float | None) -> str:
    count = min(len(low), len(high))
    if count == 0:
        return ""
    low, high = _finite(low[:count], 0.0), _finite(high[:count], 0.0)
    peak = max(max(abs(v) for v in low), max(abs(v) for v in high)) or 1.0
    span = width if progress is None else width * min(1.0, max(0.0, progress))
    step = span / count
    middle = height / 2.0
    scale = (height / 2.0 - 1.0) / peak

    def point(x: float, value: float) -> str:
        return f"{x:.1f},{middle - value * scale:.1f}"

    top = [point(i * step + step / 2.0, value) for i, value in enumerate(high)]
    bottom = [point(i * step + step / 2.0, value) for i, value in reversed(list(enumerate(low)))]
    if count == 1:  # a single bucket: a vertical bar
        top, bottom = [point(0.0, high[0]), point(step, high[0])], [point(step, low[0]), point(0.0, low[0])]
    return (f'<line x1="0" y1="{middle:.1f}" x2="{width}" y2="{middle:.1f}" stroke="#ccc" stroke-width="0.5"/>'
            f'<polygon points="{" ".join(top + bottom)}" fill="{_FILL}" stroke="{_FILL}" stroke-width="0.5"/>')


def _spectrum(magnitude: Sequence[Any], width: int, height: int) -> str:
    if len(magnitude) < 2:
        return ""
    values = _finite(magnitude, -math.inf)
    top = max(values)
    if not math.isfinite(top):
        return ""
    floor = top - SPECTRUM_RANGE_DB
    step = width / (len(values) - 1)
    points = []
    for i, value in enumerate(values):
        level = (max(value, floor) - floor) / SPECTRUM_RANGE_DB
        points.append(f"{i * step:.1f},{(height - 1.0) - level * (height - 2.0):.1f}")
    return f'<polyline points="{" ".join(points)}" fill="none" stroke="{_LINE}" stroke-width="1"/>'
