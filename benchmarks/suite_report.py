"""Markdown report of a benchmark suite run: tables per scenario, memory scenario, targets, machine."""

from __future__ import annotations

import os
import platform
import shutil
import statistics
import subprocess

from .common import machine_description
from .suite import (
    BASELINE_TITLES, MODE_TITLES, MODES, RATE, RESAMPLE_RATE, SCENARIOS, STFT_CONFIG, SAMPLE_CONFIG, THREADS,
    RowResult, SuiteResults, sox_resample_command, sox_sample_command, Inputs,
)

MB = 1e6
#: Largest growth of peak memory from the shortest to the longest memory-scenario input that meets the target.
MEMORY_TARGET_MB = 50.0


def _memory_total(memory: dict | None) -> float | None:
    if not memory or "process" not in memory:
        return None
    return (memory["process"] + sum(memory["workers"]) + memory["children"]) / MB


def _memory_text(memory: dict | None) -> str:
    """Return the total peak in MB, with the per-process parts when there is more than one process."""
    total = _memory_total(memory)
    if total is None:
        return "not measured" if not memory else f"not measured: {memory.get('not_run') or memory.get('failed')}"
    parts = [f"process {memory['process'] / MB:.0f}"]
    if memory["workers"]:
        parts.append("workers " + " + ".join(f"{peak / MB:.0f}" for peak in memory["workers"]))
    if memory["children"]:
        parts.append(f"sox {memory['children'] / MB:.0f}")
    return f"{total:.0f}" if len(parts) == 1 else f"{total:.0f} ({', '.join(parts)})"


def _title(row: str) -> str:
    return MODE_TITLES.get(row) or BASELINE_TITLES[row]


def _median(result: RowResult | None) -> float | None:
    return statistics.median(result.times) if result and result.times else None


def _scenario_table(results: SuiteResults, name: str) -> list[str]:
    rows = [(row, result) for (scenario, row), result in results.rows.items() if scenario == name]
    numpy = _median(results.rows.get((name, "numpy")))
    lines = ["| job | median (s) | min (s) | max (s) | peak memory (MB) | time / numpy | output check |",
             "|---|---|---|---|---|---|---|"]
    for row, result in rows:
        if result.not_run or result.failed or not result.times:
            reason = f"not run: {result.not_run}" if result.not_run else f"failed: {result.failed}"
            lines.append(f"| {_title(row)} | {_cell(reason)} | | | | | |")
            continue
        median = _median(result)
        ratio = f"{median / numpy:.2f}x" if numpy else "n/a"
        lines.append(f"| {_title(row)} | {median:.3f} | {min(result.times):.3f} | {max(result.times):.3f} | "
                     f"{_memory_text(result.memory)} | {ratio} | {_cell(result.check)} |")
    return lines


def _cell(text: str) -> str:
    return text.replace("|", "\\|").replace("\n", " ")


def _ratio(results: SuiteResults, scenario: str, row: str, other: str) -> float | None:
    first, second = _median(results.rows.get((scenario, row))), _median(results.rows.get((scenario, other)))
    return first / second if first and second else None


def _verdict(label: str, ratio: float | None, limit: float, detail: str, at_most: bool = True) -> str:
    if ratio is None:
        return f"- NOT EVALUATED: {label} (a row it needs was not run or not selected)"
    passed = ratio <= limit if at_most else ratio >= limit
    return f"- {'PASS' if passed else 'MISS'}: {label}: {ratio:.2f}x {detail}"


def _best_speedup(results: SuiteResults) -> tuple[float | None, str]:
    """Return the largest speed-up of a 2-partition STFT mode over single-threaded, and that mode."""
    best, best_mode = None, ""
    for mode in ("multi-2", "dist-2"):
        ratio = _ratio(results, "stft", "single", mode)
        if ratio is not None and (best is None or ratio > best):
            best, best_mode = ratio, mode
    return best, best_mode


