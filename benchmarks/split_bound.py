"""Benchmark: the STFT scenario split over two processes by hand, a bound for the 2-worker target.

The distributed overseer's target for scenario ``stft`` on two workers is a
speed-up of 1.5 over single-threaded. This script measures what a minimal
hand-written numpy program reaches with the same data flow on this machine:

* one process: read the file in overlapping blocks, compute the magnitudes of
  every block (the suite's numpy baseline);
* two processes: the main process reads every block, computes the magnitudes
  of the even blocks itself, and hands each odd block to a helper process
  through shared memory. It then copies the helper's magnitudes out, in order,
  as an output that needs every frame must. The pipe between them carries only
  slot numbers and row counts.

Both processes raise glibc's malloc thresholds, as the Facilitator does in
workers. The input is the suite's speech at 44.1 kHz, 10 minutes long by default
(``--minutes``). Run from the repository root::

    python -m benchmarks.split_bound              # measure and update docs/benchmarks.md
    python -m benchmarks.split_bound --no-write   # measure only
"""

from __future__ import annotations

import argparse
import multiprocessing
import tempfile
from multiprocessing.connection import Connection

import numpy as np

from wavebeans_nb.distributed.allocator import raise_malloc_thresholds

from . import stft
from .common import machine_description, median, run_section_script, time_runs
from .suite import STFT_BLOCK, prepare_inputs

SECTION = "split_bound"
#: Blocks in flight between the two processes.
SLOTS = 4
#: Largest number of windows in one block.
_BLOCK_WINDOWS = STFT_BLOCK // stft.STEP + 1


def one_process(source: str) -> int:
    """Compute every block's magnitudes in this process; return the number of rows."""
    return sum(len(rows) for rows in stft.baseline_frames(source, STFT_BLOCK))


def _helper(connection: Connection, samples_buffer, rows_buffer) -> None:
    """Compute the magnitudes of each block the main process puts in a slot, until it sends None."""
    raise_malloc_thresholds()
    samples = np.frombuffer(samples_buffer, dtype=np.float64).reshape(SLOTS, -1)
    rows = np.frombuffer(rows_buffer, dtype=np.float64).reshape(SLOTS, _BLOCK_WINDOWS, stft.SIZE // 2)
    while (message := connection.recv()) is not None:
        slot, length = message
        magnitudes = stft.block_magnitudes(samples[slot, :length])
        rows[slot, : len(magnitudes)] = magnitudes
        connection.send((slot, len(magnitudes)))


class TwoProcesses:
    """A helper process and the :data:`SLOTS` sample and magnitude buffers it shares with the main process."""

    def __init__(self) -> None:
        context = multiprocessing.get_context("spawn")
        samples_buffer = context.RawArray("d", SLOTS * (STFT_BLOCK + stft.SIZE))
        rows_buffer = context.RawArray("d", SLOTS * _BLOCK_WINDOWS * (stft.SIZE // 2))
        self.samples = np.frombuffer(samples_buffer, dtype=np.float64).reshape(SLOTS, -1)
        self.rows = np.frombuffer(rows_buffer, dtype=np.float64).reshape(SLOTS, _BLOCK_WINDOWS, -1)
        self.connection, theirs = context.Pipe()
        self.process = context.Process(target=_helper, args=(theirs, samples_buffer, rows_buffer), daemon=True)
        self.process.start()

    def run(self, source: str) -> int:
        """Compute every block's magnitudes, the odd blocks in the helper; return the number of rows."""
        total, in_flight = 0, 0
        for index, block in enumerate(stft.sample_blocks(source, STFT_BLOCK)):
            if index % 2 == 0:
                total += len(stft.block_magnitudes(block))
                continue
            if in_flight == SLOTS:
                total += self._take_rows()
                in_flight -= 1
            slot = (index // 2) % SLOTS
            self.samples[slot, : len(block)] = block
            self.connection.send((slot, len(block)))
            in_flight += 1
        for _ in range(in_flight):
            total += self._take_rows()
        return total

    def _take_rows(self) -> int:
        slot, count = self.connection.recv()
        np.array(self.rows[slot, :count])  # the copy a consumer of the rows makes before the slot is reused
        return count

    def close(self) -> None:
        self.connection.send(None)
        self.process.join(10.0)


def measure(runs: int, minutes: float = 10.0) -> dict:
    """Time both programs ``runs`` times each, alternating, on ``minutes`` of the suite's input."""
    raise_malloc_thresholds()
    two = TwoProcesses()
    try:
        with tempfile.TemporaryDirectory(prefix="wavebeans-bound-") as directory:
            source = prepare_inputs(directory, minutes, ("speech",)).path("speech")
            rows = one_process(source)
            if two.run(source) != rows:
                raise RuntimeError("the two-process program computed a different number of rows")
            one_times, two_times = [], []
            for _ in range(runs):
                one_times += time_runs(lambda: one_process(source), 1)
                two_times += time_runs(lambda: two.run(source), 1)
    finally:
        two.close()
    return {"rows": rows, "one": one_times, "two": two_times}


def format_section(results: dict, runs: int, minutes: float = 10.0) -> str:
    one_process, two_processes = median(results["one"]), median(results["two"])
    table = ["| program | median (s) | all runs (s) |", "|---|---|---|"]
    for name, times in (("one process", results["one"]), ("two processes", results["two"])):
        table.append(f"| {name} | {median(times):.3f} | {', '.join(f'{t:.3f}' for t in times)} |")
    return "\n".join([
        "## Split bound: the STFT scenario in two processes by hand",
        "",
        "What a minimal numpy program gains from a second process, with the data flow of the distributed "
        "2-worker STFT row. One process reads the file, and the two compute every other block's magnitudes "
        "(Hann, `numpy.fft.rfft`, dB). The reading process copies the other's half of the "
        f"{results['rows']} rows out of shared memory in order, as an output that needs every frame must. "
        f"Input: the suite's {minutes:g} minutes of 44.1 kHz speech; blocks of {STFT_BLOCK} samples; "
        f"{SLOTS} blocks in flight; both processes with the Facilitator's malloc thresholds. {runs} runs "
        "of each program, alternating, median reported.",
        "",
        *table,
        "",
        f"Speed-up of two processes over one: **{one_process / two_processes:.2f}x**. "
        "The target of the 2-worker row is 1.5x.",
        "",
        f"Machine: {machine_description()}.",
        "",
        "Command: `python -m benchmarks.split_bound` (from the repository root).",
    ])


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=7, help="runs of each program (default: %(default)s)")
    parser.add_argument("--minutes", type=float, default=10.0, help="length of the input in minutes")
    return run_section_script(SECTION, parser, argv, lambda args: format_section(
        measure(args.runs, args.minutes), args.runs, args.minutes))


if __name__ == "__main__":
    raise SystemExit(main())
