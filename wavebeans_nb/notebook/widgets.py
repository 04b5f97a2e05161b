"""Live job status: a polling model (:class:`JobMonitor`) and an ipywidgets view (:class:`StatusWidget`).

The model polls an overseer's ``status()`` and the job's futures on a
background thread, so the kernel stays free while a job runs. Each poll gives a
:class:`JobSnapshot` of plain values that listeners receive. The view turns
snapshots into widget updates. ipykernel 7.1 or later sends comm messages from
background threads correctly (7.0 did not). Where widgets cannot render, the
view's ``text/plain`` form is the model's text summary.

An overseer only needs ``status()`` returning a dict with ``job_id``,
``state`` and ``outputs`` (per output: ``label``, ``state``,
``elements_written``, ``elements_expected``, ``error``, ``summary``), plus
optionally ``partitions``, ``threads`` and ``facilitators`` (per facilitator:
``address`` and its ``pods``, or ``bushes`` that contain ``pods``), and
``cancel()``.
"""

from __future__ import annotations

import html
import logging
import threading
import time
from concurrent.futures import Future
from dataclasses import dataclass, field
from typing import Any, Callable, Sequence

from ..errors import JobCancelledError
from .thumbnails import thumbnail_svg

__all__ = ["JobMonitor", "JobSnapshot", "OutputRow", "FacilitatorRow", "StatusWidget", "format_summary",
           "TERMINAL_STATES"]

logger = logging.getLogger(__name__)

TERMINAL_STATES = frozenset({"done", "failed", "cancelled", "lost"})
"""Output and job states after which nothing changes any more."""


@dataclass(frozen=True)
class OutputRow:
    """One output in a snapshot.

    Attributes
    ----------
    rate : float or None
        Mean elements per second since the job started (samples per second for
        a sample stream); None before any element was written.
    elapsed : float
        Seconds since the job started, frozen when the output reached its final state.
    """

    label: str
    state: str
    elements_written: int
    elements_expected: int | None
    rate: float | None
    elapsed: float
    error: str | None = None
    summary: dict | None = None

    @property
    def fraction(self) -> float | None:
        """Part of the expected elements written, from 0 to 1; None when the length is unknown."""
        if not self.elements_expected:
            return None
        return min(1.0, self.elements_written / self.elements_expected)


@dataclass(frozen=True)
class FacilitatorRow:
    """One facilitator (Dask worker) of a distributed job and its pods, as plain status dicts."""

    address: str
    pods: list[dict] = field(default_factory=list)
    error: str | None = None


@dataclass(frozen=True)
class JobSnapshot:
    """A job's state at one poll.

    Attributes
    ----------
    finished : bool
        True once every output reached a final state; the monitor then stops polling.
    poll_error : str or None
        Why the last ``status()`` call failed; the rows then keep the previous values.
    """

    job_id: str | None
    state: str
    elapsed: float
    outputs: list[OutputRow]
    facilitators: list[FacilitatorRow]
    finished: bool
    partitions: int | None = None
    threads: int | None = None
    poll_error: str | None = None


def _result_state(future: Future) -> tuple[str, str | None]:
    """Return the final state and error text of a done future."""
    if future.cancelled():
        return "cancelled", "the future was cancelled"
    error = future.exception()
    if error is not None:
        return "failed", f"{type(error).__name__}: {error}"
    result = future.result()
    if getattr(result, "finished", True):
        return "done", None
    exception = getattr(result, "exception", None)
    if isinstance(exception, JobCancelledError):
        return "cancelled", str(exception)
    return "failed", f"{type(exception).__name__}: {exception}"