def _targets(results: SuiteResults) -> list[str]:
    speedup, speedup_mode = _best_speedup(results)
    lines = [
        _verdict("sample, single-threaded at most 1.5x the numpy baseline",
                 _ratio(results, "sample", "single", "numpy"), 1.5, "the numpy time"),
        _verdict("sample, single-threaded faster than sox", _ratio(results, "sample", "single", "sox"),
                 1.0, "the sox time (below 1 passes)"),
        _verdict("stft, single-threaded at most 2x the numpy baseline",
                 _ratio(results, "stft", "single", "numpy"), 2.0, "the numpy time"),
        _verdict("stft, 2 partitions at least 1.5x faster than single-threaded", speedup, 1.5,
                 f"faster ({MODE_TITLES.get(speedup_mode, 'no 2-partition mode ran')})", at_most=False),
        _verdict("resample, single-threaded faster than sox `rate -m` (comparable quality, see below)",
                 _ratio(results, "resample", "single", "sox-m"), 1.0, "the sox time (below 1 passes)"),
        _verdict("resample, single-threaded faster than sox `rate -v`",
                 _ratio(results, "resample", "single", "sox-v"), 1.0, "the sox time (below 1 passes)"),
        _verdict("sample, distributed on 1 worker at most 1.5x the single-threaded time",
                 _ratio(results, "sample", "dist-1", "single"), 1.5, "the single-threaded time"),
        _verdict("stft, distributed on 2 workers at least 1.5x faster than single-threaded",
                 _ratio(results, "stft", "single", "dist-2"), 1.5, "the single-threaded speed", at_most=False),
    ]
    return lines + _memory_targets(results)


def _memory_growth(by_minutes: dict) -> float | None:
    lengths = sorted(by_minutes)
    if len(lengths) < 2:
        return None
    short, long = _memory_total(by_minutes[lengths[0]]), _memory_total(by_minutes[lengths[-1]])
    return None if short is None or long is None else long - short


def _memory_targets(results: SuiteResults) -> list[str]:
    lines = []
    for row, by_minutes in results.memory_scenario.items():
        growth = _memory_growth(by_minutes)
        if growth is None:
            lines.append(f"- NOT EVALUATED: memory, {_title(row)} (not measured)")
        else:
            verdict = "PASS" if growth <= MEMORY_TARGET_MB else "MISS"
            lines.append(f"- {verdict}: memory, {_title(row)}: peak grows by {growth:.0f} MB from the shortest "
                         f"to the longest input (target: at most {MEMORY_TARGET_MB:.0f} MB)")
    return lines


def _memory_table(results: SuiteResults) -> list[str]:
    lengths = sorted({minutes for by_minutes in results.memory_scenario.values() for minutes in by_minutes})
    header = " | ".join(f"peak, {minutes:g} min (MB)" for minutes in lengths)
    lines = [f"| job | {header} | difference (MB) |", "|---|" + "---|" * (len(lengths) + 1)]
    for row, by_minutes in results.memory_scenario.items():
        cells = " | ".join(_cell(_memory_text(by_minutes.get(minutes))) for minutes in lengths)
        growth = _memory_growth(by_minutes)
        lines.append(f"| {_title(row)} | {cells} | {'n/a' if growth is None else f'{growth:+.0f}'} |")
    return lines


def _versions() -> str:
    import dask
    import distributed
    import psutil

    memory = psutil.virtual_memory().total / 2**30
    physical = psutil.cpu_count(logical=False)
    sox = "not installed"
    if shutil.which("sox"):
        sox = subprocess.run(["sox", "--version"], capture_output=True, text=True).stdout.strip()
        sox = sox.replace("sox:", "").strip()
    return (f"{machine_description()}; {physical} physical cores, {memory:.1f} GiB RAM; "
            f"dask {dask.__version__}, distributed {distributed.__version__}; sox {sox}; "
            f"{platform.python_implementation()}")


