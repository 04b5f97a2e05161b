"""Benchmark suite: every scenario in every execution mode against baselines, in one run.

Every scenario reads N minutes of 44.1 kHz 16-bit mono audio made from the
bundled recordings, resampled from 16 kHz with ``scipy.signal.resample_poly``
and looped. The input files are written once, outside timing. Scenarios:

* ``sample``: read WAV, gain, mix with a sine, trim, 16-bit WAV;
* ``stft``: windows of 2048 samples every 512, Hann, FFT, magnitudes in dB, to ``to_dev_null()``;
* ``resample``: 44.1 kHz to 48 kHz with the polyphase method, 16-bit WAV;
* ``podcast``: two voices and a background, gains, mixes, three 16-bit WAVs (each voice and the mix).

Modes: ``single`` (single-threaded overseer), ``multi-1`` and ``multi-2``
(multi-threaded, 2 threads, 1 or 2 partitions), ``dist-1`` and ``dist-2``
(distributed on a Dask LocalCluster of 1 or 2 worker processes with 1 thread
each, with 1 or 2 partitions). Baselines: numpy + soundfile by hand (every
scenario), the ``sox`` program (``sample`` and ``resample``), Dask arrays (``stft``).

Run ``python -m benchmarks --help`` for the options; the runner is :func:`run_suite`.
"""

from __future__ import annotations

import importlib
import logging
import os
import shutil
import subprocess
import time
from dataclasses import dataclass, field
from typing import Callable, Iterable

import numpy as np
import soundfile as sf
from scipy.signal import resample_poly

import wavebeans_nb as wb
from wavebeans_nb.beans.outputs.wav import quantize
from wavebeans_nb.data import ARCTIC_A0007, ARCTIC_A0009
from wavebeans_nb.execution import ExecutionConfig, MultiThreadedOverseer

from . import sample_pipeline, stft

logger = logging.getLogger(__name__)

RATE = 44100
RESAMPLE_RATE = 48000
#: Samples of audio that the sample scenarios read per block, in every mode and in the numpy baseline.
SAMPLE_BLOCK = 65536
#: Samples per block of the STFT scenario; large blocks let the FFT partitions run in parallel.
STFT_BLOCK = 131072
# The engine's default chunking, with the block size the baselines use.
SAMPLE_CONFIG = ExecutionConfig(block_size=SAMPLE_BLOCK)
STFT_CONFIG = ExecutionConfig(block_size=STFT_BLOCK)
THREADS = 2
VOICE_A_GAIN, VOICE_B_GAIN, BACKGROUND_GAIN = 0.6, 0.5, 0.25
#: Frames per Dask chunk in the Dask STFT baseline.
DASK_CHUNK_FRAMES = 1024

#: Input files a scenario reads, by role.
INPUT_FILES = {"speech": "speech.wav", "voice_a": "voice-a.wav", "voice_b": "voice-b.wav",
               "background": "background.wav"}


# ---------------------------------------------------------------------------------------------------------------
# Inputs


@dataclass(frozen=True)
class Inputs:
    """Input WAV files of one length, all 44.1 kHz 16-bit mono, in ``directory``."""

    directory: str
    frames: int

    def path(self, role: str) -> str:
        return os.path.join(self.directory, INPUT_FILES[role])

    @property
    def trim_ms(self) -> int:
        """Length that scenario ``sample`` keeps, in ms: its share of the input, rounded down to 10 ms (441 samples)."""
        return int(self.frames / RATE * sample_pipeline.TRIM_SHARE * 100) * 10

    @property
    def trim_frames(self) -> int:
        return self.trim_ms * RATE // 1000


def _recording_at_rate(path: str) -> np.ndarray:
    """Return a bundled 16 kHz recording resampled to 44.1 kHz (factor 441/160), as float64."""
    samples, rate = sf.read(path, dtype="float64")
    if rate != 16000:
        raise ValueError(f"recording {path} is {rate} Hz, but the suite expects 16 kHz; pass a bundled recording")
    return resample_poly(samples, 441, 160)


