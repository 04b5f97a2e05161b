"""FFT of windows, inverse FFT, frame times and the FFT CSV outputs."""

from __future__ import annotations

import os
from fractions import Fraction

import numpy as np
import pytest
from scipy.signal import windows as scipy_windows

import wavebeans_nb as wb
from conftest import BLOCK_SIZES, collect, elements, run_output
from wavebeans_nb import FftSample


def centre_shifted(chunk, n):
    """The zero-phase padded FFT input, built independently: x[m//2:], zeros, x[:m//2]."""
    m = len(chunk)
    return np.concatenate([chunk[m // 2:], np.zeros(n - m), chunk[: m // 2]])


def signal(n=1000, seed=3):
    return np.random.default_rng(seed).standard_normal(n)


@pytest.mark.parametrize("block_size", BLOCK_SIZES)
def test_fft_matches_numpy(block_size):
    values = signal(1000)
    frames = elements(wb.list_input(values).window(300, 128).hann().fft(512), 8000, block_size)

    starts = list(range(0, 1000, 128))
    assert [f.index for f in frames] == list(range(len(starts)))
    for start, frame in zip(starts, frames):
        chunk = values[start:start + 300]
        chunk = chunk * scipy_windows.hann(len(chunk), sym=False)
        np.testing.assert_allclose(frame.bins, np.fft.fft(centre_shifted(chunk, 512)), rtol=0, atol=1e-11)
        assert frame.samples_count == len(chunk)
        assert (frame.bin_count, frame.samples_length, frame.sample_rate) == (512, 128, 8000.0)


def test_fft_sign_convention_is_numpy():
    frame = elements(wb.list_input([0.0, 1.0, 0.0, 0.0]).window(4).fft(4), 4)[0]

    # Shifted input is [0, 0, 0, 1]: X_k = exp(-2πi·3k/4) = i^k in numpy's convention.
    np.testing.assert_allclose(frame.bins, [1, 1j, -1, -1j], atol=1e-15)
    np.testing.assert_allclose(frame.phase(), np.angle([1, 1j]), atol=1e-15)


def test_fft_magnitude_phase_frequency():
    values = signal(64, seed=5)
    frame = elements(wb.list_input(values).window(64).fft(64), 16000)[0]
    reference = np.fft.fft(centre_shifted(values, 64))

    np.testing.assert_allclose(frame.magnitude(), 20 * np.log10(np.abs(reference[:32])), rtol=1e-12)
    np.testing.assert_allclose(frame.phase(), np.angle(reference[:32]), atol=1e-12)
    np.testing.assert_allclose(frame.frequency(), np.arange(32) * 16000 / 64)
    assert frame.bin(1000.0) == 4


def test_fft_of_silence_has_minus_infinite_magnitude():
    frame = elements(wb.list_input(np.zeros(4)).window(4).fft(4), 4)[0]

    assert np.all(frame.magnitude() == -np.inf)


def test_fft_frame_time_is_exact():
    frames = elements(wb.list_input(np.ones(8)).window(2).fft(4), 4)

    assert frames[1].time() == 500_000_000
    late = FftSample(3, 512, 512, 512, 44100.0, np.zeros(512))
    assert late.time() == int(Fraction(3 * 512 * 10**9, 44100))


@pytest.mark.parametrize("block_size", BLOCK_SIZES)
def test_inverse_fft_round_trip(block_size):
    values = signal(2000, seed=11)
    stream = wb.list_input(values).window(501).fft(512).inverse_fft()

    windows = elements(stream, 8000, block_size)
    joined = np.concatenate([w.elements for w in windows])

    assert [w.size for w in windows] == [501] * 4
    np.testing.assert_allclose(joined, values, rtol=0, atol=1e-10)


def test_inverse_fft_of_user_frames():
    bins = np.fft.fft(centre_shifted(np.array([1.0, 2.0, 3.0]), 4))
    frame = FftSample(0, 4, 3, 3, 100.0, bins)

    window = elements(wb.list_input([frame], element_type=FftSample).inverse_fft(), 100)[0]

    np.testing.assert_allclose(window.elements, [1, 2, 3], atol=1e-15)


def test_fft_scalar_arithmetic():
    values = signal(16, seed=2)
    plain = elements(wb.list_input(values).window(16).fft(16), 100)[0]
    doubled = elements(wb.list_input(values).window(16).fft(16) * 2.0, 100)[0]

    np.testing.assert_allclose(doubled.bins, plain.bins * 2.0, rtol=1e-15)


@pytest.mark.parametrize("bin_count", [0, 3, 100, 2.0, "8"])
def test_fft_bin_count_must_be_power_of_two(bin_count):
    with pytest.raises(wb.InvalidParameterError, match="power of 2"):
        wb.list_input(np.ones(4)).window(2).fft(bin_count)


def test_fft_bin_count_below_window_size():
    with pytest.raises(wb.InvalidParameterError, match="512"):
        wb.list_input(np.ones(4)).window(501).fft(256)


def test_fft_window_too_long_found_at_evaluation():
    # Windows from a list input carry no window() bean, so the check happens per window.
    stream = wb.list_input([wb.Window(8, 8, np.ones(8))], element_type=wb.Window).fft(4)

    with pytest.raises(wb.InvalidParameterError, match="does not fit"):
        elements(stream, 100)


def test_fft_rebuilds_from_params():
    stream = wb.list_input(signal(100)).window(10).fft(16)

    rebuilt = type(stream)(*stream.inputs, **stream.params)

    assert elements(rebuilt, 100) == elements(stream, 100)


def test_fft_elements_rebatch():
    frames = elements(wb.list_input(signal(64)).window(16).fft(16), 100)
    block = FftSample.block_from_elements(frames)

    assert list(block.elements()) == frames


def test_magnitude_stream_gives_sample_vectors():
    values = signal(32, seed=8)
    vectors = elements(wb.list_input(values).window(16).fft(16).magnitude(), 100)

    assert len(vectors) == 2
    expected = 20 * np.log10(np.abs(np.fft.fft(centre_shifted(values[16:], 16))[:8]))
    np.testing.assert_allclose(vectors[1], expected, rtol=1e-12)


# -- CSV ------------------------------------------------------------------------------------


def read_rows(path):
    with open(path, encoding="utf-8") as file:
        return [line.rstrip("\n").split(",") for line in file]


def test_magnitude_to_csv(tmp_dir):
    values = np.array([-1.0, -126 / 127, -125 / 127, -124 / 127])
    path = os.path.join(tmp_dir, "magnitude.csv")
    frames = wb.list_input(values).window(2).fft(4)

    run_output(frames.magnitude_to_csv(path), 4)

    rows = read_rows(path)
    assert rows[0] == ["time ms \\ freq hz", "0.00000", "1.00000"]
    assert [row[0] for row in rows[1:]] == ["0", "500"]
    for row, start in zip(rows[1:], (0, 2)):
        expected = 20 * np.log10(np.abs(np.fft.fft(centre_shifted(values[start:start + 2], 4))[:2]))
        np.testing.assert_allclose([float(v) for v in row[1:]], expected, rtol=0, atol=1e-10)


def test_phase_to_csv_with_unit(tmp_dir):
    values = signal(8, seed=4)
    path = os.path.join(tmp_dir, "phase.csv")

    run_output(wb.list_input(values).window(4).fft(8).phase_to_csv(path, time_unit="us"), 3)

    rows = read_rows(path)
    assert rows[0][0] == "time us \\ freq hz"
    assert [row[0] for row in rows[1:]] == ["0", "1333333"]
    expected = np.angle(np.fft.fft(centre_shifted(values[4:], 8))[:4])
    np.testing.assert_allclose([float(v) for v in rows[2][1:]], expected, rtol=0, atol=1e-10)


def test_fft_csv_of_empty_stream_writes_header(tmp_dir):
    path = os.path.join(tmp_dir, "empty.csv")

    run_output(wb.sine(1).trim(0).window(4).fft(4).magnitude_to_csv(path), 4)

    assert read_rows(path) == [["time ms \\ freq hz", "0.00000", "1.00000"]]


def test_fft_csv_rejects_sample_stream(tmp_dir):
    with pytest.raises(wb.InvalidParameterError, match="fft"):
        wb.sine(1).magnitude_to_csv(os.path.join(tmp_dir, "x.csv"))


def test_fft_block_size_independent_csv(tmp_dir):
    values = signal(3000, seed=9)
    contents = []
    for block_size in BLOCK_SIZES:
        path = os.path.join(tmp_dir, f"m{block_size}.csv")
        run_output(wb.list_input(values).window(256, 100).hamming().fft(256).magnitude_to_csv(path), 8000, block_size)
        with open(path, encoding="utf-8") as file:
            contents.append(file.read())

    assert all(text == contents[0] for text in contents)


def test_stft_of_speech_matches_numpy(arctic_a0007):
    import soundfile as sf

    speech, rate = sf.read(arctic_a0007)
    stream = wb.wave(arctic_a0007).window(2048, 512).hann().fft(2048).magnitude()

    rows = np.array(elements(stream, rate))

    starts = range(0, len(speech), 512)
    reference = []
    for start in starts:
        chunk = speech[start:start + 2048]
        chunk = chunk * scipy_windows.hann(len(chunk), sym=False)
        with np.errstate(divide="ignore"):
            reference.append(20 * np.log10(np.abs(np.fft.fft(centre_shifted(chunk, 2048))[:1024])))
    np.testing.assert_allclose(rows, np.array(reference), rtol=1e-9, atol=1e-9)
    assert collect(wb.wave(arctic_a0007), rate).shape == speech.shape
