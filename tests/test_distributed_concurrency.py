"""Several users on one cluster: concurrent jobs keep their own code, and finished jobs leave no state behind."""

from __future__ import annotations

import gc
import threading

import numpy as np
import soundfile as sf

import wavebeans_nb as wb
from wavebeans_nb.distributed import DistributedOverseer
from wavebeans_nb.distributed.cluster import call_worker
from wavebeans_nb.execution import ExecutionConfig

from distributed_support import RATE

CONFIG = ExecutionConfig(chunk_size=64)

# Each user's notebook defines `shape` and `scale` in its own `__main__`, so the functions of the three
# jobs have the same module, name and qualified name but different bodies.
USER_SOURCES = [
    "def shape(x):\n    return x * x\n\nscale = lambda block: block * 0.5\n",
    "def shape(x):\n    return abs(x) - 0.1\n\nscale = lambda block: -block\n",
    "def shape(x):\n    return 3.0 * x + 0.2\n\nscale = lambda block: block + 0.25\n",
]

# The same user functions written with numpy, as the independent reference.
EXPECTED_SHAPES = [
    lambda x: 0.5 * x * x,
    lambda x: -(np.abs(x) - 0.1),
    lambda x: 3.0 * x + 0.2 + 0.25,
]

FREQUENCIES = [300.0, 500.0, 700.0]
LENGTH_MS = 250


def _user_namespace(source: str) -> dict:
    namespace = {"__name__": "__main__"}
    exec(compile(source, "<notebook>", "exec"), namespace)  # noqa: S102 - fixed test source
    return namespace


def _user_output(index: int, target: str):
    namespace = _user_namespace(USER_SOURCES[index])
    stream = wb.sine(FREQUENCIES[index], 0.5).trim(LENGTH_MS)
    return stream.map(namespace["shape"]).map_blocks(namespace["scale"]).to_wav(target, bit_depth="float")


def _expected_samples(index: int) -> np.ndarray:
    count = int(RATE * LENGTH_MS / 1000)
    sine = 0.5 * np.sin(2 * np.pi * FREQUENCIES[index] * np.arange(count) / RATE)
    # The float WAV stores 32-bit samples.
    return EXPECTED_SHAPES[index](sine).astype(np.float32).astype(np.float64)


def _assert_finished(results):
    for result in results:
        assert result.exception is None, f"output failed: {result.exception}"
        assert result.finished


def test_three_users_same_function_names(cluster, workers, tmp_path):
    client = cluster[1]
    for index in range(3):
        single = _user_output(index, str(tmp_path / f"single{index}.wav"))
        with wb.SingleThreadedOverseer([single]) as overseer:
            _assert_finished([future.result(timeout=60) for future in overseer.eval(RATE)])

    overseers = [
        DistributedOverseer([_user_output(index, str(tmp_path / f"user{index}.wav"))], client=client,
                            partitions=2, config=CONFIG)
        for index in range(3)
    ]
    try:
        futures = [future for overseer in overseers for future in overseer.eval(RATE)]
        planted = {address: sorted(call_worker(client, address, "wavebeans_describe")["job_states"])
                   for address in workers}
        _assert_finished([future.result(timeout=60) for future in futures])
    finally:
        for overseer in overseers:
            overseer.close()

    job_ids = sorted(overseer.job_id for overseer in overseers)
    assert len(set(job_ids)) == 3
    for address in workers:
        # All three jobs were planted on both workers at once: a job's state stays until close().
        assert planted[address] == job_ids
    for index in range(3):
        written, rate = sf.read(str(tmp_path / f"user{index}.wav"), dtype="float64")
        single, _ = sf.read(str(tmp_path / f"single{index}.wav"), dtype="float64")
        assert rate == RATE
        assert np.array_equal(written, single), f"user {index}: distributed and single-threaded outputs differ"
        assert np.allclose(written, _expected_samples(index), atol=1e-6), f"user {index}: wrong samples"


def _worker_threads() -> int:
    return threading.active_count()


def _worker_rss() -> int:
    import gc as worker_gc

    import psutil

    worker_gc.collect()
    return psutil.Process().memory_info().rss


def _small_job(client, target: str, offset: float) -> None:
    output = wb.sine(200, 0.5).trim(20).map(lambda x: x + offset).to_wav(target, bit_depth="float")
    with DistributedOverseer([output], client=client, partitions=2, config=CONFIG) as overseer:
        _assert_finished([future.result(timeout=60) for future in overseer.eval(RATE)])


def _worker_state(client, workers):
    describe = {address: call_worker(client, address, "wavebeans_describe") for address in workers}
    return {
        "jobs": {address: reply["jobs"] for address, reply in describe.items()},
        "job_states": {address: list(reply["job_states"]) for address, reply in describe.items()},
        "threads": client.run(_worker_threads, workers=workers),
        "rss": client.run(_worker_rss, workers=workers),
    }


#: Extra threads allowed per worker (and in the client) after the jobs. The facilitator's call pool and
#: Dask's task and comm pools start threads on demand and keep idle ones. The warm-up job starts them,
#: but a later job whose calls overlap more may start a few more, which stay idle and are reused. A leak
#: of one thread per job would exceed this slack by far after 50 jobs.
THREAD_SLACK = 4

#: Extra resident memory allowed per worker after the jobs: allocator and interpreter caches grow a little
#: without any job state being kept.
RSS_SLACK = 30 * 1024 * 1024

JOBS_IN_A_ROW = 50


def test_fifty_jobs_leave_no_state(cluster, workers, tmp_path):
    client = cluster[1]
    _small_job(client, str(tmp_path / "warmup.wav"), 0.0)
    before = _worker_state(client, workers)
    local_threads = threading.active_count()

    for number in range(JOBS_IN_A_ROW):
        _small_job(client, str(tmp_path / f"job{number}.wav"), number / 100.0)

    gc.collect()
    after = _worker_state(client, workers)
    for address in workers:
        assert before["jobs"][address] == {}
        assert after["jobs"][address] == {}, f"{address} keeps jobs after close()"
        assert after["job_states"][address] == [], f"{address} keeps job states after close()"
        assert after["threads"][address] <= before["threads"][address] + THREAD_SLACK, (
            f"{address}: {after['threads'][address]} threads after {JOBS_IN_A_ROW} jobs, "
            f"{before['threads'][address]} before"
        )
        grown = after["rss"][address] - before["rss"][address]
        assert grown <= RSS_SLACK, f"{address}: resident memory grew by {grown / 2**20:.1f} MiB"
    assert threading.active_count() <= local_threads + THREAD_SLACK, "the overseers left threads in the client"

    written, _ = sf.read(str(tmp_path / f"job{JOBS_IN_A_ROW - 1}.wav"), dtype="float64")
    expected = 0.5 * np.sin(2 * np.pi * 200 * np.arange(320) / RATE) + (JOBS_IN_A_ROW - 1) / 100.0
    assert np.allclose(written, expected, atol=1e-6)
