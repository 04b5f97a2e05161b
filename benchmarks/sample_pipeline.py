"""Benchmark: a speech processing job, single-threaded, against the same job written by hand.

The job reads 10 minutes of 16 kHz speech (the bundled recording looped),
applies a gain, mixes in a sine, trims to 9.5 minutes and writes a 16-bit
WAV. The baseline does the same with numpy and soundfile, block by block,
in the same process; both results must be bit-identical.

Run from the repository root::

    python -m benchmarks.sample_pipeline            # measure and update docs/benchmarks.md
    python -m benchmarks.sample_pipeline --no-write # measure only
"""

from __future__ import annotations

import argparse
import os
import tempfile

import numpy as np
import soundfile as sf

import wavebeans_nb as wb
from wavebeans_nb.data import ARCTIC_A0007

from .common import machine_description, median, run_section_script, time_runs, write_looped_recording

SECTION = "sample_pipeline"
GAIN = 0.8
TONE_FREQUENCY = 440.0
TONE_AMPLITUDE = 0.05
#: Share of the input the job keeps. The sum with the endless sine lasts until the trim, so the trim
#: must end before the speech does, or the engine would write sine past the end of the baseline's output.
TRIM_SHARE = 0.95


def trim_ms(minutes: float) -> int:
    """Return the length in milliseconds that the job keeps of ``minutes`` of input."""
    return round(minutes * 60_000 * TRIM_SHARE)


def run_engine(source: str, target: str, block_size: int | None, length_ms: int) -> None:
    """Run the job, trimmed to ``length_ms``, as a wavebeans-nb graph with the single-threaded overseer."""
    speech = wb.wave(source, resample=False)
    mixed = (speech * GAIN + wb.sine(TONE_FREQUENCY, TONE_AMPLITUDE)).trim(length_ms, "ms")
    with wb.SingleThreadedOverseer(mixed.to_wav(target, bit_depth=16), block_size=block_size) as overseer:
        result = overseer.eval(speech.desired_sample_rate)[0].result()
    if not result.finished:
        raise RuntimeError(f"benchmark job failed: {result.exception!r}")


def run_baseline(source: str, target: str, block_size: int, length_ms: int) -> None:
    """Run the job by hand, trimmed to ``length_ms``: soundfile blocks, numpy arithmetic, int16 codes."""
    with sf.SoundFile(source) as reader:
        rate = reader.samplerate
        total = length_ms * rate // 1000
        with sf.SoundFile(target, "w", rate, 1, "PCM_16", format="WAV") as writer:
            done = 0
            for block in reader.blocks(blocksize=block_size, dtype="float64"):
                block = block[: total - done]
                index = np.arange(done, done + len(block), dtype=np.float64)
                tone = TONE_AMPLITUDE * np.sin(2.0 * np.pi * TONE_FREQUENCY * (index / rate))
                mixed = block * GAIN + tone
                codes = np.clip(np.rint(mixed * 32768.0), -32768, 32767).astype(np.int16)
                writer.write(codes)
                done += len(block)
                if done >= total:
                    break


def measure(minutes: float, runs: int, block_size: int) -> dict:
    """Time both jobs ``runs`` times each, alternating, and check that their files are identical."""
    with tempfile.TemporaryDirectory(prefix="wavebeans-bench-") as directory:
        source = os.path.join(directory, "speech-looped.wav")
        frames = write_looped_recording(ARCTIC_A0007, source, minutes * 60)
        engine_target = os.path.join(directory, "engine.wav")
        baseline_target = os.path.join(directory, "baseline.wav")
        length_ms = trim_ms(minutes)
        engine_times, baseline_times = [], []
        for _ in range(runs):
            engine_times += time_runs(lambda: run_engine(source, engine_target, block_size, length_ms), 1)
            baseline_times += time_runs(lambda: run_baseline(source, baseline_target, block_size, length_ms), 1)
        engine_codes, _ = sf.read(engine_target, dtype="int16")
        baseline_codes, _ = sf.read(baseline_target, dtype="int16")
        if not np.array_equal(engine_codes, baseline_codes):
            raise RuntimeError("engine and baseline outputs differ; the comparison is not fair")
    return {
        "frames": frames,
        "written": len(engine_codes),
        "engine": engine_times,
        "baseline": baseline_times,
    }


def format_section(results: dict, minutes: float, runs: int, block_size: int) -> str:
    engine = median(results["engine"])
    baseline = median(results["baseline"])
    audio_seconds = results["written"] / 16000
    rows = [
        "| job | median (s) | all runs (s) | audio seconds per second |",
        "|---|---|---|---|",
    ]
    for name, times in (("wavebeans-nb, single-threaded", results["engine"]),
                        ("numpy + soundfile by hand", results["baseline"])):
        all_runs = ", ".join(f"{t:.3f}" for t in times)
        rows.append(f"| {name} | {median(times):.3f} | {all_runs} | {audio_seconds / median(times):.0f}x |")
    return "\n".join([
        "## Sample pipeline: speech, gain, sine mix, trim, 16-bit WAV",
        "",
        f"Input: arctic_a0007.wav looped to {minutes:g} minutes ({results['frames']} frames, 16 kHz, "
        f"16-bit mono), written once to a temporary file. Job: gain {GAIN:g}, plus a "
        f"{TONE_FREQUENCY:g} Hz sine at amplitude {TONE_AMPLITUDE:g}, trimmed to {trim_ms(minutes) / 1000:g} s, "
        f"written as a 16-bit WAV. Block size {block_size} frames; {runs} runs of each job, alternating, "
        "median reported. Both outputs are checked to be bit-identical.",
        "",
        *rows,
        "",
        f"Engine / baseline: **{engine / baseline:.2f}x** the baseline's time.",
        "",
        f"Machine: {machine_description()}. The machine was shared with other work while measuring, "
        "so single runs vary; the median is the figure to compare.",
        "",
        "Command: `python -m benchmarks.sample_pipeline` (from the repository root).",
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
