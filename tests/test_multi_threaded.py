"""The multi-threaded overseer: results, errors, cancellation, close, status and thread limits."""

from __future__ import annotations

import json
import os
import threading

import numpy as np
import pytest
import soundfile as sf

import wavebeans_nb as wb
from wavebeans_nb.beans.base import Stream
from wavebeans_nb.data import ARCTIC_A0007
from wavebeans_nb.errors import ExecutionError, InvalidParameterError, JobCancelledError
from wavebeans_nb.execution import ExecutionConfig, MultiThreadedOverseer

from execution_support import as_samples, collect

RATE = 8000


def _sine(frequency: float, n: int) -> np.ndarray:
    return np.sin(2 * np.pi * frequency * np.arange(n) / RATE)


def test_futures_follow_output_order():
    sink: dict = {}
    outputs = [collect(wb.sine(100).trim(50) * 2.0, sink, "a"), collect(wb.sine(300).trim(25), sink, "b"),
               collect((wb.sine(100).trim(10) + wb.list_input(np.ones(160))), sink, "c")]
    with MultiThreadedOverseer(outputs, threads=2, partitions=3, config=ExecutionConfig(chunk_size=16)) as overseer:
        futures = overseer.eval(RATE)
        assert len(futures) == 3
        assert all(future.result(timeout=10).finished for future in futures)
        labels = [entry["label"] for entry in overseer.status()["outputs"]]
    assert labels == ["collect(a)", "collect(b)", "collect(c)"]
    assert np.allclose(as_samples(sink["a"]), 2.0 * _sine(100, 400))
    assert np.allclose(as_samples(sink["b"]), _sine(300, 200))
    expected_c = np.ones(160)
    expected_c[:80] += _sine(100, 80)
    assert np.allclose(as_samples(sink["c"]), expected_c)


def fail_on_loud(block):
    if np.max(np.abs(block)) > 0.9:
        raise ValueError("block too loud")
    return block


@pytest.mark.parametrize("partitions", [1, 3])
def test_error_names_bean_and_pod_with_traceback(tmp_path, partitions):
    sink: dict = {}
    target = os.path.join(tmp_path, "loud.wav")
    failing = wb.sine(50).trim(200).map_blocks(fail_on_loud)
    outputs = [collect(failing, sink, "failing"), failing.to_wav(target),
               collect(wb.sine(50).trim(200) * 0.5, sink, "healthy")]
    with MultiThreadedOverseer(outputs, threads=2, partitions=partitions,
                               config=ExecutionConfig(chunk_size=32)) as overseer:
        results = [future.result(timeout=10) for future in overseer.eval(RATE)]
        pod_keys = {str(pod.key) for pod in overseer.pods}
        status = overseer.status()
    for result in results[:2]:
        assert not result.finished
        error = result.exception
        assert isinstance(error, ExecutionError)
        assert error.bean == "map_blocks(fail_on_loud)"
        assert error.pod in pod_keys
        assert "ValueError: block too loud" in error.remote_traceback
        assert "in fail_on_loud" in error.remote_traceback
        assert str(error).startswith(f"map_blocks(fail_on_loud) in pod {error.pod} failed with ValueError")
    assert results[2].finished
    assert sink["aborted"] == ["failing"]
    assert not os.path.exists(target)
    assert os.listdir(tmp_path) == []
    assert status["state"] == "failed"
    assert [entry["state"] for entry in status["outputs"]] == ["failed", "failed", "done"]


def test_error_in_output_names_output():
    def refuse(argument):
        if argument.sample_index == 100:
            raise RuntimeError("disk full")

    out = wb.sine(50).trim(100).out(refuse)
    with MultiThreadedOverseer([out], partitions=2) as overseer:
        result = overseer.eval(RATE)[0].result(timeout=10)
    assert isinstance(result.exception, ExecutionError)
    assert result.exception.bean == "out(refuse)"
    assert "RuntimeError: disk full" in result.exception.remote_traceback