def _facilitator_rows(entries: Sequence[dict], pods: Sequence[dict]) -> list[FacilitatorRow]:
    """Return a row per facilitator with its pods' status dicts.

    Pods are taken from the job's ``pods`` list by their ``facilitator``
    address; a facilitator entry may also list them itself, as dicts or keys.
    """
    rows = []
    for entry in entries or []:
        address = str(entry.get("address") or entry.get("name") or "?")
        own = [pod for pod in pods if pod.get("facilitator") == address]
        if not own:
            listed = list(entry.get("pods") or [])
            for bush in entry.get("bushes") or []:
                listed.extend(bush.get("pods") or [])
            own = [pod if isinstance(pod, dict) else {"key": str(pod)} for pod in listed]
        error = entry.get("error")
        state = entry.get("state")
        if state and state != "ok" and not error:
            error = state
        rows.append(FacilitatorRow(address, own, error))
    return rows


class JobMonitor:
    """Poll a job's status and futures, and tell listeners what changed.

    Parameters
    ----------
    overseer
        Anything with ``status()`` and ``cancel()`` (the overseers of this package).
    futures : sequence of Future, optional
        The futures ``eval()`` returned, in output order. Their results decide
        each output's final state, and their completion wakes the poller early.
    interval : float, default 0.5
        Seconds between status polls.
    labels : sequence of str, optional
        Names to show for the outputs (for example the notebook variable names)
        in place of the output labels from the status.
    clock : callable, optional
        Returns the time in seconds; tests pass a fake clock.

    Examples
    --------
    >>> import wavebeans_nb as wb
    >>> overseer = wb.SingleThreadedOverseer([wb.sine(440).trim(10).to_dev_null()])
    >>> monitor = JobMonitor(overseer, overseer.eval(8000))
    >>> monitor.wait(10).state
    'done'
    >>> overseer.close()
    """

    def __init__(self, overseer: Any, futures: Sequence[Future] | None = None, interval: float = 0.5,
                 labels: Sequence[str] | None = None, clock: Callable[[], float] = time.monotonic) -> None:
        if interval <= 0:
            raise ValueError(f"interval={interval} is invalid; pass a positive number of seconds")
        self.overseer = overseer
        self.futures = list(futures or [])
        self.interval = interval
        self.labels = list(labels) if labels is not None else None
        self._clock = clock
        self._started = clock()
        self._ended_at: dict[int, float] = {}
        self._listeners: list[Callable[[JobSnapshot], None]] = []
        self._lock = threading.Lock()
        self._wake = threading.Event()
        self._stop = threading.Event()
        self._finished = threading.Event()
        self._thread: threading.Thread | None = None
        self._last_status: dict = {}
        self.snapshot: JobSnapshot | None = None
        for future in self.futures:
            future.add_done_callback(lambda _: self._wake.set())

    # -- polling ---------------------------------------------------------------------------------

    def poll(self) -> JobSnapshot:
        """Ask the overseer for its status once, merge the futures, notify listeners and return the snapshot."""
        poll_error = None
        try:
            status = self.overseer.status() or {}
            self._last_status = status
        except Exception as error:  # a status call failing must not end the monitor; show it instead
            logger.info("status poll failed: %r", error)
            status = self._last_status
            poll_error = f"{type(error).__name__}: {error}"
        snapshot = self._merge(status, poll_error)
        with self._lock:
            self.snapshot = snapshot
        self._notify(snapshot)
        return snapshot

    def _merge(self, status: dict, poll_error: str | None) -> JobSnapshot:
        now = self._clock()
        entries = list(status.get("outputs") or [])
        count = max(len(entries), len(self.futures))
        rows = []
        for index in range(count):
            entry = entries[index] if index < len(entries) else {}
            rows.append(self._row(index, entry, now))
        finished = bool(rows) and all(row.state in TERMINAL_STATES for row in rows)
        if not rows:
            finished = status.get("state") in TERMINAL_STATES
        return JobSnapshot(
            job_id=status.get("job_id"), state=self._job_state(status.get("state"), rows, finished),
            elapsed=max((row.elapsed for row in rows), default=now - self._started), outputs=rows,
            facilitators=_facilitator_rows(status.get("facilitators") or [], status.get("pods") or []), finished=finished,
            partitions=status.get("partitions"), threads=status.get("threads"), poll_error=poll_error,
        )

    def _row(self, index: int, entry: dict, now: float) -> OutputRow:
        state = entry.get("state") or "planted"
        error = entry.get("error")
        future = self.futures[index] if index < len(self.futures) else None
        if future is not None and future.done():
            state, future_error = _result_state(future)
            error = future_error or error
        elif future is not None and state in TERMINAL_STATES:
            state = "closing"  # the pod ended, but its future (commit) has not resolved yet
        if state in TERMINAL_STATES:
            self._ended_at.setdefault(index, now)
        elapsed = self._ended_at.get(index, now) - self._started
        written = int(entry.get("elements_written") or 0)
        rate = written / elapsed if written and elapsed > 0 else None
        if self.labels is not None and index < len(self.labels):
            label = self.labels[index]
        else:
            label = entry.get("label") or f"output {index}"
        return OutputRow(label, state, written, entry.get("elements_expected"), rate, elapsed,
                         None if error is None else str(error), entry.get("summary"))

    @staticmethod
    def _job_state(reported: str | None, rows: list[OutputRow], finished: bool) -> str:
        if not finished:
            return "running" if rows else (reported or "idle")
        states = {row.state for row in rows}
        for state in ("failed", "lost", "cancelled"):
            if state in states:
                return state
        return "done" if rows else (reported or "done")

    # -- listeners and the background thread --------------------------------------------------------

    def subscribe(self, listener: Callable[[JobSnapshot], None]) -> None:
        """Call ``listener(snapshot)`` after every poll, on the polling thread."""
        self._listeners.append(listener)

    def _notify(self, snapshot: JobSnapshot) -> None:
        for listener in list(self._listeners):
            try:
                listener(snapshot)
            except Exception:  # one broken view must not stop the others or the poller
                logger.exception("status listener %r failed", listener)

    def start(self) -> "JobMonitor":
        """Poll every ``interval`` seconds on a daemon thread until the job ends; return self at once."""
        if self._thread is None:
            self._thread = threading.Thread(target=self._run, name="wavebeans-status", daemon=True)
            self._thread.start()
        return self

    def _run(self) -> None:
        while not self._stop.is_set():
            snapshot = self.poll()
            if snapshot.finished:
                self._finished.set()
                return
            self._wake.wait(self.interval)
            self._wake.clear()

    def stop(self) -> None:
        """Stop polling (the job itself keeps running)."""
        self._stop.set()
        self._wake.set()

    @property
    def finished(self) -> bool:
        """Whether the polling thread saw every output reach its final state."""
        return self._finished.is_set()

    def wait(self, timeout: float | None = None) -> JobSnapshot:
        """Block until the job ends or ``timeout`` seconds pass; return the latest snapshot.

        Without a running polling thread this polls in the calling thread.
        """
        if self._thread is None:
            deadline = None if timeout is None else self._clock() + timeout
            snapshot = self.poll()
            while not snapshot.finished and (deadline is None or self._clock() < deadline):
                self._wake.wait(self.interval)
                self._wake.clear()
                snapshot = self.poll()
            if snapshot.finished:
                self._finished.set()
            return snapshot
        self._finished.wait(timeout)
        return self.snapshot if self.snapshot is not None else self.poll()

    def cancel(self) -> None:
        """Cancel the job through the overseer and poll soon after."""
        logger.info("cancelling job %s from its status view", self.snapshot.job_id if self.snapshot else None)
        self.overseer.cancel()
        self._wake.set()

    def summary_text(self) -> str:
        """Return the latest snapshot as plain text (polling once if there is none yet)."""
        snapshot = self.snapshot if self.snapshot is not None else self.poll()
        return format_summary(snapshot)


