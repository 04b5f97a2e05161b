"""Chunk transfer throughput between two Facilitators.

One pod reads a sample stream on worker A; the output pod on worker B pulls
it through a RemoteBush, so every chunk crosses the worker comms. The
throughput is the bytes of float64 samples moved per second of wall time,
for a few chunk sizes.

Run ``python -m benchmarks.transfer`` from the repository root; it writes the
"transfer" section of docs/benchmarks.md.
"""

from __future__ import annotations

import argparse
import logging
from typing import Mapping, Sequence

import wavebeans_nb as wb
from wavebeans_nb.distributed.cluster import start_local_cluster
from wavebeans_nb.distributed.planner import FacilitatorInfo
from wavebeans_nb.execution.config import ExecutionConfig
from wavebeans_nb.execution.podref import PodRef

from .common import machine_description, median, replace_section, time_runs

RATE = 48000.0


class SplitPlanner:
    """Put the output pods on the second Facilitator and every other pod on the first."""

    def distribute(self, pods: Sequence[PodRef],
                   facilitators: Sequence[FacilitatorInfo]) -> Mapping[str, list[PodRef]]:
        first, second = facilitators[0].address, facilitators[1].address
        plan: dict[str, list[PodRef]] = {first: [], second: []}
        for pod in pods:
            plan[second if pod.kind == "output" else first].append(pod)
        return plan


def run_transfer(client, seconds: float, config: ExecutionConfig) -> None:
    output = wb.sine(440.0).trim(seconds, "s").to_dev_null()
    with wb.DistributedOverseer(output, client=client, distribution_planner=SplitPlanner(),
                                config=config) as overseer:
        result = overseer.eval(RATE)[0].result()
        status = overseer.status()
    if not result.finished:
        raise RuntimeError(f"transfer job failed: {result.exception!r}")
    calls = sum(bush.get("calls", 0) for facilitator in status["facilitators"]
                for bush in facilitator.get("remote_bushes", []))
    if calls == 0:
        raise RuntimeError("no remote pod calls were made; the planner did not split the job")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=600.0, help="length of the stream in seconds of 48 kHz audio")
    parser.add_argument("--repeats", type=int, default=5, help="timed runs per chunk size")
    parser.add_argument("--no-write", action="store_true", help="print the table instead of writing docs/benchmarks.md")
    args = parser.parse_args(argv)

    rows = []
    cluster, client = start_local_cluster(n_workers=2, threads_per_worker=1, silence_logs=logging.ERROR)
    try:
        for chunk_size, buckets in [(512, 16), (4096, 16), (16384, 8)]:
            # One pod per bean, so the output pod is alone on the second worker and pulls every chunk.
            config = ExecutionConfig(chunk_size=chunk_size, prefetch_buckets=buckets, group_beans=False)
            run_transfer(client, 1.0, config)  # warm-up: plugin, code shipping, connections
            times = time_runs(lambda: run_transfer(client, args.seconds, config), args.repeats)
            megabytes = args.seconds * RATE * 8 / 1e6
            rows.append(f"| {chunk_size} | {buckets} | {median(times):.3f} | {min(times):.3f} | {max(times):.3f} "
                        f"| {megabytes / median(times):.0f} |")
    finally:
        client.close()
        cluster.close()

    table = "\n".join([
        "## Chunk transfer between two workers",
        "",
        f"A {args.seconds:g} s, 48 kHz sample stream produced on one worker and written to /dev/null on the "
        "other, so every chunk crosses the worker comms (2 worker processes, 1 thread each, loopback). "
        f"Median of {args.repeats} runs.",
        "",
        "| chunk size (samples) | chunks per call | median (s) | min (s) | max (s) | throughput (MB/s of float64) |",
        "|---|---|---|---|---|---|",
        *rows,
        "",
        f"Machine: {machine_description()}.",
        "",
        "Command: `python -m benchmarks.transfer`.",
    ])
    if args.no_write:
        print(table)
    else:
        replace_section("transfer", table)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
