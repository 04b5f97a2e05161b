"""The notebook layer: inline graph drawings, waveform and spectrogram plots, audio preview.

* :func:`draw_topology`, :func:`draw_pods`, :func:`draw_plan` return a
  :class:`Drawing` that Jupyter shows as an SVG (Graphviz through pygraphviz
  or the ``dot`` program), or as DOT text with an install hint.
* :func:`plot_waveform` and :func:`plot_spectrogram` plot a finite stream, or
  the first seconds of an infinite one, with matplotlib.
* :func:`preview` returns an ``IPython.display.Audio`` player of a stream.
* :class:`JobMonitor` polls a running job's status on a background thread;
  :class:`StatusWidget` shows it as ipywidgets with live thumbnails
  (:func:`thumbnail_svg`) and a cancel button.
* ``%load_ext wavebeans_nb`` registers the ``%wavebeans`` magics
  (:mod:`wavebeans_nb.notebook.magics`).

matplotlib and IPython are imported only when a plot or preview is made.
"""

from .drawing import Drawing, RenderError, RendererNotFoundError, draw, draw_plan, draw_pods, draw_topology
from .plots import plot_spectrogram, plot_waveform
from .preview import preview
from .thumbnails import thumbnail_svg
from .widgets import JobMonitor, JobSnapshot, StatusWidget, format_summary

__all__ = [
    "Drawing", "RenderError", "RendererNotFoundError", "draw", "draw_topology", "draw_pods", "draw_plan",
    "plot_waveform", "plot_spectrogram", "preview",
    "JobMonitor", "JobSnapshot", "StatusWidget", "format_summary", "thumbnail_svg",
]
