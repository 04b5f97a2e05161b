"""Distributed execution on a LocalCluster of worker processes gives the single-threaded results."""

from __future__ import annotations

import os
import signal
import sys
import time

import numpy as np
import pytest
import soundfile as sf

import wavebeans_nb as wb
from wavebeans_nb.data import ARCTIC_A0007
from wavebeans_nb.distributed import (
    DistributedOverseer, EvenDistributionPlanner, FacilitatorInfo, JobNotFoundError, PartitionAffinityPlanner,
    start_local_cluster,
)
from wavebeans_nb.distributed.allocator import MMAP_THRESHOLD, TRIM_THRESHOLD
from wavebeans_nb.distributed.cluster import call_worker, cluster_workers
from wavebeans_nb.execution import ExecutionConfig

from distributed_support import RATE, assert_same_files, engine_graphs

CONFIG = ExecutionConfig(chunk_size=64)


@pytest.fixture(scope="module")
def reference(tmp_path_factory):
    directory = str(tmp_path_factory.mktemp("single"))
    with wb.SingleThreadedOverseer(engine_graphs(directory)) as overseer:
        for future in overseer.eval(RATE):
            assert future.result(timeout=60).finished
    return directory


def _run(outputs, client, **kwargs):
    with DistributedOverseer(outputs, client=client, config=kwargs.pop("config", CONFIG), **kwargs) as overseer:
        results = [future.result(timeout=60) for future in overseer.eval(RATE)]
        status = overseer.status()
    return results, status


def _assert_finished(results):
    for result in results:
        assert result.exception is None, f"output failed: {result.exception}"
        assert result.finished


def _jobs_on(client, addresses):
    return {address: call_worker(client, address, "wavebeans_describe")["jobs"] for address in addresses}


@pytest.mark.parametrize("planner", [EvenDistributionPlanner(), PartitionAffinityPlanner()], ids=["even", "affinity"])
@pytest.mark.parametrize("workers_used", [1, 2])
@pytest.mark.parametrize("partitions", [1, 2, 3, 4])
def test_distributed_matches_single(cluster, workers, reference, tmp_path, partitions, workers_used, planner):
    results, _ = _run(engine_graphs(str(tmp_path)), cluster[1], partitions=partitions,
                      facilitators=workers[:workers_used], distribution_planner=planner)
    _assert_finished(results)
    assert_same_files(reference, str(tmp_path))


def test_three_workers_match_single(reference, tmp_path):
    local, client = start_local_cluster(n_workers=3, threads_per_worker=1)
    try:
        results, status = _run(engine_graphs(str(tmp_path)), client, partitions=3)
        _assert_finished(results)
        assert_same_files(reference, str(tmp_path))
        assert len([f for f in status["facilitators"] if f["bushes"]]) == 3
    finally:
        client.close()
        local.close()


def test_remote_calls_and_cleanup(cluster, workers, tmp_path):
    client = cluster[1]
    output = (wb.sine(300).trim(200) * 0.5).map(lambda x: x + 0.1).to_wav(str(tmp_path / "a.wav"), bit_depth="float")
    with DistributedOverseer([output], client=client, partitions=2, config=CONFIG) as overseer:
        _assert_finished([future.result(timeout=60) for future in overseer.eval(RATE)])
        status = overseer.status()
        job_id = overseer.job_id
        during = _jobs_on(client, workers)
    assert all(job_id in jobs for jobs in during.values()), "both workers should have had bushes"
    sent = sum(remote["calls"] for entry in status["facilitators"] for remote in entry["remote_bushes"])
    served = sum(pod.get("remote_calls_served", 0) for pod in status["pods"])
    assert sent > 0
    assert served == sent
    assert {entry["address"] for entry in status["facilitators"]} == set(workers)
    assert status["outputs"][0]["state"] == "done"
    assert status["outputs"][0]["elements_written"] == status["outputs"][0]["elements_expected"] == 3200
    after = _jobs_on(client, workers)
    assert after == {address: {} for address in workers}
    for address in workers:
        assert list(call_worker(client, address, "wavebeans_describe")["job_states"]) == []
    written, _ = sf.read(str(tmp_path / "a.wav"))
    expected = 0.5 * np.sin(2 * np.pi * 300 * np.arange(3200) / RATE) + 0.1
    assert np.allclose(written, expected, atol=1e-6)


def test_unknown_job_is_an_error(cluster, workers):
    for op in ["wavebeans_job_status", "wavebeans_start_job", "wavebeans_stop_job", "wavebeans_cancel_job"]:
        with pytest.raises(JobNotFoundError, match="not known"):
            call_worker(cluster[1], workers[0], op, job_id="no-such-job")


def _explode(x):
    if x > 0.7:
        raise ArithmeticError(f"value {x} is too loud")
    return x


