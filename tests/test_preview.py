"""Audio preview: the embedded WAV against the stream's samples, and the length limit."""

from __future__ import annotations

import io

import numpy as np
import pytest
import soundfile as sf
from IPython.display import Audio

import wavebeans_nb as wb
from wavebeans_nb.errors import InvalidParameterError, SampleRateMismatchError
from wavebeans_nb.notebook import preview

from conftest import BLOCK_SIZES

#: 16-bit PCM keeps a sample to within two steps of 1/32768 (IPython scales by 32767 and truncates).
PCM_TOLERANCE = 2 / 32768


def decode(audio: Audio) -> tuple[np.ndarray, int]:
    """Read the WAV bytes embedded in the player, as float64 frames."""
    data, rate = sf.read(io.BytesIO(audio.data), dtype="float64", always_2d=True)
    return data, rate


def random_samples(count: int, seed: int = 3, peak: float = 0.95) -> np.ndarray:
    return np.random.default_rng(seed).uniform(-peak, peak, count)


@pytest.mark.parametrize("block_size", BLOCK_SIZES)
def test_preview_of_mono_stream(block_size):
    values = random_samples(2000)
    audio = preview(wb.list_input(values), 8000, block_size=block_size)
    assert isinstance(audio, Audio)
    data, rate = decode(audio)
    assert rate == 8000
    assert data.shape == (2000, 1)
    np.testing.assert_allclose(data[:, 0], values, rtol=0, atol=PCM_TOLERANCE)


def test_preview_keeps_real_level():
    values = np.array([0.0, 0.25, -0.25, 0.125])
    data, _ = decode(preview(wb.list_input(values), 8000))
    np.testing.assert_allclose(data[:, 0], values, atol=PCM_TOLERANCE)
    assert abs(data).max() < 0.26


def test_preview_normalize_scales_to_full_scale():
    values = np.array([0.0, 0.25, -0.5, 0.125])
    data, _ = decode(preview(wb.list_input(values), 8000, normalize=True))
    np.testing.assert_allclose(data[:, 0], values * 2, atol=PCM_TOLERANCE)


@pytest.mark.parametrize("block_size", BLOCK_SIZES)
def test_preview_of_stereo_frames(block_size):
    left, right = random_samples(900, 1), random_samples(600, 2)
    audio = preview(wb.channels(wb.list_input(left), wb.list_input(right)), 16000, block_size=block_size)
    data, rate = decode(audio)
    assert rate == 16000
    assert data.shape == (900, 2)
    np.testing.assert_allclose(data[:, 0], left, atol=PCM_TOLERANCE)
    np.testing.assert_allclose(data[:, 1], np.concatenate([right, np.zeros(300)]), atol=PCM_TOLERANCE)


def test_preview_of_trimmed_sine():
    rate = 8000
    data, _ = decode(preview((wb.sine(440.0) * 0.5).trim("1s"), rate))
    k = np.arange(rate)
    np.testing.assert_allclose(data[:, 0], 0.5 * np.sin(2 * np.pi * 440.0 * k / rate), atol=PCM_TOLERANCE)


def test_preview_of_file(arctic_a0007):
    expected, rate = sf.read(arctic_a0007)
    data, preview_rate = decode(preview(wb.wave(arctic_a0007), rate, max_seconds=5))
    assert preview_rate == rate
    np.testing.assert_allclose(data[:, 0], expected, atol=PCM_TOLERANCE)


def test_preview_of_infinite_stream_raises():
    with pytest.raises(InvalidParameterError, match=r"longer than max_seconds=30.*may be infinite.*trim"):
        preview(wb.sine(440.0) * 0.5, 8000)


def test_preview_of_long_finite_stream_raises_before_evaluating():
    calls = []

    def scale(block):
        calls.append(len(block))
        return block * 0.5

    stream = wb.list_input(random_samples(41)).map_blocks(scale)
    with pytest.raises(InvalidParameterError, match=r"longer than max_seconds=4 \(40 samples at 10 Hz\)"):
        preview(stream, 10, max_seconds=4)
    assert calls == []  # the known length rejected it


def test_preview_at_exact_limit():
    values = random_samples(40)
    data, _ = decode(preview(wb.list_input(values), 10, max_seconds=4))
    assert len(data) == 40


def test_preview_of_unknown_length_stream():
    # A function input is not known to end, but this one ends after 50 samples.
    stream = wb.input(lambda index, rate: 0.5 if index < 50 else None)
    data, _ = decode(preview(stream, 100, max_seconds=1))
    np.testing.assert_allclose(data[:, 0], np.full(50, 0.5), atol=PCM_TOLERANCE)
    with pytest.raises(InvalidParameterError, match="longer than max_seconds='250ms'.*trim\\('250ms'\\)"):
        preview(stream, 100, max_seconds="250ms")


def test_preview_rejects_samples_beyond_full_scale():
    with pytest.raises(InvalidParameterError, match=r"reaches 1\.5.*stream \* 0\.667.*normalize=True"):
        preview(wb.list_input([0.1, 1.5, -0.2]), 8000)


def test_preview_rejects_nan():
    with pytest.raises(InvalidParameterError, match="NaN"):
        preview(wb.list_input([0.1, float("nan")]), 8000)


def test_preview_of_silence_with_normalize():
    data, _ = decode(preview(wb.list_input([0.0, 0.0, 0.0]), 8000, normalize=True))
    np.testing.assert_array_equal(data[:, 0], [0.0, 0.0, 0.0])


def test_preview_of_empty_stream():
    with pytest.raises(InvalidParameterError, match="no samples"):
        preview(wb.list_input([0.1, 0.2]).trim(0), 8000)


def test_preview_at_wrong_file_rate(arctic_a0007):
    with pytest.raises(SampleRateMismatchError, match="16000 Hz"):
        preview(wb.wave(arctic_a0007, resample=False), 44100)


@pytest.mark.parametrize("max_seconds", [0, -5, "later"])
def test_preview_rejects_invalid_max_seconds(max_seconds):
    with pytest.raises(InvalidParameterError, match="max_seconds"):
        preview(wb.list_input([0.1]), 8000, max_seconds=max_seconds)


def test_preview_rejects_window_stream():
    with pytest.raises(InvalidParameterError, match="preview.*Window"):
        preview(wb.list_input([0.1, 0.2]).window(2), 8000)
