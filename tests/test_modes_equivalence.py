"""The multi-threaded overseer gives the single-threaded results, sample for sample.

One job contains every graph of the suite (each operation of the library, shared
beans, windows and FFT, file inputs and a podcast-like mix written to WAV
files). The single-threaded overseer evaluates it once as the reference. The
multi-threaded overseer evaluates it for every partition count 1-8 and
thread count 1-4, and with several chunk and block sizes.
"""

from __future__ import annotations

import math
import os

import numpy as np
import pytest
import soundfile as sf

import wavebeans_nb as wb
from wavebeans_nb.data import ARCTIC_A0007, ARCTIC_A0009
from wavebeans_nb.execution import ExecutionConfig, MultiThreadedOverseer

from execution_support import assert_same_stream, collect

RATE = 16000.0  # the rate of the bundled recordings


def _square_sum(a, b):
    if a is None:
        return b * b
    if b is None:
        return a * a
    return a * a + b * b


def _pair_sum(item):
    return float(item[0] + item[1])


def operation_graphs(sink: dict) -> list:
    """Outputs covering the inputs and operations of wavebeans_nb.beans, about 0.1 s each."""
    s1 = wb.sine(440, 0.8).trim(120)
    s2 = wb.sine(1000, 0.3, time_offset=0.001).trim(90)
    shared = s1 * 0.5
    graphs = {
        "scalar_ops": ((s1 * 2.0 + 0.5) / 3.0 - 0.25),
        "reverse_scalar": 1.0 - s1,
        "change_amplitude": s1.change_amplitude(0.5),
        "map": s1.map(lambda x: x * x),
        "map_blocks": s1.map_blocks(np.abs),
        "stream_add_unequal": s1 + s2,
        "stream_sub_mul_div": (s1 - s2) * s2 / (s1 + 2.0),
        "merge": s1.merge(s2, _square_sum),
        "concat": s2.map_blocks(np.abs).concat(wb.list_input([0.1, 0.2, 0.3] * 50)),
        "projection": (s1 * 3.0).range_projection(30, 100),
        "after_filling": (s2.trim(20).after_filling(0.25) * 2.0).trim(70),
        "function_input": wb.input(lambda i, sr: math.sin(i / 10.0) if i < 1500 else None) * 0.5,
        "fixed_rate_resampled": wb.input(lambda i, sr: (i % 50) / 50.0, sample_rate=8000).resample().trim(80),
        "sweep": wb.sine_sweep(100, 3000, time=0.2).trim(110).map_blocks(np.abs),
        "list_input": wb.list_input(np.linspace(-1, 1, 1234)) * 4.0,
        "objects": wb.list_input([(i, i * i) for i in range(300)]).map(_pair_sum, element_type=float) / 7.0,
        "shared_abs": shared.map_blocks(np.abs),
        "shared_plus": shared + 1.0,
        "diamond": shared + shared.map_blocks(np.square),
        "self_add": shared + shared,
        "wave": wb.wave(ARCTIC_A0009).trim(110) * 2.0,
        "window_fft_magnitude": s1.window(64, 16).hann().fft(64).magnitude(),
        "window_fft_roundtrip": (s1 * 1.5).window(32, 8).hann().fft(32).inverse_fft(),
        "overlap_add": (s1 * 1.5).window(32, 8).hann().fft(32).inverse_fft().flatten(),
        "window_arithmetic": s2.window(16) * 2.0,
        "window_phase": s2.window(32).fft(32).phase(),
    }
    return [collect(stream, sink, name) for name, stream in graphs.items()]


def podcast_graphs(sink: dict, directory: str) -> list:
    """Two voices, one delayed, over a quiet background tone; each voice and the mix written out."""
    voice1 = wb.wave(ARCTIC_A0007).trim(700) * 0.9
    silence = wb.list_input(np.zeros(2400))
    voice2 = silence.concat(wb.wave(ARCTIC_A0009).trim(600)) * 0.8
    background = wb.sine(220, 0.05)
    mix = (voice1 + voice2 + background).trim(800)
    return [
        voice1.to_wav(os.path.join(directory, "voice1.wav")),
        voice2.to_wav(os.path.join(directory, "voice2.wav")),
        mix.to_wav(os.path.join(directory, "mix.wav")),
        collect(mix, sink, "podcast_mix"),
        collect(voice2, sink, "podcast_voice2"),
    ]


WAV_NAMES = ["voice1.wav", "voice2.wav", "mix.wav"]


def _suite(directory: str) -> tuple[dict, list]:
    sink: dict = {}
    return sink, operation_graphs(sink) + podcast_graphs(sink, directory)