def _method_text(results: SuiteResults) -> list[str]:
    options = results.options
    example = Inputs("DIR", results.frames)
    sample_sox = " ".join(sox_sample_command(example, "OUT")).replace(os.sep.join(["DIR", ""]), "")
    resample_sox = " ".join(sox_resample_command(example, "OUT", "-v")).replace(os.sep.join(["DIR", ""]), "")
    return [
        f"Input: {options.minutes:g} minutes ({results.frames} samples) of 44.1 kHz 16-bit mono audio: "
        "arctic_a0007.wav and arctic_a0009.wav (16 kHz) resampled to 44.1 kHz once with "
        "`scipy.signal.resample_poly(x, 441, 160)` and looped. `speech.wav` is a0007 followed by a0009; "
        "the podcast voices are a0007 and a0009, and its background is the speech played backwards. "
        "The files are written to a temporary directory before any timing.",
        "",
        f"Every row runs once before timing, and its output is compared with the numpy baseline's (the "
        f"\"output check\" column). Then all rows are timed in turn, {options.repeats} rounds; the table gives "
        "the median, minimum and maximum wall-clock time of a whole job (building the overseer, evaluating, "
        "closing). Peak memory is the sum of the peak resident set sizes of every process of one extra, "
        "untimed run in a fresh Python process, measured as in the memory scenario below; distributed rows "
        "start a fresh cluster for it.",
        "",
        f"Modes: the single-threaded overseer; the multi-threaded overseer with {THREADS} threads and 1 or 2 "
        "partitions; the distributed overseer on a Dask LocalCluster with worker processes (1 thread each), "
        "1 worker with 1 partition and 2 workers with 2 partitions. Each round times the in-process rows "
        "(modes and baselines) with no cluster running. Then it times the rows of the 1-worker cluster with "
        "only that cluster running, and then those of the 2-worker cluster, because idle Dask workers and "
        "nannies take CPU time from the jobs beside them. A cluster is started anew for each round, and each "
        "of its rows runs once untimed before its timed run. Engine settings: sample scenarios "
        f"{_config_text(SAMPLE_CONFIG)}; stft {_config_text(STFT_CONFIG)}. The single-threaded overseer "
        "uses the same block size.",
        "",
        "Baselines:",
        "",
        "- numpy + soundfile by hand, in the benchmark process: `sample`, `stft` and `podcast` stream in "
        "blocks of the same size as the engine; `resample` reads the whole file and makes one "
        f"`scipy.signal.resample_poly(x, 160, 147)` call ({RATE} Hz to {RESAMPLE_RATE} Hz), so it holds "
        "the whole signal in memory.",
        f"- sox, `sample`: `{sample_sox}` (sizes of the {options.minutes:g}-minute run). `-D` turns off "
        "dithering so sox rounds like the engine; `synth -n` turns off synth's 3 dB headroom.",
        f"- sox, `resample`: `{resample_sox}`, and the same with `rate -m`. sox's manual gives for `rate -v` "
        "a bandwidth of 95 % of the band and 175 dB rejection, for `rate -m` 95 % and 100 dB (both linear "
        "phase by default). The engine's polyphase method uses scipy's `resample_poly` filter (Kaiser window, "
        "beta 5, 10 zero crossings per side); wavebeans_nb/beans/resample.py documents its measured response: "
        "flat within 0.1 dB up to 0.86 of the lower Nyquist frequency, -6 dB at it, at least 55 dB rejection "
        "above 1.2 times it. `rate -m` is the lowest sox quality whose bandwidth and rejection are both at "
        "least the engine's, so it is the comparable-quality target; sox's rejection is far higher.",
        "- Dask, `stft`: `dask.array.map_blocks` over chunks of 1024 window indices; each block reads the "
        "samples its windows cover (overlapping the next block's) with soundfile and computes the magnitudes; "
        "the per-bin sums are computed with the threaded scheduler. The engine's STFT output goes to "
        "`to_dev_null()`; the check run writes per-bin sums through `out()` instead.",
    ]


def _config_text(config) -> str:
    return (f"block_size={config.block_size}, chunk_size={config.chunk_size}, "
            f"buffer_chunks={config.buffer_chunks}, prefetch_buckets={config.prefetch_buckets}")


def format_report(results: SuiteResults) -> str:
    """Return the markdown section of a suite run."""
    lines = ["## Suite: every scenario in every mode against baselines", ""]
    options = results.options
    if options.minutes < 10 or options.repeats < 5 or options.memory_minutes != (1.0, 60.0):
        lines += [f"**Trial run** ({options.minutes:g} minutes of audio, {options.repeats} repeats, memory "
                  "scenario lengths as in the command below): these figures only show that the suite works. "
                  "Fixed costs dominate short inputs; run `python -m benchmarks` for the full figures.", ""]
    lines += [*_method_text(results), ""]
    for name in results.options.scenarios:
        lines += [f"### {name}: {SCENARIOS[name].title}", "", *_scenario_table(results, name), ""]
    lines += [*_memory_section(results), "### Targets", "", *_targets(results), "",
              f"Machine: {_versions()}.", "",
              f"Command: `{results.options.command}` (from the repository root); the whole run took "
              f"{results.seconds:.0f} s."]
    return "\n".join(lines)


def _memory_section(results: SuiteResults) -> list[str]:
    lengths = " and ".join(f"{minutes:g}" for minutes in results.options.memory_minutes)
    if not lengths:
        return ["### Memory", "", "The memory scenario was not run (`--memory-minutes` was empty).", ""]
    return [
        f"### Memory: scenario `sample` over {lengths} minutes",
        "",
        "Each job runs once in a fresh Python process (benchmarks/memory.py). The peak is the peak resident "
        "set size (`VmHWM` in `/proc/PID/status`) of that process, which also hosts the Dask scheduler and "
        "nannies in distributed modes, plus that of every Dask worker process (read with `client.run` after "
        "the job), plus that of the sox processes (sampled every 10 ms while they run). `ru_maxrss` is not "
        "used because Linux carries the parent's peak into a child started with vfork and exec. Peaks "
        "include the interpreter and the libraries, so the difference between the two lengths is the "
        "figure that shows growth with the stream's length.",
        "",
        *_memory_table(results),
        "",
    ]
