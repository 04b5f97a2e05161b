"""A distributed job survives a killed worker when retries are allowed, and fails naming it otherwise."""

from __future__ import annotations

import glob
import logging
import os
import signal
import time

import numpy as np
import pytest
import soundfile as sf

import wavebeans_nb as wb
from wavebeans_nb.distributed import DistributedOverseer, start_local_cluster
from wavebeans_nb.distributed.cluster import cluster_workers
from wavebeans_nb.errors import InvalidParameterError
from wavebeans_nb.execution import ExecutionConfig

from distributed_support import halve_slowly_while

RATE = 8000.0
LONG_MS = 180_000  # three minutes of audio: long enough to kill a worker while it runs
SHORT_MS = 50
CONFIG = ExecutionConfig(chunk_size=256)
TIMEOUT = 180.0  # seconds; only bounds a hang, the run time is not asserted


def _outputs(directory: str, marker: str) -> list:
    long = wb.sine(440).trim(LONG_MS).map_blocks(halve_slowly_while(marker))
    short = wb.sine(200, 0.25).trim(SHORT_MS)
    return [
        long.to_wav(os.path.join(directory, "long.wav"), bit_depth="float"),
        short.to_wav(os.path.join(directory, "short.wav"), bit_depth="float"),
    ]


def _single_threaded(directory: str) -> None:
    with wb.SingleThreadedOverseer(_outputs(directory, os.path.join(directory, "no-marker"))) as overseer:
        for future in overseer.eval(RATE):
            assert future.result(timeout=TIMEOUT).finished


def _wait_until(condition, description: str, timeout: float = 60.0) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, f"timed out waiting until {description}"
        time.sleep(0.05)


def _output_running(overseer) -> bool:
    output = overseer.status()["outputs"][0]
    return output["state"] == "running" and output["elements_written"] > 0


def _start_and_kill(overseer, client, directory: str, kill_output_worker: bool = True):
    """Start the job, wait until the long output writes and the short one committed, then kill a worker.

    The victim runs the long output's pod, or else other pods of the job, so that the output fails
    through a pod call to the dead worker.
    """
    pids = client.run(os.getpid)
    futures = overseer.eval(RATE)
    _wait_until(lambda: _output_running(overseer), "the long output writes")
    _wait_until(lambda: os.path.exists(os.path.join(directory, "short.wav")), "the short output commits")
    output_worker = overseer.status()["outputs"][0]["facilitator"]
    if kill_output_worker:
        victim = output_worker
    else:
        victim = [address for address, pods in overseer.plan.items() if pods and address != output_worker][0]
    partials = glob.glob(os.path.join(directory, ".long.wav.*.partial"))
    assert partials, "the long output should be writing its temporary file on the victim"
    os.kill(pids[victim], signal.SIGKILL)
    return futures, victim


def _partials(directory: str) -> list[str]:
    return sorted(os.path.basename(path) for path in glob.glob(os.path.join(directory, ".*.partial")))


def test_retries_parameter_rejects_invalid():
    output = wb.sine(440).trim(10).to_dev_null()
    for value in [-1, 1.5, True, "2", None]:
        with pytest.raises(InvalidParameterError, match="retries"):
            DistributedOverseer([output], retries=value)


@pytest.mark.parametrize("kill_output_worker", [True, False], ids=["output-worker", "upstream-worker"])
def test_killed_worker_retried(tmp_path, caplog, kill_output_worker):
    reference = tmp_path / "single"
    reference.mkdir()
    _single_threaded(str(reference))
    directory = tmp_path / "distributed"
    directory.mkdir()
    marker = str(tmp_path / "slow")
    open(marker, "w").close()
    caplog.set_level(logging.WARNING, logger="wavebeans_nb.distributed.overseer")
    local, client = start_local_cluster(n_workers=3, threads_per_worker=1)
    try:
        outputs = _outputs(str(directory), marker)
        with DistributedOverseer(outputs, client=client, partitions=2, config=CONFIG, retries=1) as overseer:
            futures, victim = _start_and_kill(overseer, client, str(directory), kill_output_worker)
            first_job = overseer.job_id
            first_short = os.stat(directory / "short.wav").st_ino
            os.unlink(marker)
            results = [future.result(timeout=TIMEOUT) for future in futures]
            for result in results:
                assert result.exception is None, f"output failed: {result.exception}"
                assert result.finished
            final_job = overseer.job_id
            assert final_job != first_job
            assert victim not in overseer.plan, "the retry should plan only on remaining workers"
            assert overseer.status()["state"] == "done"
        retry_logs = [record.getMessage() for record in caplog.records if final_job in record.getMessage()]
        assert any(first_job in message for message in retry_logs), "the retry should log the old and new job ids"
        assert any(victim in record.getMessage() for record in caplog.records), "the retry should log the lost worker"
        for name in ["long.wav", "short.wav"]:
            expected, expected_rate = sf.read(str(reference / name), dtype="float64")
            written, written_rate = sf.read(str(directory / name), dtype="float64")
            assert written_rate == expected_rate
            assert written.shape == expected.shape, f"{name}: {written.shape[0]} frames, expected {expected.shape[0]}"
            assert np.array_equal(written, expected), f"{name}: samples differ from the single-threaded result"
        long, _ = sf.read(str(directory / "long.wav"), dtype="float64")
        formula = (0.5 * np.sin(2 * np.pi * 440 * np.arange(int(RATE * LONG_MS / 1000)) / RATE)).astype(np.float32)
        assert np.allclose(long, formula, atol=1e-6)
        assert os.stat(directory / "short.wav").st_ino != first_short, "a committed output is written again"
        assert _partials(str(directory)) == []
    finally:
        client.close()
        local.close()