def _check_results(futures: list) -> None:
    for future in futures:
        result = future.result(timeout=60)
        assert result.exception is None, f"output failed: {result.exception}"
        assert result.finished


@pytest.fixture(scope="module")
def reference(tmp_path_factory) -> tuple[dict, str]:
    directory = str(tmp_path_factory.mktemp("single"))
    sink, outputs = _suite(directory)
    with wb.SingleThreadedOverseer(outputs) as overseer:
        _check_results(overseer.eval(RATE))
    return sink, directory


def _assert_matches(reference: tuple[dict, str], sink: dict, directory: str) -> None:
    expected, expected_dir = reference
    assert set(sink) == set(expected)
    for name in expected:
        assert_same_stream(expected[name], sink[name], name)
    for name in WAV_NAMES:
        left, rate_left = sf.read(os.path.join(expected_dir, name), dtype="int16")
        right, rate_right = sf.read(os.path.join(directory, name), dtype="int16")
        assert rate_left == rate_right
        assert np.array_equal(left, right), f"{name} differs"


def _run_multi_threaded(directory: str, partitions: int, threads: int, config: ExecutionConfig) -> dict:
    sink, outputs = _suite(directory)
    with MultiThreadedOverseer(outputs, threads=threads, partitions=partitions, config=config) as overseer:
        _check_results(overseer.eval(RATE))
    return sink


def test_reference_is_complete(reference):
    sink, directory = reference
    assert len(sink) == 28
    assert all(len(blocks) for blocks in sink.values())
    mix, rate = sf.read(os.path.join(directory, "mix.wav"))
    assert rate == RATE
    assert len(mix) == int(0.8 * RATE)


@pytest.mark.parametrize("threads", [1, 2, 3, 4])
@pytest.mark.parametrize("partitions", [1, 2, 3, 4, 5, 6, 7, 8])
def test_multi_threaded_matches_single(reference, tmp_path, partitions, threads):
    sink = _run_multi_threaded(str(tmp_path), partitions, threads, ExecutionConfig(chunk_size=37))
    _assert_matches(reference, sink, str(tmp_path))


@pytest.mark.parametrize("chunk_size", [1, 3, 512])
def test_chunk_size_does_not_change_results(reference, tmp_path, chunk_size):
    config = ExecutionConfig(chunk_size=chunk_size, buffer_chunks=64)
    sink = _run_multi_threaded(str(tmp_path), 3, 2, config)
    _assert_matches(reference, sink, str(tmp_path))


@pytest.mark.parametrize("block_size", [1, 3, 1000, None])
def test_block_size_does_not_change_results(reference, tmp_path, block_size):
    config = ExecutionConfig(chunk_size=64, block_size=block_size)
    sink = _run_multi_threaded(str(tmp_path), 2, 2, config)
    _assert_matches(reference, sink, str(tmp_path))


def test_one_pod_per_bean_matches(reference, tmp_path):
    config = ExecutionConfig(chunk_size=50, group_beans=False)
    sink = _run_multi_threaded(str(tmp_path), 4, 3, config)
    _assert_matches(reference, sink, str(tmp_path))


def test_proxy_prefetch_threads_match(reference, tmp_path):
    config = ExecutionConfig(chunk_size=29, proxy_prefetch=True, prefetch_buckets=3)
    sink = _run_multi_threaded(str(tmp_path), 5, 2, config)
    _assert_matches(reference, sink, str(tmp_path))


def test_small_buffers_match(reference, tmp_path):
    config = ExecutionConfig(chunk_size=16, buffer_chunks=2, prefetch_buckets=1)
    sink = _run_multi_threaded(str(tmp_path), 3, 2, config)
    _assert_matches(reference, sink, str(tmp_path))


def test_mix_matches_numpy_formula(reference):
    sink, _ = reference
    voice1, _ = sf.read(ARCTIC_A0007, dtype="float64")
    voice2, _ = sf.read(ARCTIC_A0009, dtype="float64")
    n = int(0.8 * RATE)
    delayed = np.concatenate([np.zeros(2400), voice2[: int(0.6 * RATE)]]) * 0.8
    expected = np.zeros(n)
    expected[: int(0.7 * RATE)] += voice1[: int(0.7 * RATE)] * 0.9
    expected[: len(delayed)] += delayed
    expected += 0.05 * np.sin(2 * np.pi * 220 * np.arange(n) / RATE)
    mix = np.concatenate(sink["podcast_mix"])
    assert np.allclose(mix, expected, atol=1e-12)