def test_remote_exception_reaches_result(cluster, workers, tmp_path):
    target = tmp_path / "boom.wav"
    output = wb.sine(50, 0.9).trim(400).map(_explode).to_wav(str(target))
    results, status = _run([output], cluster[1], partitions=2, facilitators=workers)
    assert not results[0].finished
    text = str(results[0].exception)
    assert "ArithmeticError" in text
    assert "is too loud" in text
    assert "_explode" in text, "the remote traceback should be part of the error"
    assert status["outputs"][0]["state"] == "failed"
    assert not target.exists()


def test_closures_and_local_class_run_remotely(cluster, workers, tmp_path):
    offset = 0.25

    class Doubler:
        def __call__(self, block):
            return block * 2.0 + offset

    stream = wb.sine(200, 0.5).trim(100)
    output = stream.map_blocks(Doubler()).map(lambda x: x - offset).to_wav(str(tmp_path / "c.wav"), bit_depth="float")
    results, _ = _run([output], cluster[1], partitions=2, facilitators=workers)
    _assert_finished(results)
    written, _ = sf.read(str(tmp_path / "c.wav"))
    expected = (0.5 * np.sin(2 * np.pi * 200 * np.arange(1600) / RATE)).astype(np.float32) * 2.0
    assert np.allclose(written, expected, atol=1e-6)


def _job_with(factor, target):
    def shape(x):  # same name and qualified name in both jobs
        return x * factor

    return wb.sine(100, 0.5).trim(300).map(shape).to_wav(target, bit_depth="float")


def test_concurrent_jobs_same_function_names(cluster, workers, tmp_path):
    first = DistributedOverseer([_job_with(1.0, str(tmp_path / "one.wav"))], client=cluster[1], partitions=2,
                                config=CONFIG)
    second = DistributedOverseer([_job_with(-0.5, str(tmp_path / "two.wav"))], client=cluster[1], partitions=2,
                                 config=CONFIG)
    with first, second:
        futures = first.eval(RATE) + second.eval(RATE)
        _assert_finished([future.result(timeout=60) for future in futures])
    base = 0.5 * np.sin(2 * np.pi * 100 * np.arange(4800) / RATE)
    one, _ = sf.read(str(tmp_path / "one.wav"))
    two, _ = sf.read(str(tmp_path / "two.wav"))
    assert np.allclose(one, base, atol=1e-6)
    assert np.allclose(two, -0.5 * base, atol=1e-6)


def test_cancel_stops_quickly(cluster, workers, tmp_path):
    target = tmp_path / "endless.wav"
    output = wb.sine(440).map(lambda x: x * 0.5).to_wav(str(target))
    with DistributedOverseer([output], client=cluster[1], partitions=2, config=CONFIG) as overseer:
        futures = overseer.eval(RATE)
        time.sleep(0.5)
        assert overseer.status()["state"] == "running"
        overseer.cancel()
        # A generous bound that only catches a cancel that does not propagate; the speed of
        # cancelling is measured, not asserted.
        result = futures[0].result(timeout=10)
        assert not result.finished
        assert isinstance(result.exception, wb.JobCancelledError)
        assert overseer.status()["state"] == "cancelled"
    assert not target.exists()


def test_planners_spread_pods():
    output = (wb.sine(10).trim(10) * 2.0).map_blocks(np.abs).to_dev_null()
    from wavebeans_nb.execution import build_pods, build_topology

    refs = build_pods(build_topology([output]).partition(2))
    infos = [FacilitatorInfo("a", 1), FacilitatorInfo("b", 3)]
    even = EvenDistributionPlanner().distribute(refs, infos)
    assert [len(pods) for pods in even.values()] == [2, 2]
    affinity = PartitionAffinityPlanner().distribute(refs, infos)
    owner = {pod.key: address for address, pods in affinity.items() for pod in pods}
    chains = {pod.key.partition: owner[pod.key] for pod in refs if pod.sequenced}
    assert len(set(chains.values())) <= 2
    assert sorted(str(k) for k in owner) == sorted(str(pod.key) for pod in refs)


def test_killed_worker_fails_job(tmp_path):
    local, client = start_local_cluster(n_workers=2, threads_per_worker=1)
    try:
        workers = sorted(cluster_workers(client))
        pids = client.run(os.getpid)
        target = tmp_path / "never.wav"
        output = wb.sine(440).map(lambda x: x * 0.5).to_wav(str(target))
        with DistributedOverseer([output], client=client, partitions=2, config=CONFIG) as overseer:
            futures = overseer.eval(RATE)
            time.sleep(0.5)
            victim = [address for address, pods in overseer.plan.items() if pods][-1]
            os.kill(pids[victim], signal.SIGKILL)
            # The bound catches a job that hangs on the dead worker instead of failing.
            result = futures[0].result(timeout=20)
            assert not result.finished
            assert victim in str(result.exception)
            assert overseer.status()["state"] == "failed"
        assert not target.exists()
        assert workers  # the cluster had workers to plan on
    finally:
        client.close()
        local.close()


