"""The status model (JobMonitor) against a fake overseer, the widget view, thumbnails and output summaries."""

from __future__ import annotations

import math
import threading
from concurrent.futures import Future

import numpy as np
import pytest

import wavebeans_nb as wb
from wavebeans_nb.errors import JobCancelledError
from wavebeans_nb.execution.result import ExecutionResult
from wavebeans_nb.execution.summary import OutputSummary
from wavebeans_nb.notebook.thumbnails import thumbnail_svg
from wavebeans_nb.notebook.widgets import JobMonitor, StatusWidget, format_summary

BLOCK_SIZES = [1, 3, 1000, 4096]


class FakeClock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


class FakeOverseer:
    """An overseer whose status() returns what the test sets, and that records cancel() calls."""

    def __init__(self, status: dict) -> None:
        self.next_status = status
        self.cancelled = 0
        self.fail_with: Exception | None = None

    def status(self) -> dict:
        if self.fail_with is not None:
            raise self.fail_with
        return self.next_status

    def cancel(self) -> None:
        self.cancelled += 1


def output_status(state: str, written: int, expected: int | None = 1000, error: str | None = None,
                  summary: dict | None = None, label: str = "to_wav") -> dict:
    return {"label": label, "state": state, "elements_written": written, "elements_expected": expected,
            "error": error, "summary": summary}


def resolved(result: ExecutionResult) -> Future:
    future: Future = Future()
    future.set_result(result)
    return future


# -- the model ------------------------------------------------------------------------------------------


def test_monitor_row_progress_and_rate():
    clock = FakeClock()
    overseer = FakeOverseer({"job_id": "j1", "state": "running", "partitions": 2, "threads": 4,
                             "outputs": [output_status("running", 250), output_status("running", 7, None)]})
    monitor = JobMonitor(overseer, clock=clock)
    clock.now += 2.0
    snapshot = monitor.poll()
    first, second = snapshot.outputs
    assert snapshot.job_id == "j1"
    assert snapshot.state == "running"
    assert not snapshot.finished
    assert first.fraction == 0.25
    assert first.rate == pytest.approx(125.0)
    assert first.elapsed == pytest.approx(2.0)
    assert second.fraction is None
    assert second.rate == pytest.approx(3.5)


def test_monitor_freezes_elapsed_at_end():
    clock = FakeClock()
    overseer = FakeOverseer({"job_id": "j", "state": "running", "outputs": [output_status("running", 10)]})
    future: Future = Future()
    monitor = JobMonitor(overseer, [future], clock=clock)
    clock.now += 1.0
    monitor.poll()
    overseer.next_status = {"job_id": "j", "state": "done", "outputs": [output_status("done", 1000)]}
    future.set_result(ExecutionResult.success())
    clock.now += 1.0
    done = monitor.poll()
    clock.now += 5.0
    later = monitor.poll()
    assert done.finished
    assert done.state == "done"
    assert later.outputs[0].elapsed == pytest.approx(2.0)
    assert later.outputs[0].rate == pytest.approx(500.0)


def test_monitor_waits_for_future_before_final_state():
    overseer = FakeOverseer({"job_id": "j", "state": "running", "outputs": [output_status("done", 1000)]})
    future: Future = Future()
    snapshot = JobMonitor(overseer, [future]).poll()
    assert snapshot.outputs[0].state == "closing"
    assert not snapshot.finished


def test_monitor_future_errors_decide_state():
    overseer = FakeOverseer({"job_id": "j", "state": "failed",
                             "outputs": [output_status("running", 3), output_status("running", 4)]})
    futures = [resolved(ExecutionResult.error(ValueError("bad sample"))),
               resolved(ExecutionResult.error(JobCancelledError("job j was cancelled")))]
    snapshot = JobMonitor(overseer, futures).poll()
    failed, cancelled = snapshot.outputs
    assert failed.state == "failed"
    assert failed.error == "ValueError: bad sample"
    assert cancelled.state == "cancelled"
    assert snapshot.state == "failed"
    assert snapshot.finished


def test_monitor_raising_future_is_failed():
    future: Future = Future()
    future.set_exception(OSError("worker gone"))
    overseer = FakeOverseer({"job_id": "j", "outputs": [output_status("running", 3)]})
    row = JobMonitor(overseer, [future]).poll().outputs[0]
    assert row.state == "failed"
    assert row.error == "OSError: worker gone"


