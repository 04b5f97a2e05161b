"""A job whose client process dies is stopped on every worker, and its unfinished outputs are aborted."""

from __future__ import annotations

import glob
import os
import select
import subprocess
import sys
import textwrap
import time

import numpy as np
import pytest
import soundfile as sf

from wavebeans_nb.distributed import start_local_cluster
from wavebeans_nb.distributed.cluster import call_worker, cluster_workers

TIMEOUT = 60.0  # seconds, to bound a hang only

# The client: start a slow two-partition job, report its id once the output writes, then wait to be killed.
CLIENT = textwrap.dedent('''
    import os, sys, time
    import wavebeans_nb as wb
    from wavebeans_nb.distributed import DistributedOverseer

    def main(address, target, marker):
        def scale(block):
            if os.path.exists(marker):
                time.sleep(0.01)
            return block * 0.5

        output = wb.sine(440).trim(600_000).map_blocks(scale).to_wav(target)
        overseer = DistributedOverseer([output], client=address, partitions=2,
                                       config=wb.ExecutionConfig(chunk_size=256))
        overseer.eval(8000)
        while overseer.status()["outputs"][0]["elements_written"] == 0:
            time.sleep(0.1)
        print("running", overseer.job_id, flush=True)
        time.sleep(600)

    if __name__ == "__main__":
        main(*sys.argv[1:4])
''')


def _jobs_on_workers(client) -> dict[str, list[str]]:
    workers = cluster_workers(client)
    return {address: call_worker(client, address, "wavebeans_describe")["job_states"] for address in workers}


def _read_line(process: subprocess.Popen, timeout: float) -> str:
    ready, _, _ = select.select([process.stdout], [], [], timeout)
    assert ready, f"the client printed nothing within {timeout} s"
    return process.stdout.readline()


def test_killed_client_job_is_stopped(tmp_path):
    script = tmp_path / "client.py"
    script.write_text(CLIENT, encoding="utf-8")
    target = tmp_path / "out.wav"
    marker = tmp_path / "slow"
    marker.touch()
    local, client = start_local_cluster(n_workers=2)
    process = subprocess.Popen([sys.executable, str(script), local.scheduler_address, str(target), str(marker)],
                               stdout=subprocess.PIPE, text=True)
    try:
        line = _read_line(process, TIMEOUT)
        assert line.startswith("running "), line
        job_id = line.split()[1]
        jobs = _jobs_on_workers(client)
        assert all(job_id in states for states in jobs.values()), f"the job should run on both workers: {jobs}"

        process.kill()
        process.wait(TIMEOUT)
        deadline = time.monotonic() + TIMEOUT
        while any(job_id in states for states in _jobs_on_workers(client).values()):
            assert time.monotonic() < deadline, f"job {job_id} still kept: {_jobs_on_workers(client)}"
            time.sleep(0.5)

        assert not target.exists(), "the unfinished output must be aborted, not committed"
        assert glob.glob(str(tmp_path / ".*.partial")) == []
    finally:
        process.kill()
        process.wait(TIMEOUT)
        client.close()
        local.close()


# The client: start a two-partition job and kill itself right after the first call `phase` to a worker
# returns, so the job is planted (and, for start_job, started on one worker only) when the client dies.
DYING_CLIENT = textwrap.dedent('''
    import os, signal, sys
    import wavebeans_nb as wb
    import wavebeans_nb.distributed.overseer as overseer_module
    from wavebeans_nb.distributed import DistributedOverseer

    def main(address, target, phase):
        original = overseer_module.call_worker

        def call_then_die(client, worker, op, *args, **kwargs):
            reply = original(client, worker, op, *args, **kwargs)
            if op == phase:
                print("job", kwargs["job_id"], flush=True)
                os.kill(os.getpid(), signal.SIGKILL)
            return reply

        overseer_module.call_worker = call_then_die
        # map_blocks keeps the partitions in pods of their own, so the job is planted on both workers.
        output = wb.sine(440).trim(2_000).map_blocks(lambda block: block * 0.5).to_wav(target)
        DistributedOverseer([output], client=address, partitions=2).eval(8000)

    if __name__ == "__main__":
        main(*sys.argv[1:4])
''')


@pytest.mark.parametrize("phase", ["wavebeans_plant", "wavebeans_start_job"])
def test_client_killed_while_starting(tmp_path, cluster, phase):
    """A client that dies before every worker started the job leaves no job state on any worker."""
    local, client = cluster
    script = tmp_path / "client.py"
    script.write_text(DYING_CLIENT, encoding="utf-8")
    target = tmp_path / "out.wav"
    previous = np.linspace(-0.5, 0.5, 50)
    sf.write(str(target), previous, 8000, subtype="FLOAT")
    process = subprocess.Popen([sys.executable, str(script), local.scheduler_address, str(target), phase],
                               stdout=subprocess.PIPE, text=True)
    try:
        line = _read_line(process, TIMEOUT)
        assert line.startswith("job "), line
        job_id = line.split()[1]
        process.wait(TIMEOUT)
        deadline = time.monotonic() + TIMEOUT
        while any(job_id in states for states in _jobs_on_workers(client).values()):
            assert time.monotonic() < deadline, f"job {job_id} still kept: {_jobs_on_workers(client)}"
            time.sleep(0.5)
        kept, _ = sf.read(str(target), dtype="float64")
        assert np.allclose(kept, previous, atol=1e-7), "the target must keep its previous content"
        assert glob.glob(os.path.join(str(tmp_path), ".*.partial")) == []
    finally:
        process.kill()
        process.wait(TIMEOUT)