def test_error_in_source_names_source():
    def broken(index, sample_rate):
        if index == 500:
            raise ZeroDivisionError("bad index")
        return 0.0

    source = wb.input(broken)
    out = (source * 2.0).trim(100).to_dev_null()
    with MultiThreadedOverseer([out], partitions=2) as overseer:
        result = overseer.eval(RATE)[0].result(timeout=10)
    assert result.exception.bean == source.label()
    assert "ZeroDivisionError: bad index" in result.exception.remote_traceback


def test_sample_rate_mismatch_fails_output():
    out = wb.wave(ARCTIC_A0007, resample=False).trim(10).to_dev_null()
    with MultiThreadedOverseer([out]) as overseer:
        result = overseer.eval(8000)[0].result(timeout=10)
    assert isinstance(result.exception, ExecutionError)
    assert "SampleRateMismatchError" in str(result.exception)


class _BuildsOnce(Stream):
    """A bean whose second construction fails, so planting its pod fails."""

    built = 0

    def __init__(self, input):
        type(self).built += 1
        if type(self).built > 1:
            raise RuntimeError("cannot be rebuilt")
        super().__init__(input)

    def _blocks(self, sample_rate, block_size):
        yield from self.input.iter_blocks(sample_rate, block_size)


def test_planting_failure_resolves_every_future():
    _BuildsOnce.built = 0
    outputs = [_BuildsOnce(wb.sine(5)).trim(1).to_dev_null(), wb.sine(5).trim(1).to_dev_null()]
    with MultiThreadedOverseer(outputs) as overseer:
        results = [future.result(timeout=10) for future in overseer.eval(RATE)]
    for result in results:
        assert not result.finished
        assert isinstance(result.exception, ExecutionError)
        assert "cannot build" in str(result.exception)
        assert "cannot be rebuilt" in str(result.exception)


def test_cancel_stops_infinite_job():
    sink: dict = {}
    outputs = [collect(wb.sine(440).map_blocks(np.abs), sink, "forever"), wb.sine(10).to_dev_null()]
    overseer = MultiThreadedOverseer(outputs, threads=2, partitions=3)
    futures = overseer.eval(RATE)
    assert not futures[0].done()
    overseer.cancel()
    results = [future.result(timeout=3) for future in futures]
    for result in results:
        assert not result.finished
        assert isinstance(result.exception, JobCancelledError)
    assert overseer.status()["state"] == "cancelled"
    assert sink["aborted"] == ["forever"]
    overseer.close()
    job_threads = [thread for thread in threading.enumerate() if overseer.job_id in thread.name]
    assert job_threads == []


def test_close_commits_finished_and_aborts_running(tmp_path):
    finite = os.path.join(tmp_path, "finite.wav")
    endless = os.path.join(tmp_path, "endless.wav")
    outputs = [(wb.sine(440) * 0.5).trim(250).to_wav(finite), wb.sine(200).to_wav(endless)]
    overseer = MultiThreadedOverseer(outputs, threads=2, partitions=2)
    futures = overseer.eval(RATE)
    assert futures[0].result(timeout=10).finished
    overseer.close()
    assert futures[1].result(timeout=1).exception is not None
    samples, rate = sf.read(finite)
    assert rate == RATE
    assert np.allclose(samples, 0.5 * _sine(440, 2000), atol=1 / 32768)
    assert not os.path.exists(endless)
    assert os.listdir(tmp_path) == ["finite.wav"]
    with pytest.raises(InvalidParameterError, match="closed"):
        overseer.eval(RATE)


def test_context_exit_after_results_keeps_outputs(tmp_path):
    target = os.path.join(tmp_path, "out.wav")
    with MultiThreadedOverseer([wb.sine(100).trim(100).to_wav(target)], partitions=2) as overseer:
        assert overseer.eval(RATE)[0].result(timeout=10).finished
    assert sf.info(target).frames == 800