def test_monitor_keeps_rows_when_status_fails():
    overseer = FakeOverseer({"job_id": "j", "state": "running", "outputs": [output_status("running", 40)]})
    monitor = JobMonitor(overseer)
    monitor.poll()
    overseer.fail_with = ConnectionError("scheduler unreachable")
    snapshot = monitor.poll()
    assert snapshot.poll_error == "ConnectionError: scheduler unreachable"
    assert snapshot.outputs[0].elements_written == 40
    assert "status poll failed" in format_summary(snapshot)


def test_monitor_facilitator_rows():
    status = {"job_id": "j", "state": "running", "outputs": [output_status("running", 1)],
              "pods": [{"key": "1.0", "label": "sine", "state": "running", "facilitator": "tcp://a:1"},
                       {"key": "2.0", "label": "to_wav", "state": "running", "facilitator": "tcp://b:2"},
                       {"key": "3.0", "label": "map", "state": "running", "facilitator": "tcp://b:2"}],
              "facilitators": [{"address": "tcp://a:1", "state": "ok", "bushes": [{"bush": "x", "pods": ["1.0"]}]},
                               {"address": "tcp://b:2", "state": "lost", "error": None, "bushes": []}]}
    snapshot = JobMonitor(FakeOverseer(status)).poll()
    first, second = snapshot.facilitators
    assert first.address == "tcp://a:1"
    assert [pod["key"] for pod in first.pods] == ["1.0"]
    assert [pod["key"] for pod in second.pods] == ["2.0", "3.0"]
    assert second.error == "lost"
    assert "facilitator tcp://b:2: 2 pod(s)" in format_summary(snapshot)


def test_monitor_labels_override_status_labels():
    overseer = FakeOverseer({"job_id": "j", "outputs": [output_status("running", 1, label="to_dev_null")]})
    assert JobMonitor(overseer, labels=["voice"]).poll().outputs[0].label == "voice"


def test_monitor_thread_stops_when_job_ends():
    overseer = FakeOverseer({"job_id": "j", "state": "running", "outputs": [output_status("running", 1)]})
    future: Future = Future()
    seen = []
    monitor = JobMonitor(overseer, [future], interval=0.01)
    monitor.subscribe(seen.append)
    monitor.start()
    overseer.next_status = {"job_id": "j", "state": "done", "outputs": [output_status("done", 1000)]}
    future.set_result(ExecutionResult.success())
    final = monitor.wait(10.0)
    assert final.finished
    assert monitor.finished
    assert seen[-1].state == "done"
    monitor._thread.join(5.0)
    assert not monitor._thread.is_alive()


def test_monitor_cancel_calls_overseer():
    overseer = FakeOverseer({"job_id": "j", "outputs": []})
    JobMonitor(overseer).cancel()
    assert overseer.cancelled == 1


def test_monitor_rejects_bad_interval():
    with pytest.raises(ValueError, match="interval"):
        JobMonitor(FakeOverseer({}), interval=0)


def test_summary_text_lists_outputs_and_errors():
    overseer = FakeOverseer({"job_id": "abc", "state": "running",
                             "outputs": [output_status("running", 500, 1000, label="mix"),
                                         output_status("failed", 3, None, error="ValueError: x", label="voice")]})
    text = format_summary(JobMonitor(overseer).poll())
    lines = text.splitlines()
    assert lines[0].startswith("wavebeans job abc: running")
    assert lines[1].startswith("  mix, running, 500 / 1000 (50%)")
    assert lines[2].startswith("  voice, failed, 3 elements")
    assert lines[3] == "    error: ValueError: x"


# -- the view -----------------------------------------------------------------------------------------------


