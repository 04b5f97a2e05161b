"""Rendering DOT text to SVG or PNG, and the :class:`Drawing` a notebook displays inline.

Renderers, in the order they are tried:

1. pygraphviz, in-process. Its wheels (2.0 and later) bundle the Graphviz
   libraries, so a plain ``pip install pygraphviz`` is enough.
2. Graphviz's ``dot`` program found on ``PATH``, run as a subprocess.

With neither, :meth:`Drawing._repr_mimebundle_` returns the DOT text and an
install hint as ``text/plain`` instead of raising, because IPython turns an
exception in a display method into a cell error.
"""

from __future__ import annotations

import logging
import os
import shutil
import subprocess
import tempfile
import threading
from types import ModuleType
from typing import Iterable

from ...errors import InvalidParameterError, WaveBeansError

__all__ = ["Drawing", "RendererNotFoundError", "RenderError", "render_dot", "renderer_name", "INSTALL_HINT"]

logger = logging.getLogger(__name__)

#: Install instructions shown by the text fallback.
INSTALL_HINT = (
    "No Graphviz renderer was found, so the drawing is shown as DOT text. Install one with "
    "`pip install pygraphviz` (its wheels include Graphviz) or install Graphviz's `dot` program "
    "(`apt install graphviz`, `brew install graphviz` or `conda install graphviz`), then display "
    "the object again."
)

_FORMATS = ("svg", "png")
#: Seconds the ``dot`` subprocess may run before the render fails.
_DOT_TIMEOUT = 60.0
# Graphviz's C library keeps global state and is not thread-safe.
_GRAPHVIZ_LOCK = threading.Lock()


class RendererNotFoundError(WaveBeansError, RuntimeError):
    """Neither pygraphviz nor a ``dot`` executable is available to render a drawing."""


class RenderError(WaveBeansError, RuntimeError):
    """Graphviz failed to lay out or render a drawing."""


def _load_pygraphviz() -> ModuleType | None:
    try:
        import pygraphviz
    except (ImportError, OSError):  # OSError: the bundled shared libraries failed to load
        logger.debug("pygraphviz is not usable", exc_info=True)
        return None
    return pygraphviz


def _dot_executable() -> str | None:
    return shutil.which("dot")


def renderer_name() -> str | None:
    """Return the renderer drawings will use: ``"pygraphviz"``, the path of ``dot``, or None."""
    if _load_pygraphviz() is not None:
        return "pygraphviz"
    return _dot_executable()


class _NativeStderrCapture:
    """Redirect file descriptor 2 to a temporary file while Graphviz runs in-process.

    Graphviz and fontconfig write warnings straight to descriptor 2, where a
    Jupyter kernel would show them as cell output. The captured text is kept
    in ``text`` for the caller to log or put into an error message.

    NOTE: output that other threads write to descriptor 2 during a render
    (a few milliseconds) is captured and logged at DEBUG level as well.
    """

    def __init__(self) -> None:
        self.text = ""
        self._saved: int | None = None
        self._sink = None

    def __enter__(self) -> "_NativeStderrCapture":
        try:
            self._sink = tempfile.TemporaryFile()
            self._saved = os.dup(2)
            os.dup2(self._sink.fileno(), 2)
        except OSError:  # no usable descriptor 2: render without capturing
            logger.debug("cannot redirect stderr while rendering", exc_info=True)
            self._restore()
        return self

    def __exit__(self, *exc_info: object) -> None:
        self._restore()

    def _restore(self) -> None:
        if self._saved is not None:
            os.dup2(self._saved, 2)
            os.close(self._saved)
            self._saved = None
        if self._sink is not None:
            self._sink.seek(0)
            self.text = self._sink.read().decode("utf-8", errors="replace").strip()
            self._sink.close()
            self._sink = None


def _render_in_process(pygraphviz: ModuleType, dot: str, format: str) -> bytes:
    capture = _NativeStderrCapture()
    try:
        with _GRAPHVIZ_LOCK, capture:
            graph = pygraphviz.AGraph(string=dot)
            data = graph.draw(format=format, prog="dot")
    except (ValueError, TypeError, OSError, RuntimeError) as error:
        detail = f": {capture.text}" if capture.text else ""
        raise RenderError(f"pygraphviz failed to render the drawing as {format} ({error}){detail}") from error
    if capture.text:
        logger.debug("Graphviz messages while rendering: %s", capture.text)
    return data