def test_status_is_plain_data():
    sink: dict = {}
    source = wb.sine(100).trim(300)
    outputs = [collect(source.map_blocks(np.abs), sink, "a"), collect(source * 2.0, sink, "b")]
    with MultiThreadedOverseer(outputs, threads=2, partitions=2, config=ExecutionConfig(chunk_size=64)) as overseer:
        assert overseer.status() == {"job_id": None, "state": "idle", "outputs": [], "pods": []}
        futures = overseer.eval(RATE)
        [future.result(timeout=10) for future in futures]
        status = overseer.status()
    json.dumps(status)
    assert status["job_id"] == overseer.job_id
    assert status["state"] == "done"
    assert status["partitions"] == 2
    assert status["threads"] == 2
    assert [entry["elements_written"] for entry in status["outputs"]] == [2400, 2400]
    assert [entry["elements_expected"] for entry in status["outputs"]] == [2400, 2400]
    assert [entry["state"] for entry in status["outputs"]] == ["done", "done"]
    assert [entry["error"] for entry in status["outputs"]] == [None, None]
    splitting = [pod for pod in status["pods"] if pod["kind"] == "splitting"]
    assert len(splitting) == 1
    assert splitting[0]["chunks_produced"] == 38
    assert splitting[0]["chunks_buffered"] == 0
    assert all(pod["calls_served"] > 0 for pod in status["pods"] if pod["kind"] != "output")


def test_eval_again_runs_a_new_job():
    sink: dict = {}
    overseer = MultiThreadedOverseer([collect(wb.sine(100).trim(20), sink, "x")], partitions=2)
    assert overseer.eval(RATE)[0].result(timeout=10).finished
    first_job = overseer.job_id
    first = as_samples(sink.pop("x"))
    assert overseer.eval(RATE)[0].result(timeout=10).finished
    assert overseer.job_id != first_job
    assert np.array_equal(first, as_samples(sink["x"]))
    overseer.close()


def test_eval_while_running_is_rejected():
    with MultiThreadedOverseer([wb.sine(100).to_dev_null()]) as overseer:
        overseer.eval(RATE)
        with pytest.raises(InvalidParameterError, match="still running"):
            overseer.eval(RATE)


@pytest.mark.parametrize("arguments", [{"threads": 0}, {"partitions": 0}, {"threads": 1.5}])
def test_invalid_settings_are_rejected(arguments):
    with pytest.raises(InvalidParameterError):
        MultiThreadedOverseer([wb.sine(1).trim(1).to_dev_null()], **arguments)


def test_config_rejects_invalid_values():
    with pytest.raises(InvalidParameterError, match="chunk_size 0"):
        ExecutionConfig(chunk_size=0)
    with pytest.raises(InvalidParameterError, match="stall_timeout"):
        ExecutionConfig(stall_timeout=0)
    assert ExecutionConfig().replace(threads=3).compute_threads == 3


class _Concurrency:
    def __init__(self):
        self.lock = threading.Lock()
        self.running = 0
        self.peak = 0

    def __call__(self, block):
        with self.lock:
            self.running += 1
            self.peak = max(self.peak, self.running)
        threading.Event().wait(0.002)
        with self.lock:
            self.running -= 1
        return block


def test_one_thread_computes_one_pod_at_a_time():
    meter = _Concurrency()
    out = wb.sine(100).trim(500).map_blocks(meter).to_dev_null()
    with MultiThreadedOverseer([out], threads=1, partitions=4, config=ExecutionConfig(chunk_size=50)) as overseer:
        assert overseer.eval(RATE)[0].result(timeout=20).finished
    assert meter.peak == 1


def test_partitions_compute_at_the_same_time():
    barrier = threading.Barrier(2, timeout=10)
    met = set()

    def meet(block):
        if not met:
            met.add(barrier.wait())
        return block

    out = wb.sine(100).trim(100).map_blocks(meet).to_dev_null()
    with MultiThreadedOverseer([out], threads=2, partitions=2, config=ExecutionConfig(chunk_size=50)) as overseer:
        result = overseer.eval(RATE)[0].result(timeout=20)
    assert result.finished, result.exception


def test_dropped_overseer_stops_its_threads():
    import gc

    overseer = MultiThreadedOverseer([wb.sine(100).to_dev_null()], partitions=2)
    futures = overseer.eval(RATE)
    job_id = overseer.job_id
    del overseer
    gc.collect()
    assert isinstance(futures[0].result(timeout=5).exception, JobCancelledError)
    for thread in threading.enumerate():
        if job_id in thread.name:
            thread.join(5.0)
    assert [thread for thread in threading.enumerate() if job_id in thread.name] == []