def test_widget_rows_follow_snapshots():
    overseer = FakeOverseer({"job_id": "j", "state": "running",
                             "outputs": [output_status("running", 500, 1000), output_status("running", 9, None)]})
    future_a, future_b = Future(), Future()
    monitor = JobMonitor(overseer, [future_a, future_b])
    widget = StatusWidget(monitor, title="multi-threaded")
    monitor.poll()
    first, second = widget._row_views
    assert first.bar.value == 0.5
    assert second.bar.bar_style == "info"
    assert "9 elements" in second.numbers.value
    assert not widget.cancel_button.disabled

    future_a.set_result(ExecutionResult.success())
    future_b.set_result(ExecutionResult.error(RuntimeError("disk full")))
    overseer.next_status = {"job_id": "j", "state": "failed",
                            "outputs": [output_status("done", 1000, 1000), output_status("running", 9, None)]}
    monitor.poll()
    assert first.bar.bar_style == "success"
    assert second.bar.bar_style == "danger"
    assert "RuntimeError: disk full" in second.error.value
    assert widget.cancel_button.disabled
    assert "failed" in widget.header.value


def test_widget_cancel_button_cancels():
    overseer = FakeOverseer({"job_id": "j", "state": "running", "outputs": [output_status("running", 1)]})
    widget = StatusWidget(JobMonitor(overseer))
    widget.cancel_button.click()
    assert overseer.cancelled == 1


def test_widget_mimebundle_has_text_and_view():
    overseer = FakeOverseer({"job_id": "j7", "state": "running", "outputs": [output_status("running", 1)]})
    bundle = StatusWidget(JobMonitor(overseer))._repr_mimebundle_()
    assert bundle["text/plain"].startswith("wavebeans job j7: running")
    assert "application/vnd.jupyter.widget-view+json" in bundle


def test_widget_facilitator_section():
    status = {"job_id": "j", "state": "running", "outputs": [output_status("running", 1)],
              "pods": [{"key": "4.1", "label": "map", "state": "running", "calls_served": 12,
                        "facilitator": "tcp://w:1"}],
              "facilitators": [{"address": "tcp://w:1", "bushes": []}, {"address": "tcp://w:2", "bushes": []}]}
    monitor = JobMonitor(FakeOverseer(status))
    widget = StatusWidget(monitor)
    monitor.poll()
    sections = [child.value for child in widget.facilitators.children]
    assert len(sections) == 2
    assert "4.1" in sections[0]
    assert "12 calls" in sections[0]
    assert "0 pod(s)" in sections[1]


def test_widget_shows_thumbnail():
    summary = {"kind": "envelope", "min": [-0.5, -1.0], "max": [0.5, 1.0], "samples_per_bucket": 4}
    overseer = FakeOverseer({"job_id": "j", "outputs": [output_status("running", 8, 16, summary=summary)]})
    monitor = JobMonitor(overseer)
    widget = StatusWidget(monitor)
    monitor.poll()
    assert widget._row_views[0].thumbnail.value.startswith("<svg")


# -- thumbnails --------------------------------------------------------------------------------------------------


def _points(svg: str, element: str) -> list[tuple[float, float]]:
    start = svg.index(f"<{element} points=\"") + len(element) + 10
    text = svg[start:svg.index('"', start)]
    return [tuple(float(v) for v in pair.split(",")) for pair in text.split()]


def test_thumbnail_envelope_scales_to_peak():
    svg = thumbnail_svg({"kind": "envelope", "min": [-0.25, -0.5], "max": [0.25, 0.5]}, width=100, height=42)
    points = _points(svg, "polygon")
    ys = [y for _, y in points]
    assert min(ys) == pytest.approx(1.0)
    assert max(ys) == pytest.approx(41.0)
    assert max(x for x, _ in points) == pytest.approx(75.0)


def test_thumbnail_envelope_grows_with_progress():
    svg = thumbnail_svg({"kind": "envelope", "min": [-1.0, -1.0], "max": [1.0, 1.0]}, width=100, progress=0.5)
    assert max(x for x, _ in _points(svg, "polygon")) == pytest.approx(37.5)


def test_thumbnail_spectrum_peak_on_top():
    magnitude = [-60.0] * 32
    magnitude[8] = 0.0
    svg = thumbnail_svg({"kind": "spectrum", "magnitude_db": magnitude}, width=310, height=32)
    points = _points(svg, "polyline")
    assert min(points, key=lambda p: p[1])[0] == pytest.approx(80.0)


@pytest.mark.parametrize("summary", [None, {}, {"kind": "other"}, {"kind": "envelope", "min": [], "max": []},
                                     {"kind": "spectrum", "magnitude_db": [float("-inf")] * 4}])
