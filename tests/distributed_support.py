"""Shared pieces of the distributed tests: the test graphs and file comparison."""

from __future__ import annotations

import os
import time

import numpy as np
import soundfile as sf

import wavebeans_nb as wb
from wavebeans_nb.data import ARCTIC_A0007, ARCTIC_A0009

RATE = 16000.0


def _square_sum(a, b):
    if a is None:
        return b * b
    if b is None:
        return a * a
    return a * a + b * b


def engine_graphs(directory: str) -> list:
    """Outputs of the engine's graph shapes, written to files in ``directory``."""
    s1 = wb.sine(440, 0.8).trim(120)
    s2 = wb.sine(1000, 0.3, time_offset=0.001).trim(90)
    shared = s1 * 0.5
    voice1 = wb.wave(ARCTIC_A0007).trim(700) * 0.9
    voice2 = wb.list_input(np.zeros(2400)).concat(wb.wave(ARCTIC_A0009).trim(600)) * 0.8
    mix = (voice1 + voice2 + wb.sine(220, 0.05)).trim(800)
    path = lambda name: os.path.join(directory, name)  # noqa: E731
    return [
        ((s1 * 2.0 + 0.5) / 3.0).map(lambda x: x * x).to_wav(path("line.wav"), bit_depth="float"),
        (s1.map_blocks(np.abs) - 0.25).to_csv(path("split.csv")),
        s1.merge(s2, _square_sum).to_wav(path("merge.wav"), bit_depth="float"),
        (shared + shared.map_blocks(np.square)).to_wav(path("shared.wav"), bit_depth="float"),
        s1.window(64, 16).hann().fft(64).magnitude_to_csv(path("fft.csv")),
        voice1.to_wav(path("voice1.wav")),
        voice2.to_wav(path("voice2.wav")),
        mix.to_wav(path("mix.wav")),
    ]


FILES = ["line.wav", "split.csv", "merge.wav", "shared.wav", "fft.csv", "voice1.wav", "voice2.wav", "mix.wav"]


def assert_same_files(expected_dir: str, actual_dir: str, names: list[str] = FILES) -> None:
    """Assert that every named file is identical in both directories (WAV samples and rate, CSV bytes)."""
    for name in names:
        left, right = os.path.join(expected_dir, name), os.path.join(actual_dir, name)
        assert os.path.exists(right), f"{name} was not written"
        if name.endswith(".wav"):
            a, rate_a = sf.read(left, dtype="float64")
            b, rate_b = sf.read(right, dtype="float64")
            assert rate_a == rate_b, f"{name}: rate {rate_b}, expected {rate_a}"
            assert a.shape == b.shape, f"{name}: {b.shape[0]} frames, expected {a.shape[0]}"
            assert np.array_equal(a, b), f"{name}: samples differ"
        else:
            with open(left, "rb") as a, open(right, "rb") as b:
                assert a.read() == b.read(), f"{name}: contents differ"


def halve_slowly_while(marker: str):
    """Return a ``map_blocks`` function that halves each block, sleeping 10 ms first while ``marker`` exists.

    The sleep keeps a job running until the test removes the marker; the
    samples never depend on it.
    """
    def halve(block):
        if os.path.exists(marker):
            time.sleep(0.01)
        return block * 0.5

    return halve