# -- text ----------------------------------------------------------------------------------------------


def _format_count(value: float) -> str:
    for limit, suffix in ((1e9, "G"), (1e6, "M"), (1e3, "k")):
        if abs(value) >= limit:
            return f"{value / limit:.1f} {suffix}"
    return f"{value:.0f}"


def format_progress(row: OutputRow) -> str:
    """Return ``written / expected (percent)``, or ``written elements`` when the length is unknown."""
    if row.fraction is None:
        return f"{row.elements_written} elements"
    return f"{row.elements_written} / {row.elements_expected} ({row.fraction:.0%})"


def format_rate(row: OutputRow) -> str:
    return "" if row.rate is None else f"{_format_count(row.rate)}/s"


def format_summary(snapshot: JobSnapshot) -> str:
    """Return a snapshot as a few lines of text: the job, then one line per output and facilitator."""
    details = []
    if snapshot.partitions:
        details.append(f"{snapshot.partitions} partition(s)")
    if snapshot.threads:
        details.append(f"{snapshot.threads} thread(s)")
    head = f"wavebeans job {snapshot.job_id}: {snapshot.state}, {snapshot.elapsed:.1f} s"
    lines = [head + (f" ({', '.join(details)})" if details else "")]
    if snapshot.poll_error:
        lines.append(f"  status poll failed: {snapshot.poll_error}")
    for row in snapshot.outputs:
        parts = [row.label, row.state, format_progress(row)]
        if row.rate is not None:
            parts.append(format_rate(row))
        line = "  " + ", ".join(parts)
        if row.error:
            line += f"\n    error: {row.error}"
        lines.append(line)
    for facilitator in snapshot.facilitators:
        pods = ", ".join(f"{pod.get('key')} {pod.get('state', '')}".strip() for pod in facilitator.pods)
        lines.append(f"  facilitator {facilitator.address}: {len(facilitator.pods)} pod(s)"
                     + (f" [{pods}]" if pods else ""))
    return "\n".join(lines)