def _render_with_executable(executable: str, dot: str, format: str) -> bytes:
    command = [executable, f"-T{format}"]
    try:
        result = subprocess.run(command, input=dot.encode("utf-8"), capture_output=True,
                                timeout=_DOT_TIMEOUT, check=False)
    except subprocess.TimeoutExpired:
        raise RenderError(f"`{' '.join(command)}` timed out after {_DOT_TIMEOUT:g} s") from None
    except OSError as error:
        raise RenderError(f"`{' '.join(command)}` could not be run: {error}") from error
    messages = result.stderr.decode("utf-8", errors="replace").strip()
    if result.returncode != 0:
        raise RenderError(f"`{' '.join(command)}` failed with exit code {result.returncode}: {messages}")
    if messages:
        logger.debug("Graphviz messages while rendering: %s", messages)
    return result.stdout


def render_dot(dot: str, format: str = "svg") -> bytes:
    """Lay out DOT text with Graphviz's ``dot`` algorithm and render it.

    Parameters
    ----------
    dot : str
        The graph in the DOT language.
    format : {"svg", "png"}
        Output format.

    Returns
    -------
    bytes
        The SVG document (UTF-8) or the PNG image.

    Raises
    ------
    InvalidParameterError
        If ``format`` is not svg or png.
    RendererNotFoundError
        If neither pygraphviz nor a ``dot`` executable is available.
    RenderError
        If Graphviz rejects the DOT text or fails.
    """
    if format not in _FORMATS:
        raise InvalidParameterError(f"drawing format {format!r} is not supported; use one of {_FORMATS}")
    pygraphviz = _load_pygraphviz()
    executable = _dot_executable()
    if pygraphviz is not None:
        try:
            return _render_in_process(pygraphviz, dot, format)
        except RenderError:
            if executable is None:
                raise
            logger.debug("pygraphviz failed, trying %s", executable, exc_info=True)
    if executable is not None:
        return _render_with_executable(executable, dot, format)
    raise RendererNotFoundError(INSTALL_HINT)


def _select(bundle: dict[str, str], include: Iterable[str] | None, exclude: Iterable[str] | None) -> dict[str, str]:
    if include is not None:
        bundle = {key: value for key, value in bundle.items() if key in set(include)}
    if exclude is not None:
        bundle = {key: value for key, value in bundle.items() if key not in set(exclude)}
    return bundle


class Drawing:
    """A graph drawing: DOT text that Jupyter displays as an inline SVG.

    Parameters
    ----------
    dot : str
        The graph in the DOT language.
    summary : str
        One line that describes the drawing; it is the ``text/plain`` form.

    Examples
    --------
    >>> drawing = Drawing('digraph { a -> b }', "two nodes")
    >>> drawing
    <Drawing: two nodes>
    >>> drawing.dot.startswith("digraph")
    True
    """

    def __init__(self, dot: str, summary: str) -> None:
        self.dot = dot
        self.summary = summary
        self._svg: str | None = None

    def svg(self) -> str:
        """Render the drawing and return the SVG document (rendered once, then cached).

        Raises
        ------
        RendererNotFoundError, RenderError
            As :func:`render_dot`.
        """
        if self._svg is None:
            self._svg = render_dot(self.dot, "svg").decode("utf-8")
        return self._svg

    def png(self) -> bytes:
        """Render the drawing and return it as PNG bytes (raises as :meth:`svg`)."""
        return render_dot(self.dot, "png")

    def save(self, path: "str | os.PathLike[str]") -> None:
        """Write the drawing to ``path``: SVG for ``.svg``, PNG for ``.png``, DOT text for ``.dot`` or ``.gv``.

        Raises
        ------
        InvalidParameterError
            If the file name has another extension.
        """
        extension = os.path.splitext(os.fspath(path))[1].lower()
        if extension in (".dot", ".gv"):
            data = self.dot.encode("utf-8")
        elif extension == ".svg":
            data = self.svg().encode("utf-8")
        elif extension == ".png":
            data = self.png()
        else:
            raise InvalidParameterError(
                f"the drawing format of {os.fspath(path)!r} is unknown; end the name with .svg, .png, .dot or .gv"
            )
        with open(path, "wb") as file:
            file.write(data)

    def text_fallback(self, reason: str) -> str:
        """Return the plain-text form shown when the drawing cannot be rendered."""
        return f"{self.summary}\n{reason}\n\n{self.dot}"

    def _repr_mimebundle_(self, include: Iterable[str] | None = None,
                          exclude: Iterable[str] | None = None) -> dict[str, str]:
        """Return the SVG and summary, or the DOT text with a hint when rendering is impossible."""
        try:
            bundle = {"image/svg+xml": self.svg(), "text/plain": self.summary}
        except RendererNotFoundError:
            bundle = {"text/plain": self.text_fallback(INSTALL_HINT)}
        except Exception as error:  # IPython would show any exception here as a failed cell
            logger.warning("drawing %r could not be rendered: %s", self.summary, error)
            bundle = {"text/plain": self.text_fallback(f"Rendering failed: {error}")}
        return _select(bundle, include, exclude)

    def __repr__(self) -> str:
        return f"<Drawing: {self.summary}>"