def test_thumbnail_empty_for_nothing_to_draw(summary):
    assert thumbnail_svg(summary) == ""


def test_thumbnail_handles_non_finite():
    svg = thumbnail_svg({"kind": "envelope", "min": [float("nan"), -1.0], "max": [float("inf"), 1.0]})
    assert "nan" not in svg
    assert "inf" not in svg


# -- output summaries --------------------------------------------------------------------------------------------


def reference_envelope(samples: np.ndarray, buckets: int) -> tuple[int, list[float], list[float]]:
    size = 1
    while math.ceil(len(samples) / size) > buckets:
        size *= 2
    count = math.ceil(len(samples) / size)
    low = [float(samples[i * size:(i + 1) * size].min()) for i in range(count)]
    high = [float(samples[i * size:(i + 1) * size].max()) for i in range(count)]
    return size, low, high


@pytest.mark.parametrize("block_size", BLOCK_SIZES)
@pytest.mark.parametrize("length", [1, 15, 16, 17, 10_000])
def test_summary_envelope_matches_reference(block_size, length):
    samples = np.random.default_rng(length).normal(size=length)
    summary = OutputSummary(buckets=16)
    for start in range(0, length, block_size):
        summary(samples[start:start + block_size])
    snapshot = summary.snapshot()
    size, low, high = reference_envelope(samples, 16)
    assert snapshot["kind"] == "envelope"
    assert snapshot["elements"] == length
    assert snapshot["samples_per_bucket"] == size
    assert snapshot["min"] == low
    assert snapshot["max"] == high


def test_summary_rejects_odd_buckets():
    with pytest.raises(ValueError, match="buckets"):
        OutputSummary(buckets=3)


def test_summary_none_for_other_elements():
    summary = OutputSummary()
    summary(["a", "b"])
    assert summary.snapshot() is None
    assert summary.elements == 2


def test_summary_spectrum_of_fft_output():
    # 1000 Hz at 8000 Hz with a 64-point FFT falls in bin 1000 / (8000 / 64) = 8.
    out = wb.sine(1000.0).window(64).fft(64).trim(100).to_dev_null()
    with wb.MultiThreadedOverseer([out]) as overseer:
        [future.result(30) for future in overseer.eval(8000)]
        summary = overseer.status()["outputs"][0]["summary"]
    assert summary["kind"] == "spectrum"
    assert summary["frequency_max"] == 4000.0
    assert len(summary["magnitude_db"]) == 32
    assert int(np.argmax(summary["magnitude_db"])) == 8


@pytest.mark.parametrize("make", [lambda out: wb.SingleThreadedOverseer([out]),
                                  lambda out: wb.MultiThreadedOverseer([out], partitions=2)],
                         ids=["single", "multi"])
def test_overseer_status_has_envelope(make):
    out = (wb.sine(50.0) * 0.5).trim(200).to_dev_null()
    with make(out) as overseer:
        [future.result(30) for future in overseer.eval(8000)]
        entry = overseer.status()["outputs"][0]
    assert entry["state"] == "done"
    assert entry["elements_written"] == 1600
    assert entry["elements_expected"] == 1600
    assert max(entry["summary"]["max"]) == pytest.approx(0.5, abs=1e-3)
    assert min(entry["summary"]["min"]) == pytest.approx(-0.5, abs=1e-3)


def test_single_threaded_status_before_eval():
    overseer = wb.SingleThreadedOverseer([wb.sine(1.0).trim(1).to_dev_null()])
    assert overseer.status() == {"job_id": None, "state": "idle", "partitions": 1, "threads": 1,
                                 "outputs": [], "pods": []}
    overseer.close()


def test_single_threaded_status_while_running():
    gate = threading.Event()

    def slow(block: np.ndarray) -> np.ndarray:
        gate.wait(10)
        return block

    out = wb.sine(1.0).map_blocks(slow).trim(100).to_dev_null()
    overseer = wb.SingleThreadedOverseer([out])
    futures = overseer.eval(8000)
    status = overseer.status()
    gate.set()
    futures[0].result(30)
    overseer.close()
    assert status["state"] == "running"
    assert status["outputs"][0]["state"] in ("planted", "running")
    assert status["outputs"][0]["error"] is None
