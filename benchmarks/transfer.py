"""Chunk transfer throughput between two Facilitators.

One pod makes a sine stream on worker A, and the output pod on worker B pulls
it through a RemoteBush. So every chunk crosses from one worker process to
the other. Rows compare the worker comms (loopback TCP) with shared memory,
at the engine's default chunk size and at the old default of 8192 samples.
A reference row keeps both pods on worker A and shows the time of making the
sine. The throughput is the bytes of float64 samples moved per second of
wall time, sine included.

``python -m benchmarks`` runs this after the scenarios and writes the
"transfer" section of docs/benchmarks.md; ``python -m benchmarks.transfer``
runs it alone.
"""

from __future__ import annotations

import argparse
import logging
from dataclasses import dataclass
from typing import Mapping, Sequence

import wavebeans_nb as wb
from wavebeans_nb.distributed.cluster import cluster_workers, start_local_cluster
from wavebeans_nb.distributed.planner import FacilitatorInfo
from wavebeans_nb.execution.config import ExecutionConfig
from wavebeans_nb.execution.podref import PodRef

from .common import machine_description, median, run_section_script, time_runs

RATE = 48000.0


class SplitPlanner:
    """Put the output pods on the second Facilitator and every other pod on the first."""

    def distribute(self, pods: Sequence[PodRef],
                   facilitators: Sequence[FacilitatorInfo]) -> Mapping[str, list[PodRef]]:
        first, second = facilitators[0].address, facilitators[-1].address
        plan: dict[str, list[PodRef]] = {first: [], second: []}
        for pod in pods:
            plan[second if pod.kind == "output" else first].append(pod)
        return plan


@dataclass(frozen=True)
class TransferRow:
    """One way of moving the stream: where the output runs and the engine settings."""

    title: str
    config: ExecutionConfig
    remote: bool = True


def _rows() -> list[TransferRow]:
    # One pod per bean, so the output pod is alone on its worker and pulls every chunk.
    default = ExecutionConfig(group_beans=False)
    return [
        TransferRow("one worker (no transfer)", default, remote=False),
        TransferRow("two workers, comms", default.replace(shared_memory=False)),
        TransferRow("two workers, shared memory", default),
        TransferRow("two workers, comms, 8192-sample chunks, 16 per call",
                    default.replace(chunk_size=8192, prefetch_buckets=16, shared_memory=False)),
    ]


def run_transfer(client, seconds: float, row: TransferRow) -> None:
    """Stream ``seconds`` of a 48 kHz sine through ``row``'s placement; raise RuntimeError if it fails."""
    workers = sorted(cluster_workers(client))
    output = wb.sine(440.0).trim(seconds, "s").to_dev_null()
    with wb.DistributedOverseer(output, client=client, distribution_planner=SplitPlanner(), config=row.config,
                                facilitators=workers[:2] if row.remote else workers[:1]) as overseer:
        result = overseer.eval(RATE)[0].result()
        status = overseer.status()
    if not result.finished:
        raise RuntimeError(f"transfer job failed: {result.exception!r}")
    calls = sum(bush.get("calls", 0) for facilitator in status["facilitators"]
                for bush in facilitator.get("remote_bushes", []))
    if row.remote and calls == 0:
        raise RuntimeError("no remote pod calls were made; the planner did not split the job")


def measure_transfer(seconds: float, repeats: int) -> str:
    """Time every transfer row on a fresh 2-worker LocalCluster; return the markdown section."""
    lines = []
    cluster, client = start_local_cluster(n_workers=2, threads_per_worker=1, silence_logs=logging.ERROR)
    try:
        for row in _rows():
            run_transfer(client, 1.0, row)  # warm-up: plugin, code shipping, connections
            times = time_runs(lambda: run_transfer(client, seconds, row), repeats)
            megabytes = seconds * RATE * 8 / 1e6
            lines.append(f"| {row.title} | {row.config.chunk_size} | {row.config.prefetch_buckets} "
                         f"| {median(times):.3f} | {min(times):.3f} | {max(times):.3f} "
                         f"| {megabytes / median(times):.0f} |")
    finally:
        client.close()
        cluster.close()

    return "\n".join([
        "## Chunk transfer between two workers",
        "",
        f"A {seconds:g} s, 48 kHz sine stream ({seconds * RATE * 8 / 1e6:.0f} MB of float64) is made on one worker "
        "and written to `to_dev_null()` on the other, so every chunk crosses between the two worker processes "
        "(Dask LocalCluster, 1 thread each, loopback). The first row keeps both pods on one worker: its time is "
        f"making the sine. Median of {repeats} runs; throughput counts the sine's time too.",
        "",
        "| placement | chunk size (samples) | chunks per call | median (s) | min (s) | max (s) "
        "| throughput (MB/s) |",
        "|---|---|---|---|---|---|---|",
        *lines,
        "",
        f"Machine: {machine_description()}.",
        "",
        "Command: `python -m benchmarks` (or `python -m benchmarks.transfer` for this table alone).",
    ])


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=600.0, help="length of the stream in seconds of 48 kHz audio")
    parser.add_argument("--repeats", type=int, default=5, help="timed runs per row")
    return run_section_script("transfer", parser, argv, lambda args: measure_transfer(args.seconds, args.repeats))


if __name__ == "__main__":
    raise SystemExit(main())