# -- the ipywidgets view -------------------------------------------------------------------------------------

_STATE_COLOURS = {"done": "#2e7d32", "failed": "#c62828", "lost": "#c62828", "cancelled": "#ef6c00",
                  "running": "#1565c0", "closing": "#1565c0"}
_BAR_STYLES = {"done": "success", "failed": "danger", "lost": "danger", "cancelled": "warning"}


class _OutputView:
    """The widgets of one output row: name, state, bar, numbers, thumbnail and error."""

    def __init__(self, widgets: Any) -> None:
        self.name = widgets.HTML(layout=widgets.Layout(width="14em"))
        self.state = widgets.HTML(layout=widgets.Layout(width="6em"))
        self.bar = widgets.FloatProgress(value=0.0, min=0.0, max=1.0, layout=widgets.Layout(width="12em"))
        self.numbers = widgets.HTML(layout=widgets.Layout(width="18em"))
        self.thumbnail = widgets.HTML(layout=widgets.Layout(width="170px"))
        self.error = widgets.HTML()
        row = widgets.HBox([self.name, self.state, self.bar, self.numbers, self.thumbnail])
        self.box = widgets.VBox([row, self.error])

    def update(self, row: OutputRow) -> None:
        colour = _STATE_COLOURS.get(row.state, "#555")
        self.name.value = f"<b>{html.escape(row.label)}</b>"
        self.state.value = f'<span style="color:{colour}">{html.escape(row.state)}</span>'
        if row.fraction is None:
            # Unknown length: a full bar in the "info" style, as progress bars without a total do.
            self.bar.value = 1.0 if row.elements_written else 0.0
            self.bar.bar_style = _BAR_STYLES.get(row.state, "info")
        else:
            self.bar.value = row.fraction
            self.bar.bar_style = _BAR_STYLES.get(row.state, "")
        numbers = [format_progress(row), format_rate(row), f"{row.elapsed:.1f} s"]
        self.numbers.value = html.escape(" · ".join(part for part in numbers if part))
        self.thumbnail.value = thumbnail_svg(row.summary, progress=row.fraction)
        self.error.value = ("" if not row.error else
                            f'<pre style="color:#c62828;margin:0 0 0 1em;white-space:pre-wrap">'
                            f"{html.escape(row.error)}</pre>")


