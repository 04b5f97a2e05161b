"""Installing Facilitators on a cluster leaves the ones already running, and their jobs, alone."""

from __future__ import annotations

import logging
import os

import numpy as np
import soundfile as sf
from distributed import Client, LocalCluster

import wavebeans_nb as wb
from wavebeans_nb.distributed import DistributedOverseer
from wavebeans_nb.distributed.cluster import call_worker, cluster_workers, install_facilitators

from distributed_support import halve_slowly_while

RATE = 8000.0
TIMEOUT = 120.0  # seconds, to bound a hang only


def _has_handler(dask_worker) -> bool:
    return "wavebeans_describe" in dask_worker.handlers


def test_install_keeps_running_jobs(tmp_path):
    marker = str(tmp_path / "slow")
    open(marker, "w").close()
    target = tmp_path / "out.wav"
    cluster = LocalCluster(n_workers=2, threads_per_worker=1, processes=True, dashboard_address=":0",
                           silence_logs=logging.ERROR)
    client = Client(cluster, set_as_default=False)
    try:
        first, second = sorted(cluster_workers(client))
        output = wb.sine(440).trim(20_000).map_blocks(halve_slowly_while(marker)).to_wav(str(target), bit_depth="float")
        with DistributedOverseer([output], client=client, facilitators=[first],
                                 config=wb.ExecutionConfig(chunk_size=256)) as overseer:
            future = overseer.eval(RATE)[0]
            assert client.run(_has_handler) == {first: True, second: False}

            install_facilitators(client)  # the second worker has none yet
            assert client.run(_has_handler) == {first: True, second: True}
            assert overseer.job_id in call_worker(client, first, "wavebeans_describe")["jobs"]

            os.unlink(marker)
            result = future.result(timeout=TIMEOUT)
            assert result.exception is None, f"the job failed: {result.exception}"
            assert result.finished

        written, rate = sf.read(str(target), dtype="float64")
        expected = 0.5 * np.sin(2 * np.pi * 440 * np.arange(int(20 * RATE)) / RATE)
        assert rate == RATE
        assert np.allclose(written, expected, atol=1e-7)  # float32 samples
    finally:
        client.close()
        cluster.close()