@pytest.mark.parametrize("damage", ["truncate", "not audio"])
def test_broken_file_fails_distributed(cluster, tmp_path, damage):
    # The file is fine when the graph is built and damaged before the job runs, so the error comes
    # from a worker reading it; the result must name the file and leave no output behind.
    source = tmp_path / "input.wav"
    sf.write(str(source), np.sin(np.arange(40000) * 0.01), int(RATE), subtype="PCM_16")
    stream = wb.wave(str(source), resample=False) * 0.5
    if damage == "truncate":
        with open(source, "r+b") as file:
            file.truncate(2000)
    else:
        source.write_text("this is not a WAV file\n" * 200)
    target = tmp_path / "out.wav"
    results, _ = _run([stream.to_wav(str(target))], cluster[1], partitions=2)
    assert not results[0].finished
    assert "input.wav" in str(results[0].exception)
    assert not target.exists()
    assert list(tmp_path.glob(".*.partial")) == []


def _large_reply_graph(directory: str) -> list:
    # Default chunks are 65536 samples, so the partition on the other worker replies with
    # hundreds of kilobytes per call: samples, and spectrum rows as lists of vectors.
    tone = (wb.sine(440, 0.5) * 0.5 + wb.sine(50, 0.25)).trim(20, "s")
    speech = wb.wave(ARCTIC_A0007)
    return [
        tone.to_wav(os.path.join(directory, "tone.wav"), bit_depth="float"),
        speech.window(256, 64).hann().fft(256).magnitude_to_csv(os.path.join(directory, "spectrum.csv")),
    ]


def _shm_files(pids) -> list[str]:
    return [name for name in os.listdir("/dev/shm") if any(name.startswith(f"wavebeans-{pid}-") for pid in pids)]


@pytest.mark.skipif(not os.path.isdir("/dev/shm"), reason="no /dev/shm here")
@pytest.mark.parametrize("shared", [True, False], ids=["shared-memory", "comms"])
def test_large_replies_match_single(cluster, workers, tmp_path, shared):
    client = cluster[1]
    single = tmp_path / "single"
    single.mkdir()
    with wb.SingleThreadedOverseer(_large_reply_graph(str(single))) as overseer:
        assert all(future.result(timeout=60).finished for future in overseer.eval(RATE))
    results, status = _run(_large_reply_graph(str(tmp_path)), client, partitions=2,
                           distribution_planner=PartitionAffinityPlanner(),
                           config=ExecutionConfig(shared_memory=shared))
    _assert_finished(results)

    assert_same_files(str(single), str(tmp_path), ["tone.wav", "spectrum.csv"])
    tone, _ = sf.read(str(tmp_path / "tone.wav"))
    t = np.arange(int(20 * RATE)) / RATE
    assert np.allclose(tone, 0.25 * np.sin(2 * np.pi * 440 * t) + 0.25 * np.sin(2 * np.pi * 50 * t), atol=1e-6)
    remotes = [remote for entry in status["facilitators"] for remote in entry["remote_bushes"]]
    assert sum(remote["calls"] for remote in remotes) > 0
    shared_replies = sum(remote["shared_replies"] for remote in remotes)
    assert (shared_replies > 0) if shared else (shared_replies == 0)
    assert _shm_files(client.run(os.getpid).values()) == [], "shared memory files must go with the job"


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="glibc's mallopt is Linux only")
def test_facilitators_raise_allocator_thresholds(cluster, workers):
    for address in workers:
        assert call_worker(cluster[1], address, "wavebeans_describe")["allocator"] == {
            "mmap_threshold": MMAP_THRESHOLD, "trim_threshold": TRIM_THRESHOLD}


def test_worker_list_survives_client_refresh(cluster):
    # The client's periodic refresh replaces its cached scheduler info with one that lists no
    # workers. At a 5 ms refresh, Client.scheduler_info returned a short list in 197 of 5296 calls.
    import dask
    from distributed import Client

    expected = set(cluster_workers(cluster[1]))
    with dask.config.set({"distributed.client.scheduler-info-interval": "5ms"}):
        with Client(cluster[0].scheduler_address, set_as_default=False) as client:
            deadline = time.monotonic() + 2.0
            while time.monotonic() < deadline:
                assert set(cluster_workers(client)) == expected


def test_unreachable_scheduler_is_named(monkeypatch):
    import socket

    import wavebeans_nb.distributed.overseer as overseer_module
    from wavebeans_nb.distributed.errors import FacilitatorNotFoundError

    with socket.socket() as probe:  # a loopback port that nothing listens on once the probe closes
        probe.bind(("127.0.0.1", 0))
        address = f"tcp://127.0.0.1:{probe.getsockname()[1]}"
    monkeypatch.setattr(overseer_module, "SCHEDULER_TIMEOUT", 2.0)

    with pytest.raises(FacilitatorNotFoundError, match="cannot reach the Dask scheduler") as raised:
        DistributedOverseer(wb.sine(440).trim(10).to_dev_null(), client=address)
    assert address in str(raised.value)
    assert "dask scheduler" in str(raised.value)
