"""Peak resident memory of one benchmark job, measured in a fresh Python process.

:func:`measure_peak` starts ``python -m benchmarks.memory`` with the job's
scenario, row and input directory. That child runs the job once and prints
one JSON line with the peak resident set size (``VmHWM`` in
``/proc/PID/status``) of every process involved:

* ``process``: the child itself (for distributed rows it also hosts the
  Dask scheduler and the nannies of its own, freshly started LocalCluster);
* ``workers``: each Dask worker process, read with ``client.run`` after the job;
* ``children``: the other processes the job starts (the sox processes), summed.
  They are sampled every 10 ms while they run, so the last value seen may
  miss growth in a process's final 10 ms.

``ru_maxrss`` is not used: Linux carries the parent's peak into a child that
Python starts with vfork and exec, so every child would report at least the
parent's size. ``VmHWM`` belongs to the process's own address space and
starts afresh at exec. Linux only.

A fresh process per job means no earlier job's allocations count. The peak
includes the interpreter and imported libraries, so compare differences
between runs of one row rather than single values.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import threading

_REPOSITORY = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def peak_rss(pid: int | str = "self") -> int:
    """Return the peak resident set size (``VmHWM``) of process ``pid`` in bytes; 0 if it has gone."""
    try:
        with open(f"/proc/{pid}/status") as status:
            for line in status:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1]) * 1024  # the kernel reports kB
    except (FileNotFoundError, ProcessLookupError):
        pass
    return 0


class _ChildSampler:
    """Background thread that records the latest ``VmHWM`` of every descendant process, by pid."""

    def __init__(self, interval: float = 0.01) -> None:
        self.peaks: dict[int, int] = {}
        self._interval = interval
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="memory-sampler", daemon=True)

    def __enter__(self) -> "_ChildSampler":
        self._thread.start()
        return self

    def __exit__(self, *exc_info) -> None:
        self._stop.set()
        self._thread.join()

    def _run(self) -> None:
        import psutil

        me = psutil.Process()
        while not self._stop.is_set():
            for child in me.children(recursive=True):
                # A child caught between vfork and exec still shows this Python's address space.
                try:
                    if child.name() == me.name():
                        continue
                except psutil.Error:
                    continue
                peak = peak_rss(child.pid)
                if peak:
                    self.peaks[child.pid] = max(peak, self.peaks.get(child.pid, 0))
            self._stop.wait(self._interval)


def measure_peak(scenario: str, row: str, inputs, timeout: float) -> dict:
    """Run one job in a fresh process and return its peaks in bytes.

    Returns
    -------
    dict
        ``{"process": int, "workers": [int, ...], "children": int}``, or
        ``{"not_run": reason}`` / ``{"failed": reason}``.
    """
    command = [sys.executable, "-m", "benchmarks.memory", "--scenario", scenario, "--row", row,
               "--input-dir", inputs.directory, "--frames", str(inputs.frames), "--timeout", str(timeout)]
    try:
        completed = subprocess.run(command, cwd=_REPOSITORY, capture_output=True, text=True,
                                   timeout=timeout + 120.0)
    except subprocess.TimeoutExpired:
        return {"failed": f"the measuring process did not finish within {timeout + 120.0:g} s"}
    lines = completed.stdout.strip().splitlines()
    if completed.returncode != 0 or not lines:
        tail = completed.stderr.strip().splitlines()[-1:] or ["no output"]
        return {"failed": f"the measuring process exited with code {completed.returncode}: {tail[0]}"}
    return json.loads(lines[-1])


def _run_child(scenario_name: str, row: str, input_dir: str, frames: int, timeout: float) -> dict:
    from .suite import MODES, SCENARIOS, Clusters, Inputs, NotRun, run_row

    scenario = SCENARIOS[scenario_name]
    inputs = Inputs(input_dir, frames)
    clusters = Clusters()
    workers = MODES[row][2] if row in MODES else 0
    try:
        with _ChildSampler() as sampler, tempfile.TemporaryDirectory(prefix="wavebeans-memory-") as out:
            run_row(scenario, row, inputs, out, clusters, timeout)
            worker_peaks = clusters.worker_peaks(workers) if workers else {}
    except NotRun as reason:
        return {"not_run": str(reason)}
    finally:
        clusters.close()
    # Distributed rows count the Dask worker processes; the job starts no other programs there.
    others = 0 if workers else sum(sampler.peaks.values())
    return {"process": peak_rss(), "workers": sorted(worker_peaks.values()), "children": others}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="Run one benchmark job and print its peak memory as JSON.")
    parser.add_argument("--scenario", required=True, help="scenario name, for example 'sample'")
    parser.add_argument("--row", required=True, help="engine mode or baseline, for example 'single' or 'numpy'")
    parser.add_argument("--input-dir", required=True, help="directory with the scenario's input WAV files")
    parser.add_argument("--frames", type=int, required=True, help="length of the input files in samples")
    parser.add_argument("--timeout", type=float, default=600.0, help="seconds the job may run")
    args = parser.parse_args(argv)
    print(json.dumps(_run_child(args.scenario, args.row, args.input_dir, args.frames, args.timeout)))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