def _write_looped(signal: np.ndarray, path: str, frames: int, block: int = 1 << 20) -> None:
    """Write ``signal`` repeated end to end as ``frames`` 16-bit samples, block by block."""
    tiled = np.tile(signal, -(-block // len(signal)) + 1)
    with sf.SoundFile(path, "w", RATE, 1, "PCM_16", format="WAV") as out:
        written = 0
        while written < frames:
            offset = written % len(signal)
            count = min(block, frames - written)
            out.write(quantize(tiled[offset:offset + count], 16))
            written += count


def prepare_inputs(directory: str, minutes: float, roles: Iterable[str] = tuple(INPUT_FILES)) -> Inputs:
    """Write the input files of ``roles`` for ``minutes`` of audio into ``directory``.

    ``speech`` is arctic_a0007 followed by arctic_a0009, ``voice_a`` is
    arctic_a0007, ``voice_b`` arctic_a0009, and ``background`` is the speech
    played backwards at the same level, each looped to the length.
    """
    os.makedirs(directory, exist_ok=True)
    frames = int(round(minutes * 60 * RATE))
    first, second = _recording_at_rate(ARCTIC_A0007), _recording_at_rate(ARCTIC_A0009)
    signals = {"speech": np.concatenate([first, second]), "voice_a": first, "voice_b": second,
               "background": np.concatenate([first, second])[::-1]}
    inputs = Inputs(directory, frames)
    for role in roles:
        _write_looped(signals[role], inputs.path(role), frames)
    return inputs


# ---------------------------------------------------------------------------------------------------------------
# Engine graphs


def _sample_graph(inputs: Inputs, out: str) -> list[wb.Output]:
    speech = wb.wave(inputs.path("speech"), resample=False)
    tone = wb.sine(sample_pipeline.TONE_FREQUENCY, sample_pipeline.TONE_AMPLITUDE)
    mixed = (speech * sample_pipeline.GAIN + tone).trim(inputs.trim_ms, "ms")
    return [mixed.to_wav(os.path.join(out, "sample.wav"), bit_depth=16)]


def stft_frame_count(frames: int) -> int:
    """Return the number of full windows of ``stft.SIZE`` samples every ``stft.STEP`` in ``frames`` samples."""
    return 0 if frames < stft.SIZE else 1 + (frames - stft.SIZE) // stft.STEP


def _bin_sums_function(path: str, rows: int) -> Callable:
    """Return an ``out()`` function that saves the per-bin sums of the first ``rows`` rows to ``path``.

    Infinite magnitudes (-inf dB of an exactly zero bin) count as 0. The
    function is a closure, so it is pickled by value and runs on any worker.
    """
    total = np.zeros(stft.SIZE // 2)
    seen = [0]

    def add_row(argument) -> None:
        if argument.phase.name == "WRITE" and seen[0] < rows:
            row = np.asarray(argument.sample, dtype=np.float64)
            total[:] += np.where(np.isfinite(row), row, 0.0)
            seen[0] += 1
        elif argument.phase.name == "END":
            np.save(path, np.append(total, seen[0]))

    return add_row


def _stft_graph(inputs: Inputs, out: str, verify: bool = False) -> list[wb.Output]:
    spectrum = stft.engine_stream(inputs.path("speech"))
    if verify:
        rows = stft_frame_count(inputs.frames)
        return [spectrum.out(_bin_sums_function(os.path.join(out, "stft-bins.npy"), rows))]
    return [spectrum.to_dev_null()]


def _resample_graph(inputs: Inputs, out: str) -> list[wb.Output]:
    speech = wb.wave(inputs.path("speech"), resample=False)
    resampled = speech.resample(to=RESAMPLE_RATE, method="polyphase")
    return [resampled.to_wav(os.path.join(out, "resample.wav"), bit_depth=16)]


def _podcast_graph(inputs: Inputs, out: str) -> list[wb.Output]:
    voice_a = wb.wave(inputs.path("voice_a"), resample=False) * VOICE_A_GAIN
    voice_b = wb.wave(inputs.path("voice_b"), resample=False) * VOICE_B_GAIN
    background = wb.wave(inputs.path("background"), resample=False) * BACKGROUND_GAIN
    mix = voice_a + voice_b + background
    return [
        voice_a.to_wav(os.path.join(out, "podcast-voice-a.wav"), bit_depth=16),
        voice_b.to_wav(os.path.join(out, "podcast-voice-b.wav"), bit_depth=16),
        mix.to_wav(os.path.join(out, "podcast-mix.wav"), bit_depth=16),
    ]


# ---------------------------------------------------------------------------------------------------------------
# numpy + soundfile baselines


def _numpy_sample(inputs: Inputs, out: str) -> None:
    """Scenario ``sample`` by hand, streamed in blocks of ``SAMPLE_BLOCK`` samples."""
    total = inputs.trim_frames
    done = 0
    with sf.SoundFile(os.path.join(out, "sample.wav"), "w", RATE, 1, "PCM_16", format="WAV") as writer:
        for block in sf.blocks(inputs.path("speech"), blocksize=SAMPLE_BLOCK, dtype="float64"):
            block = block[: total - done]
            index = np.arange(done, done + len(block), dtype=np.float64)
            tone = sample_pipeline.TONE_AMPLITUDE * np.sin(
                2.0 * np.pi * sample_pipeline.TONE_FREQUENCY * (index / RATE))
            writer.write(quantize(block * sample_pipeline.GAIN + tone, 16))
            done += len(block)
            if done >= total:
                break


def _numpy_stft_sums(inputs: Inputs) -> np.ndarray:
    """Return the per-bin sums of the magnitudes of every full window, computed by hand in blocks."""
    total = np.zeros(stft.SIZE // 2)
    for rows in stft.baseline_frames(inputs.path("speech"), STFT_BLOCK):
        total += np.where(np.isfinite(rows), rows, 0.0).sum(axis=0)
    return total


def _numpy_stft(inputs: Inputs, out: str) -> None:
    """Scenario ``stft`` by hand, streamed: the magnitudes of each block are computed and dropped."""
    stft.run_baseline(inputs.path("speech"), STFT_BLOCK)


def _numpy_resample(inputs: Inputs, out: str) -> None:
    """Scenario ``resample`` by hand, whole file in memory: one ``resample_poly`` call."""
    samples, _ = sf.read(inputs.path("speech"), dtype="float64")
    resampled = resample_poly(samples, 160, 147)
    sf.write(os.path.join(out, "resample.wav"), quantize(resampled, 16), RESAMPLE_RATE, "PCM_16", format="WAV")


def _numpy_podcast(inputs: Inputs, out: str) -> None:
    """Scenario ``podcast`` by hand: three readers and three writers, streamed in blocks."""
    names = ("podcast-voice-a.wav", "podcast-voice-b.wav", "podcast-mix.wav")
    writers = [sf.SoundFile(os.path.join(out, name), "w", RATE, 1, "PCM_16", format="WAV") for name in names]
    readers = [sf.SoundFile(inputs.path(role)) for role in ("voice_a", "voice_b", "background")]
    try:
        while True:
            a, b, background = (reader.read(SAMPLE_BLOCK, dtype="float64") for reader in readers)
            if len(a) == 0:
                break
            a, b = a * VOICE_A_GAIN, b * VOICE_B_GAIN
            writers[0].write(quantize(a, 16))
            writers[1].write(quantize(b, 16))
            writers[2].write(quantize(a + b + background * BACKGROUND_GAIN, 16))
    finally:
        for handle in readers + writers:
            handle.close()


# ---------------------------------------------------------------------------------------------------------------
# sox and Dask baselines


def sox_sample_command(inputs: Inputs, out: str) -> list[str]:
    """Return the sox command of scenario ``sample``: gain, a mixed-in sine from a second sox, trim.

    ``-D`` turns dithering off, so sox rounds like the engine. ``synth -n``
    turns off synth's default 3 dB headroom, so the sine has amplitude 1
    before its ``-v`` scaling.
    """
    tone = (f"|sox -r {RATE} -c 1 -n -p synth -n {inputs.frames}s sine "
            f"{sample_pipeline.TONE_FREQUENCY:g}")
    return ["sox", "-D", "-m", "-v", f"{sample_pipeline.GAIN:g}", inputs.path("speech"),
            "-v", f"{sample_pipeline.TONE_AMPLITUDE:g}", tone,
            "-b", "16", os.path.join(out, "sample.wav"), "trim", "0", f"{inputs.trim_frames}s"]


def sox_resample_command(inputs: Inputs, out: str, quality: str) -> list[str]:
    """Return the sox command of scenario ``resample`` at ``quality`` ("-v" very high, "-m" medium)."""
    return ["sox", "-D", inputs.path("speech"), "-b", "16", os.path.join(out, "resample.wav"),
            "rate", quality, str(RESAMPLE_RATE)]


def _run_sox(command: list[str]) -> None:
    completed = subprocess.run(command, capture_output=True, text=True)
    if completed.returncode != 0:
        raise RuntimeError(f"sox failed with exit code {completed.returncode}: {completed.stderr.strip()}")


def _dask_stft_spectrum(source: str):
    """Return the Dask array of magnitude rows: map_blocks over chunks of window indices.

    Each block reads the samples its windows cover (overlapping the next
    block's by ``SIZE - STEP`` samples) with soundfile and computes the rows.
    """
    import dask.array as da

    rows = stft_frame_count(sf.info(source).frames)

    def magnitudes(window_indices: np.ndarray) -> np.ndarray:
        if len(window_indices) == 0:
            return np.empty((0, stft.SIZE // 2))
        start = int(window_indices[0]) * stft.STEP
        stop = int(window_indices[-1]) * stft.STEP + stft.SIZE
        samples, _ = sf.read(source, start=start, stop=stop, dtype="float64")
        return stft.block_magnitudes(samples)

    indices = da.arange(rows, chunks=DASK_CHUNK_FRAMES)
    return da.map_blocks(magnitudes, indices, new_axis=1, chunks=(indices.chunks[0], (stft.SIZE // 2,)),
                         dtype=np.float64)


def dask_stft_sums(source: str) -> np.ndarray:
    """Compute the per-bin sums of the magnitudes (infinities as 0) with Dask's threaded scheduler."""
    import dask.array as da

    spectrum = _dask_stft_spectrum(source)
    return da.where(da.isfinite(spectrum), spectrum, 0.0).sum(axis=0).compute(scheduler="threads")


# ---------------------------------------------------------------------------------------------------------------
# Scenarios and rows


@dataclass(frozen=True)
class Scenario:
    """One job: its engine graph, evaluation rate, engine settings and baselines by row name."""

    name: str
    title: str
    roles: tuple[str, ...]
    rate: int
    config: ExecutionConfig
    graph: Callable[..., list[wb.Output]]
    baselines: dict[str, Callable[[Inputs, str], None]]
    #: WAV files the engine and the numpy baseline both write, compared before timing.
    outputs: tuple[str, ...] = ()
    #: Largest difference in 16-bit codes allowed between engine and numpy outputs.
    tolerance_codes: int = 0


SCENARIOS: dict[str, Scenario] = {
    "sample": Scenario(
        "sample", "read WAV, gain, mix with a sine, trim, 16-bit WAV", ("speech",), RATE, SAMPLE_CONFIG,
        _sample_graph,
        {"numpy": _numpy_sample, "sox": lambda inputs, out: _run_sox(sox_sample_command(inputs, out))},
        outputs=("sample.wav",)),
    "stft": Scenario(
        "stft", "window 2048, step 512, Hann, FFT, magnitude in dB, to_dev_null()", ("speech",), RATE,
        STFT_CONFIG, _stft_graph,
        {"numpy": _numpy_stft, "dask": lambda inputs, out: dask_stft_sums(inputs.path("speech"))}),
    "resample": Scenario(
        "resample", "resample 44.1 kHz to 48 kHz, polyphase, 16-bit WAV", ("speech",), RESAMPLE_RATE,
        SAMPLE_CONFIG, _resample_graph,
        {"numpy": _numpy_resample,
         "sox-v": lambda inputs, out: _run_sox(sox_resample_command(inputs, out, "-v")),
         "sox-m": lambda inputs, out: _run_sox(sox_resample_command(inputs, out, "-m"))},
        outputs=("resample.wav",), tolerance_codes=1),
    "podcast": Scenario(
        "podcast", "podcast mix: two voices and a background, gains, mixes, three 16-bit WAVs",
        ("voice_a", "voice_b", "background"), RATE, SAMPLE_CONFIG, _podcast_graph,
        {"numpy": _numpy_podcast},
        outputs=("podcast-voice-a.wav", "podcast-voice-b.wav", "podcast-mix.wav")),
}

#: Engine modes: (overseer kind, partitions, Dask workers).
MODES: dict[str, tuple[str, int, int]] = {
    "single": ("single", 1, 0),
    "multi-1": ("multi", 1, 0),
    "multi-2": ("multi", 2, 0),
    "dist-1": ("distributed", 1, 1),
    "dist-2": ("distributed", 2, 2),
}

MODE_TITLES = {
    "single": "single-threaded",
    "multi-1": f"multi-threaded, 1 partition, {THREADS} threads",
    "multi-2": f"multi-threaded, 2 partitions, {THREADS} threads",
    "dist-1": "distributed, 1 worker, 1 partition",
    "dist-2": "distributed, 2 workers, 2 partitions",
}

BASELINE_TITLES = {
    "numpy": "numpy + soundfile by hand",
    "sox": "sox command line",
    "sox-v": "sox `rate -v` (very high quality)",
    "sox-m": "sox `rate -m` (medium quality)",
    "dask": "Dask array, threaded scheduler",
}


def sox_available() -> bool:
    return shutil.which("sox") is not None


# ---------------------------------------------------------------------------------------------------------------
# Distributed clusters


def load_distributed_overseer() -> type:
    """Import and return the distributed overseer class; raises ImportError or AttributeError if absent."""
    return importlib.import_module("wavebeans_nb.distributed.overseer").DistributedOverseer


class Clusters:
    """Dask LocalClusters with worker processes, one per worker count, started on first use and reused."""

    def __init__(self) -> None:
        self._clients: dict[int, object] = {}
        self._failures: dict[int, str] = {}

    def client(self, workers: int):
        """Return a client of a cluster with ``workers`` worker processes; raises RuntimeError if it cannot start."""
        if workers in self._failures:
            raise RuntimeError(self._failures[workers])
        if workers not in self._clients:
            try:
                from distributed import Client, LocalCluster

                cluster = LocalCluster(n_workers=workers, threads_per_worker=1, processes=True,
                                       dashboard_address=":0", silence_logs=logging.WARNING)
                self._clients[workers] = Client(cluster, set_as_default=False)
            except Exception as error:  # any start failure makes the distributed rows "not run"
                self._failures[workers] = f"LocalCluster with {workers} workers did not start: {error!r}"
                raise RuntimeError(self._failures[workers]) from error
        return self._clients[workers]

    def worker_peaks(self, workers: int) -> dict[int, int]:
        """Return the peak resident memory (``VmHWM``) in bytes of each worker process, by process id."""

        def pid_and_peak() -> tuple[int, int]:
            with open("/proc/self/status") as status:
                peak = next(int(line.split()[1]) for line in status if line.startswith("VmHWM:"))
            return os.getpid(), peak * 1024  # the kernel reports kB

        return dict(self.client(workers).run(pid_and_peak).values())

    def close(self, keep: int = 0) -> None:
        """Close every cluster except the one with ``keep`` workers (0 closes them all)."""
        for workers in [count for count in self._clients if count != keep]:
            client = self._clients.pop(workers)
            cluster = client.cluster
            client.close()
            cluster.close()


# ---------------------------------------------------------------------------------------------------------------
# Running one job


class NotRun(Exception):
    """A row that could not run here (missing program or overseer); the message is the reason."""


def run_engine(scenario: Scenario, mode: str, inputs: Inputs, out: str, clusters: Clusters,
               timeout: float, verify: bool = False) -> None:
    """Evaluate the scenario's graph once in ``mode``, writing into directory ``out``.

    Raises
    ------
    NotRun
        If the mode is distributed and the overseer or the cluster is not available.
    RuntimeError
        If the job fails or does not finish within ``timeout`` seconds.
    """
    kind, partitions, workers = MODES[mode]
    graph = scenario.graph(inputs, out, verify=True) if verify and scenario.name == "stft" else \
        scenario.graph(inputs, out)
    if kind == "single":
        overseer = wb.SingleThreadedOverseer(graph, block_size=scenario.config.block_size)
    elif kind == "multi":
        overseer = MultiThreadedOverseer(graph, threads=THREADS, partitions=partitions, config=scenario.config)
    else:
        try:
            overseer_class = load_distributed_overseer()
        except (ImportError, AttributeError) as error:
            raise NotRun(f"wavebeans_nb.distributed.overseer.DistributedOverseer is not importable: {error}")
        try:
            client = clusters.client(workers)
        except RuntimeError as error:
            raise NotRun(str(error)) from error
        overseer = overseer_class(graph, partitions=partitions, client=client, config=scenario.config)
    _evaluate(overseer, scenario.rate, timeout, f"{scenario.name} in mode {mode}")


def _evaluate(overseer, rate: int, timeout: float, what: str) -> None:
    from concurrent.futures import TimeoutError as FutureTimeout

    with overseer:
        futures = overseer.eval(rate)
        deadline = time.monotonic() + timeout
        for future in futures:
            try:
                result = future.result(timeout=max(0.0, deadline - time.monotonic()))
            except FutureTimeout:
                overseer.cancel()
                raise RuntimeError(f"{what} timed out after {timeout:g} s") from None
            if not result.finished:
                raise RuntimeError(f"{what} failed: {result.exception!r}")


def run_baseline(scenario: Scenario, baseline: str, inputs: Inputs, out: str) -> None:
    """Run one baseline of the scenario once; raises NotRun if it needs sox and sox is missing."""
    if baseline.startswith("sox") and not sox_available():
        raise NotRun("the sox program is not installed")
    scenario.baselines[baseline](inputs, out)


def run_row(scenario: Scenario, row: str, inputs: Inputs, out: str, clusters: Clusters, timeout: float,
            verify: bool = False) -> None:
    """Run the engine mode or baseline named ``row`` once."""
    if row in MODES:
        run_engine(scenario, row, inputs, out, clusters, timeout, verify)
    else:
        run_baseline(scenario, row, inputs, out)


# ---------------------------------------------------------------------------------------------------------------
# Correctness checks before timing


def _read_codes(path: str) -> np.ndarray:
    codes, _ = sf.read(path, dtype="int16")
    return codes


def compare_wavs(expected_path: str, actual_path: str, tolerance_codes: int) -> str:
    """Compare two 16-bit WAV files; return a one-line summary or raise RuntimeError naming the difference."""
    expected, actual = _read_codes(expected_path), _read_codes(actual_path)
    if len(expected) != len(actual):
        raise RuntimeError(f"{actual_path} has {len(actual)} samples, {expected_path} has {len(expected)}")
    difference = np.abs(expected.astype(np.int32) - actual.astype(np.int32))
    largest = int(difference.max()) if len(difference) else 0
    if largest > tolerance_codes:
        raise RuntimeError(f"{actual_path} differs from {expected_path} by up to {largest} codes "
                           f"(allowed: {tolerance_codes}) at {int(np.count_nonzero(difference))} samples")
    return f"max difference {largest} codes, {int(np.count_nonzero(difference))} samples differ"


def _check_stft(expected: np.ndarray, actual_path: str, rows: int) -> str:
    saved = np.load(actual_path)
    actual, seen = saved[:-1], int(saved[-1])
    if seen != rows:
        raise RuntimeError(f"{actual_path}: the engine produced {seen} full windows, expected {rows}")
    if not np.allclose(actual, expected, rtol=1e-9, atol=1e-6):
        worst = float(np.max(np.abs(actual - expected) / np.maximum(np.abs(expected), 1e-300)))
        raise RuntimeError(f"{actual_path}: per-bin sums differ from numpy's (largest relative difference {worst:.3g})")
    return "per-bin sums within 1e-9 relative"


def verify_row(scenario: Scenario, row: str, inputs: Inputs, out: str, reference: str,
               reference_sums: np.ndarray | None) -> str:
    """Compare the output that ``row`` wrote into ``out`` with the numpy baseline's in ``reference``."""
    if scenario.name == "stft":
        if row in MODES:
            return _check_stft(reference_sums, os.path.join(out, "stft-bins.npy"), stft_frame_count(inputs.frames))
        if row == "dask":
            sums = dask_stft_sums(inputs.path("speech"))
            if not np.allclose(sums, reference_sums, rtol=1e-9, atol=1e-6):
                raise RuntimeError("Dask per-bin sums differ from numpy's")
            return "per-bin sums within 1e-9 relative"
        return "reference"
    if row == "numpy":
        return "reference"
    if row.startswith("sox-"):
        return _compare_resampled(os.path.join(reference, "resample.wav"), os.path.join(out, "resample.wav"))
    tolerance = 1 if row == "sox" else scenario.tolerance_codes
    summaries = {compare_wavs(os.path.join(reference, name), os.path.join(out, name), tolerance)
                 for name in scenario.outputs}
    prefix = f"{len(scenario.outputs)} files: " if len(scenario.outputs) > 1 else ""
    return prefix + "; ".join(sorted(summaries))


def _compare_resampled(expected_path: str, actual_path: str) -> str:
    """Summarise how far another resampler's output is from scipy's: length and RMS difference in dB."""
    expected, actual = _read_codes(expected_path).astype(np.float64), _read_codes(actual_path).astype(np.float64)
    if abs(len(expected) - len(actual)) > 2:
        raise RuntimeError(f"{actual_path} has {len(actual)} samples, {expected_path} has {len(expected)}")
    count = min(len(expected), len(actual))
    residual = np.sqrt(np.mean((expected[:count] - actual[:count]) ** 2))
    level = np.sqrt(np.mean(expected[:count] ** 2))
    return f"{len(actual) - len(expected):+d} samples; RMS difference {20 * np.log10(residual / level):.1f} dB"


# ---------------------------------------------------------------------------------------------------------------
# The runner


@dataclass
class RowResult:
    """Timings, peak memory and check summary of one scenario row, or the reason it did not run."""

    scenario: str
    row: str
    times: list[float] = field(default_factory=list)
    check: str = ""
    not_run: str | None = None
    failed: str | None = None
    memory: dict | None = None


def row_names(scenario: Scenario, modes: Iterable[str]) -> list[str]:
    return list(modes) + list(scenario.baselines)


@dataclass
class SuiteOptions:
    """Settings of one suite run; the defaults are the full run."""

    minutes: float = 10.0
    repeats: int = 5
    scenarios: tuple[str, ...] = tuple(SCENARIOS)
    modes: tuple[str, ...] = tuple(MODES)
    output: str | None = None
    #: Lengths in minutes of the memory scenario, or an empty tuple to skip it.
    memory_minutes: tuple[float, ...] = (1.0, 60.0)
    #: Measure each row's peak memory in a fresh process.
    row_memory: bool = True
    command: str = "python -m benchmarks"
    workdir: str | None = None

    @property
    def timeout(self) -> float:
        """Seconds one job may run before it counts as failed: generous, because the machine may be shared."""
        return 120.0 + 60.0 * self.minutes


@dataclass
class SuiteResults:
    """Everything the report needs: options, row results, memory scenario results and the run time."""

    options: SuiteOptions
    frames: int
    rows: dict[tuple[str, str], RowResult]
    memory_scenario: dict[str, dict[float, dict]] = field(default_factory=dict)
    seconds: float = 0.0


def _verify_scenario(scenario: Scenario, modes: Iterable[str], inputs: Inputs, root: str,
                     clusters: Clusters, timeout: float) -> dict[tuple[str, str], RowResult]:
    """Run every row of the scenario once and compare its output with the numpy baseline's."""
    reference = os.path.join(root, scenario.name, "numpy")
    os.makedirs(reference, exist_ok=True)
    scenario.baselines["numpy"](inputs, reference)
    reference_sums = _numpy_stft_sums(inputs) if scenario.name == "stft" else None
    results = {}
    for row in row_names(scenario, modes):
        result = RowResult(scenario.name, row)
        out = os.path.join(root, scenario.name, row)
        os.makedirs(out, exist_ok=True)
        try:
            run_row(scenario, row, inputs, out, clusters, timeout, verify=True)
            result.check = verify_row(scenario, row, inputs, out, reference, reference_sums)
        except NotRun as reason:
            result.not_run = str(reason)
        except Exception as error:  # recorded in the table; the other rows still run
            logger.exception("%s / %s failed its check run", scenario.name, row)
            result.failed = f"{type(error).__name__}: {error}"
        logger.info("%s / %s: %s", scenario.name, row, result.check or result.not_run or result.failed)
        results[(scenario.name, row)] = result
    return results


def _time_rows(rows: dict[tuple[str, str], RowResult], inputs: Inputs, root: str, clusters: Clusters,
               options: SuiteOptions) -> None:
    """Time every runnable row ``options.repeats`` times, going round all rows once per repeat.

    Idle Dask workers and nannies take CPU time from whatever runs beside them:
    on two CPUs, they made the 2-partition multi-threaded STFT about 10 % slower.
    So each repeat times the in-process rows with no cluster running, then the
    rows of each cluster with only that cluster running. A cluster is started
    anew for every repeat, and each of its rows runs once untimed first, so no
    timed run pays for starting workers or importing modules in them.
    """
    groups: dict[int, list[tuple[str, str]]] = {}
    for key, result in rows.items():
        if not (result.not_run or result.failed):
            groups.setdefault(_workers_of(key[1]), []).append(key)
    for repeat in range(options.repeats):
        for workers, keys in sorted(groups.items()):
            clusters.close(keep=workers)
            if workers:
                for key in keys:
                    _run_once(key, rows[key], inputs, root, clusters, options, None)
            for key in keys:
                _run_once(key, rows[key], inputs, root, clusters, options, repeat + 1)
    clusters.close()


def _workers_of(row: str) -> int:
    """Return the number of Dask workers that ``row`` runs on; 0 for in-process modes and baselines."""
    kind, _, workers = MODES.get(row, ("baseline", 1, 0))
    return workers if kind == "distributed" else 0


def _run_once(key: tuple[str, str], result: RowResult, inputs: Inputs, root: str, clusters: Clusters,
              options: SuiteOptions, repeat: int | None) -> None:
    """Run one row once and append its wall-clock time to ``result``; ``repeat`` None is an untimed warm-up."""
    name, row = key
    run = "its warm-up run" if repeat is None else f"repeat {repeat}"
    if result.failed:
        return
    start = time.perf_counter()
    try:
        run_row(SCENARIOS[name], row, inputs, os.path.join(root, name, row), clusters, options.timeout)
    except Exception as error:  # recorded in the table; the other rows still run
        logger.exception("%s / %s failed in %s", name, row, run)
        result.failed = f"{type(error).__name__}: {error}"
        return
    if repeat is not None:
        result.times.append(time.perf_counter() - start)
        logger.info("%s / %s, %s: %.3f s", name, row, run, result.times[-1])


def _measure_row_memory(rows: dict[tuple[str, str], RowResult], inputs: Inputs, options: SuiteOptions) -> None:
    from .memory import measure_peak

    for (name, row), result in rows.items():
        if result.not_run or result.failed:
            continue
        result.memory = measure_peak(name, row, inputs, options.timeout)
        logger.info("%s / %s peak memory: %s", name, row, result.memory)


def _memory_scenario(options: SuiteOptions, root: str) -> dict[str, dict[float, dict]]:
    """Measure the peak memory of scenario ``sample`` over each of ``options.memory_minutes``, per row."""
    from .memory import measure_peak

    scenario = SCENARIOS["sample"]
    results: dict[str, dict[float, dict]] = {row: {} for row in row_names(scenario, options.modes)}
    for minutes in options.memory_minutes:
        inputs = prepare_inputs(os.path.join(root, f"memory-{minutes:g}min"), minutes, scenario.roles)
        for row in results:
            results[row][minutes] = measure_peak(scenario.name, row, inputs, 120.0 + 60.0 * minutes)
            logger.info("memory, %g min, %s: %s", minutes, row, results[row][minutes])
        shutil.rmtree(inputs.directory, ignore_errors=True)
    return results


def run_suite(options: SuiteOptions) -> SuiteResults:
    """Run the selected scenarios in the selected modes and every baseline; write the report if asked.

    Every row is first run once and checked against the numpy baseline; a
    row that fails or cannot run is reported with its reason, and the others
    still run. Inputs are written and clusters started before any timing.
    """
    import tempfile

    unknown = [name for name in options.scenarios if name not in SCENARIOS] + \
        [name for name in options.modes if name not in MODES]
    if unknown:
        raise ValueError(f"unknown scenario or mode {unknown}; scenarios: {list(SCENARIOS)}, modes: {list(MODES)}")
    started = time.perf_counter()
    clusters = Clusters()
    with tempfile.TemporaryDirectory(prefix="wavebeans-suite-", dir=options.workdir) as root:
        roles = sorted({role for name in options.scenarios for role in SCENARIOS[name].roles})
        inputs = prepare_inputs(os.path.join(root, "inputs"), options.minutes, roles)
        try:
            _start_clusters(clusters, options.modes)
            rows: dict[tuple[str, str], RowResult] = {}
            for name in options.scenarios:
                rows.update(_verify_scenario(SCENARIOS[name], options.modes, inputs, root, clusters,
                                             options.timeout))
            _time_rows(rows, inputs, root, clusters, options)
        finally:
            clusters.close()
        if options.row_memory:
            _measure_row_memory(rows, inputs, options)
        results = SuiteResults(options, inputs.frames, rows)
        if options.memory_minutes:
            results.memory_scenario = _memory_scenario(options, root)
    results.seconds = time.perf_counter() - started
    if options.output:
        from .common import replace_section
        from .suite_report import format_report

        replace_section("suite", format_report(results), page=options.output)
    return results


def _start_clusters(clusters: Clusters, modes: Iterable[str]) -> None:
    """Start the cluster of every selected distributed mode now, so that no timed run pays for it."""
    try:
        load_distributed_overseer()
    except (ImportError, AttributeError) as error:
        logger.warning("distributed modes will not run: %s", error)
        return
    for mode in modes:
        kind, _, workers = MODES[mode]
        if kind == "distributed":
            try:
                clusters.client(workers)
            except RuntimeError as error:
                logger.warning("mode %s will not run: %s", mode, error)
