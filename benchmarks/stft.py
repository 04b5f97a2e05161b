"""Benchmark: short-time Fourier transform magnitudes, single-threaded, against numpy by hand.

The job reads 10 minutes of 16 kHz speech (the bundled recording looped)
and cuts it into windows of 2048 samples every 512. It applies a periodic
Hann window, takes a 2048-bin FFT of each window and computes the magnitudes
in dB of bins 0 … 1023. The baseline does the same with soundfile blocks,
``sliding_window_view`` and ``numpy.fft.rfft`` in the same process. Before
timing, both results are compared (per-bin sums over all frames).

Run from the repository root::

    python -m benchmarks.stft              # measure and update docs/benchmarks.md
    python -m benchmarks.stft --no-write   # measure only
"""

from __future__ import annotations

import argparse
import os
import tempfile

import numpy as np
import soundfile as sf
from numpy.lib.stride_tricks import sliding_window_view

import wavebeans_nb as wb
from wavebeans_nb.data import ARCTIC_A0007

from .common import machine_description, median, run_section_script, time_runs, write_looped_recording

SECTION = "stft"
SIZE = 2048
STEP = 512


#: The periodic Hann window of the baselines.
HANN = 0.5 - 0.5 * np.cos(2.0 * np.pi * np.arange(SIZE) / SIZE)


def engine_stream(source: str) -> wb.Stream:
    """Return the job as a wavebeans-nb stream of magnitude vectors."""
    return wb.wave(source).window(SIZE, STEP).hann().fft(SIZE).magnitude()


def run_engine(source: str, block_size: int) -> None:
    """Evaluate the job with the single-threaded overseer, discarding the magnitudes."""
    with wb.SingleThreadedOverseer(engine_stream(source).to_dev_null(), block_size=block_size) as overseer:
        result = overseer.eval(16000)[0].result()
    if not result.finished:
        raise RuntimeError(f"benchmark job failed: {result.exception!r}")


def sample_blocks(source: str, block_size: int):
    """Yield the samples of ``source`` in overlapping float64 blocks that hold whole windows.

    Blocks overlap by SIZE - STEP samples and advance by a multiple of STEP, so
    every window start is seen once. Blocks shorter than one window are skipped.
    """
    advance = max(STEP, block_size // STEP * STEP)
    for block in sf.blocks(source, blocksize=advance + SIZE - STEP, overlap=SIZE - STEP, dtype="float64"):
        if len(block) >= SIZE:
            yield block


def block_magnitudes(block: np.ndarray) -> np.ndarray:
    """Return ``20·log10|X|`` of the Hann-weighted windows of ``block``, shape ``(windows, SIZE // 2)``."""
    frames = sliding_window_view(block, SIZE)[::STEP] * HANN
    with np.errstate(divide="ignore"):
        return 20.0 * np.log10(np.abs(np.fft.rfft(frames, axis=1)[:, : SIZE // 2]))


def baseline_frames(source: str, block_size: int):
    """Yield the magnitude rows of every full window, block by block, computed by hand with numpy."""
    for block in sample_blocks(source, block_size):
        yield block_magnitudes(block)


def run_baseline(source: str, block_size: int) -> None:
    for _ in baseline_frames(source, block_size):
        pass


def check_same_result(source: str, block_size: int) -> int:
    """Compare per-bin sums of the full-window magnitudes of both jobs; return the frame count."""
    expected = np.zeros(SIZE // 2)
    count = 0
    for rows in baseline_frames(source, block_size):
        expected += np.where(np.isfinite(rows), rows, 0.0).sum(axis=0)
        count += len(rows)
    actual = np.zeros(SIZE // 2)
    seen = 0
    for block in engine_stream(source).iter_blocks(16000, block_size):
        for row in block[: max(0, count - seen)]:
            actual += np.where(np.isfinite(row), row, 0.0)
        seen += len(block)
    if not np.allclose(actual, expected, rtol=1e-9, atol=1e-6):
        raise RuntimeError("engine and baseline magnitudes differ; the comparison is not fair")
    return seen


def measure(minutes: float, runs: int, block_size: int) -> dict:
    """Time both jobs ``runs`` times each, alternating."""
    with tempfile.TemporaryDirectory(prefix="wavebeans-bench-") as directory:
        source = os.path.join(directory, "speech-looped.wav")
        frames = write_looped_recording(ARCTIC_A0007, source, minutes * 60)
        windows = check_same_result(source, block_size)
        engine_times, baseline_times = [], []
        for _ in range(runs):
            engine_times += time_runs(lambda: run_engine(source, block_size), 1)
            baseline_times += time_runs(lambda: run_baseline(source, block_size), 1)
    return {"frames": frames, "windows": windows, "engine": engine_times, "baseline": baseline_times}


def format_section(results: dict, minutes: float, runs: int, block_size: int) -> str:
    engine = median(results["engine"])
    baseline = median(results["baseline"])
    audio_seconds = results["frames"] / 16000
    rows = [
        "| job | median (s) | all runs (s) | audio seconds per second |",
        "|---|---|---|---|",
    ]
    for name, times in (("wavebeans-nb, single-threaded", results["engine"]),
                        ("numpy + soundfile by hand", results["baseline"])):
        all_runs = ", ".join(f"{t:.3f}" for t in times)
        rows.append(f"| {name} | {median(times):.3f} | {all_runs} | {audio_seconds / median(times):.0f}x |")
    return "\n".join([
        "## STFT: window 2048, step 512, Hann, FFT 2048, magnitude in dB",
        "",
        f"Input: arctic_a0007.wav looped to {minutes:g} minutes ({results['frames']} frames, 16 kHz, "
        f"16-bit mono), written once to a temporary file. Job: `wave(...).window({SIZE}, {STEP}).hann()"
        f".fft({SIZE}).magnitude()` into `to_dev_null()` ({results['windows']} frames of {SIZE // 2} "
        "magnitudes). Baseline: soundfile blocks with overlap, `sliding_window_view`, Hann, "
        "`numpy.fft.rfft`, `20·log10|X|`. Block size "
        f"{block_size} frames; {runs} runs of each job, alternating, median reported. Before timing, "
        "the per-bin sums of both results are checked to agree within 1e-9.",
        "",
        *rows,
        "",
        f"Engine / baseline: **{engine / baseline:.2f}x** the baseline's time.",
        "",
        f"Machine: {machine_description()}. The machine was shared with other work while measuring, "
        "so single runs vary; the median is the figure to compare.",
        "",
        "Command: `python -m benchmarks.stft` (from the repository root).",
    ])


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--minutes", type=float, default=10.0, help="length of the looped input in minutes")
    parser.add_argument("--runs", type=int, default=5, help="runs of each job (default: %(default)s)")
    parser.add_argument("--block-size", type=int, default=8192, help="frames per block for both jobs")
    return run_section_script(SECTION, parser, argv, lambda args: format_section(
        measure(args.minutes, args.runs, args.block_size), args.minutes, args.runs, args.block_size))


if __name__ == "__main__":
    raise SystemExit(main())
