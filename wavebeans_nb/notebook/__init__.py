"""The notebook layer: inline graph drawings, waveform and spectrogram plots, audio preview.

* :func:`draw_topology`, :func:`draw_pods`, :func:`draw_plan` return a
  :class:`Drawing` that Jupyter shows as an SVG (Graphviz through pygraphviz
  or the ``dot`` program), or as DOT text with an install hint.
* :func:`plot_waveform` and :func:`plot_spectrogram` plot a finite stream, or
  the first seconds of an infinite one, with matplotlib.
* :func:`preview` returns an ``IPython.display.Audio`` player of a stream.

matplotlib and IPython are imported only when a plot or preview is made.
"""

from .drawing import Drawing, RenderError, RendererNotFoundError, draw, draw_plan, draw_pods, draw_topology
from .plots import plot_spectrogram, plot_waveform
from .preview import preview

__all__ = [
    "Drawing", "RenderError", "RendererNotFoundError", "draw", "draw_topology", "draw_pods", "draw_plan",
    "plot_waveform", "plot_spectrogram", "preview",
]