class StatusWidget:
    """An ipywidgets view of a :class:`JobMonitor`: a row per output, a section per facilitator, a cancel button.

    Display it as the last expression of a cell (or with ``IPython.display.display``).
    Frontends without widget support show the monitor's text summary.

    Parameters
    ----------
    monitor : JobMonitor
        The model to show; the view subscribes to it and updates on every poll.
    title : str, optional
        Heading, such as the evaluation mode.
    """

    def __init__(self, monitor: JobMonitor, title: str | None = None) -> None:
        import ipywidgets as widgets

        self._widgets = widgets
        self.monitor = monitor
        self.title = title
        self.header = widgets.HTML()
        self.cancel_button = widgets.Button(description="Cancel", icon="stop", button_style="warning",
                                            tooltip="Cancel the job; unfinished outputs keep their old content")
        self.cancel_button.on_click(lambda _: self.monitor.cancel())
        self.rows = widgets.VBox()
        self.facilitators = widgets.VBox()
        self._row_views: list[_OutputView] = []
        self.box = widgets.VBox([widgets.HBox([self.header, self.cancel_button]), self.rows, self.facilitators])
        self._lock = threading.Lock()
        monitor.subscribe(self.update)
        if monitor.snapshot is not None:
            self.update(monitor.snapshot)

    def update(self, snapshot: JobSnapshot) -> None:
        """Show ``snapshot``; called on the monitor's thread."""
        with self._lock:
            self._update_header(snapshot)
            while len(self._row_views) < len(snapshot.outputs):
                self._row_views.append(_OutputView(self._widgets))
                self.rows.children = [view.box for view in self._row_views]
            for view, row in zip(self._row_views, snapshot.outputs):
                view.update(row)
            self._update_facilitators(snapshot)
            self.cancel_button.disabled = snapshot.finished

    def _update_header(self, snapshot: JobSnapshot) -> None:
        colour = _STATE_COLOURS.get(snapshot.state, "#555")
        title = f"{html.escape(self.title)} " if self.title else ""
        text = (f"<b>{title}job {html.escape(str(snapshot.job_id))}</b>: "
                f'<span style="color:{colour}">{html.escape(snapshot.state)}</span>, {snapshot.elapsed:.1f} s')
        if snapshot.poll_error:
            text += f' <span style="color:#c62828">(status poll failed: {html.escape(snapshot.poll_error)})</span>'
        self.header.value = text

    def _update_facilitators(self, snapshot: JobSnapshot) -> None:
        widgets = self._widgets
        if len(self.facilitators.children) != len(snapshot.facilitators):
            self.facilitators.children = [widgets.HTML() for _ in snapshot.facilitators]
        for view, facilitator in zip(self.facilitators.children, snapshot.facilitators):
            view.value = _facilitator_html(facilitator)

    def _repr_mimebundle_(self, include: Any = None, exclude: Any = None) -> dict:
        bundle = dict(self.box._repr_mimebundle_(include=include, exclude=exclude) or {})
        bundle["text/plain"] = self.monitor.summary_text()
        return bundle


def _facilitator_html(facilitator: FacilitatorRow) -> str:
    items = []
    for pod in facilitator.pods:
        state = pod.get("state", "")
        colour = _STATE_COLOURS.get(state, "#555")
        calls = pod.get("calls_served")
        text = f"{html.escape(str(pod.get('key')))} {html.escape(str(pod.get('label', '')))}"
        text += f' <span style="color:{colour}">{html.escape(str(state))}</span>'
        if calls is not None:
            text += f" · {calls} calls"
        items.append(f"<li>{text}</li>")
    error = f'<div style="color:#c62828">{html.escape(facilitator.error)}</div>' if facilitator.error else ""
    return (f"<div><b>facilitator {html.escape(facilitator.address)}</b>: {len(facilitator.pods)} pod(s)"
            f"{error}<ul style='margin:0'>{''.join(items)}</ul></div>")