def test_killed_worker_without_retries_fails(tmp_path):
    marker = str(tmp_path / "slow")
    open(marker, "w").close()
    local, client = start_local_cluster(n_workers=3, threads_per_worker=1)
    try:
        outputs = _outputs(str(tmp_path), marker)
        with DistributedOverseer(outputs, client=client, partitions=2, config=CONFIG) as overseer:
            futures, victim = _start_and_kill(overseer, client, str(tmp_path))
            first_job = overseer.job_id
            result = futures[0].result(timeout=TIMEOUT)
            assert not result.finished
            assert victim in str(result.exception)
            assert overseer.job_id == first_job, "without retries the job must not start again"
            assert overseer.status()["state"] == "failed"
        assert futures[1].result(timeout=TIMEOUT).finished, "the short output committed before the kill"
        assert not (tmp_path / "long.wav").exists()
        assert _partials(str(tmp_path)) == [], "the dead worker's temporary file should be removed"
    finally:
        client.close()
        local.close()


def test_retry_without_remaining_workers_fails(tmp_path):
    marker = str(tmp_path / "slow")
    open(marker, "w").close()
    local, client = start_local_cluster(n_workers=3, threads_per_worker=1)
    try:
        only = sorted(cluster_workers(client))[0]
        outputs = _outputs(str(tmp_path), marker)
        with DistributedOverseer(outputs, client=client, facilitators=[only], config=CONFIG,
                                 retries=2) as overseer:
            futures, victim = _start_and_kill(overseer, client, str(tmp_path))
            assert victim == only
            result = futures[0].result(timeout=TIMEOUT)
            assert not result.finished
            message = str(result.exception)
            assert "no facilitators remain" in message
            assert only in message
        assert not (tmp_path / "long.wav").exists()
        assert _partials(str(tmp_path)) == []
    finally:
        client.close()
        local.close()



def _explode(x):
    if x > 0.7:
        raise ArithmeticError(f"value {x} is too loud")
    return x


def test_user_error_not_retried(tmp_path, caplog):
    caplog.set_level(logging.WARNING, logger="wavebeans_nb.distributed.overseer")
    local, client = start_local_cluster(n_workers=2, threads_per_worker=1)
    try:
        target = tmp_path / "boom.wav"
        output = wb.sine(50, 0.9).trim(400).map(_explode).to_wav(str(target))
        with DistributedOverseer([output], client=client, partitions=2, config=CONFIG, retries=2) as overseer:
            futures = overseer.eval(RATE)
            first_job = overseer.job_id
            result = futures[0].result(timeout=TIMEOUT)
            assert not result.finished
            assert "is too loud" in str(result.exception)
            assert overseer.job_id == first_job, "an error in a user function must not start a retry"
        assert not any("retry" in record.getMessage() for record in caplog.records)
        assert not target.exists()
        assert _partials(str(tmp_path)) == []
    finally:
        client.close()
        local.close()


def test_other_job_carries_on_after_kill(tmp_path, caplog):
    """Two jobs on disjoint workers of one cluster: killing a worker of one leaves the other intact."""
    marker = str(tmp_path / "slow")
    open(marker, "w").close()
    caplog.set_level(logging.INFO, logger="wavebeans_nb.distributed")
    reference = tmp_path / "single"
    reference.mkdir()
    _single_threaded(str(reference))
    victim_dir = tmp_path / "victim"
    victim_dir.mkdir()
    other_dir = tmp_path / "other"
    other_dir.mkdir()
    local, client = start_local_cluster(n_workers=3, threads_per_worker=1)
    try:
        workers = sorted(cluster_workers(client))
        victim_outputs = _outputs(str(victim_dir), marker)
        # The other job's map sleeps too, so it is still running when the worker dies.
        other_outputs = _outputs(str(other_dir), marker)
        with DistributedOverseer(victim_outputs, client=client, facilitators=[workers[0]], config=CONFIG) as doomed, \
                DistributedOverseer(other_outputs, client=client, facilitators=workers[1:], partitions=2,
                                    config=CONFIG) as survivor:
            survivor_futures = survivor.eval(RATE)
            doomed_futures, victim = _start_and_kill(doomed, client, str(victim_dir))
            assert victim == workers[0]
            failed = doomed_futures[0].result(timeout=TIMEOUT)
            assert not failed.finished
            assert victim in str(failed.exception)
            survivor_status = survivor.status()
            assert survivor_status["state"] == "running", f"the other job should still run: {survivor_status}"
            os.unlink(marker)
            for future in survivor_futures:
                result = future.result(timeout=TIMEOUT)
                assert result.exception is None, f"the other job failed: {result.exception}"
                assert result.finished
        for name in ["long.wav", "short.wav"]:
            expected, _ = sf.read(str(reference / name), dtype="float64")
            written, _ = sf.read(str(other_dir / name), dtype="float64")
            assert np.array_equal(written, expected), f"{name}: the other job's samples differ"
        failure_logs = [record.getMessage() for record in caplog.records
                        if victim in record.getMessage() and record.levelno >= logging.WARNING]
        assert failure_logs, "the loss should be logged at warning level"
        assert all(doomed.job_id in message for message in failure_logs), "failure logs should name the job"
    finally:
        client.close()
        local.close()
