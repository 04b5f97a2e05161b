"""Waveform and spectrogram plots: the plotted data against numpy references."""

from __future__ import annotations

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pytest  # noqa: E402

import wavebeans_nb as wb  # noqa: E402
from wavebeans_nb.errors import InvalidParameterError, SampleRateMismatchError  # noqa: E402
from wavebeans_nb.notebook import plot_spectrogram, plot_waveform  # noqa: E402

from conftest import BLOCK_SIZES  # noqa: E402


@pytest.fixture(autouse=True)
def close_figures():
    yield
    plt.close("all")


def random_samples(count: int, seed: int = 7) -> np.ndarray:
    return np.random.default_rng(seed).uniform(-0.9, 0.9, count)


# -- waveform ---------------------------------------------------------------------------


@pytest.mark.parametrize("block_size", BLOCK_SIZES)
def test_waveform_of_finite_stream(block_size):
    values = random_samples(1500)
    ax = plot_waveform(wb.list_input(values), 8000, block_size=block_size)
    (line,) = ax.lines
    np.testing.assert_array_equal(line.get_ydata(), values)
    np.testing.assert_allclose(line.get_xdata(), np.arange(1500) / 8000, rtol=0, atol=1e-15)
    assert ax.get_xlabel() == "time (s)"
    assert ax.get_xlim() == pytest.approx((0.0, 1500 / 8000))


@pytest.mark.parametrize("block_size", BLOCK_SIZES)
def test_waveform_first_seconds_of_sine(block_size):
    rate, frequency, amplitude = 1000, 3.0, 0.8
    ax = plot_waveform(wb.sine(frequency, amplitude=amplitude), rate, seconds=1.25, block_size=block_size)
    (line,) = ax.lines
    k = np.arange(1250)
    np.testing.assert_allclose(line.get_ydata(), amplitude * np.sin(2 * np.pi * frequency * k / rate), atol=1e-12)
    np.testing.assert_allclose(line.get_xdata(), k / rate, atol=1e-15)


def test_waveform_seconds_as_string():
    ax = plot_waveform(wb.sine(1.0), 1000, seconds="250ms")
    assert len(ax.lines[0].get_ydata()) == 250


def test_waveform_seconds_longer_than_stream():
    ax = plot_waveform(wb.list_input([0.1, 0.2, 0.3]), 10, seconds=5)
    np.testing.assert_array_equal(ax.lines[0].get_ydata(), [0.1, 0.2, 0.3])


def test_waveform_of_infinite_stream_needs_seconds():
    with pytest.raises(InvalidParameterError, match="infinite.*seconds="):
        plot_waveform(wb.sine(440.0), 8000)


@pytest.mark.parametrize("seconds", [0, -1.0, "soon", float("nan")])
def test_waveform_rejects_invalid_seconds(seconds):
    with pytest.raises(InvalidParameterError, match="seconds"):
        plot_waveform(wb.sine(440.0), 8000, seconds=seconds)


@pytest.mark.parametrize("block_size", BLOCK_SIZES)
def test_waveform_of_channels_draws_one_line_each(block_size):
    left, right = random_samples(700, 1), random_samples(500, 2)
    ax = plot_waveform(wb.channels(wb.list_input(left), wb.list_input(right)), 1000, block_size=block_size)
    assert [line.get_label() for line in ax.lines] == ["channel 0", "channel 1"]
    np.testing.assert_array_equal(ax.lines[0].get_ydata(), left)
    # channels() pads the shorter input with 0.0 up to the longer one.
    np.testing.assert_array_equal(ax.lines[1].get_ydata(), np.concatenate([right, np.zeros(200)]))
    assert ax.get_legend() is not None


def test_waveform_of_long_stream_keeps_bucket_extremes():
    values = random_samples(50_000)
    ax = plot_waveform(wb.list_input(values), 10_000, max_points=1000)
    x, y = ax.lines[0].get_xdata(), ax.lines[0].get_ydata()
    size = 100  # 50 000 samples in 500 buckets
    expected_y, expected_x = [], []
    for start in range(0, 50_000, size):
        bucket = values[start:start + size]
        expected_y += [bucket.min(), bucket.max()]
        expected_x += [start / 10_000] * 2
    np.testing.assert_array_equal(y, expected_y)
    np.testing.assert_allclose(x, expected_x, atol=1e-15)
    assert y.max() == values.max()
    assert y.min() == values.min()


def test_waveform_uneven_last_bucket():
    values = random_samples(1001)
    y = plot_waveform(wb.list_input(values), 100, max_points=10).lines[0].get_ydata()
    # 5 buckets of ceil(1001 / 5) = 201 samples, and the last one has 197.
    assert len(y) == 10
    assert y[-2] == values[804:].min()
    assert y[-1] == values[804:].max()


def test_waveform_draws_on_given_axes():
    _, ax = plt.subplots()
    assert plot_waveform(wb.list_input([0.0, 0.5]), 2, ax=ax) is ax
    assert len(ax.lines) == 1


def test_waveform_of_file_at_wrong_rate(arctic_a0007):
    with pytest.raises(SampleRateMismatchError, match="16000 Hz"):
        plot_waveform(wb.wave(arctic_a0007, resample=False), 8000)


def test_waveform_of_file(arctic_a0007):
    import soundfile as sf

    expected, rate = sf.read(arctic_a0007)
    ax = plot_waveform(wb.wave(arctic_a0007, resample=False), rate, seconds=0.5)
    np.testing.assert_array_equal(ax.lines[0].get_ydata(), expected[:8000])


def test_waveform_rejects_fft_stream():
    fft = wb.sine(10.0).trim(100).window(8).fft(8)
    with pytest.raises(InvalidParameterError, match="plot_waveform.*FftSample"):
        plot_waveform(fft, 100)


def test_waveform_rejects_non_stream():
    with pytest.raises(InvalidParameterError, match="needs a stream"):
        plot_waveform([0.1, 0.2], 100)


# -- spectrogram ------------------------------------------------------------------------------


def reference_spectrogram(values: np.ndarray, size: int, step: int, bins: int) -> np.ndarray:
    """20·log10|X_k| for k < N/2 of each window; a circular shift does not change |X_k|."""
    rows = []
    for start in range(0, len(values), step):
        window = values[start:start + size]
        with np.errstate(divide="ignore"):
            rows.append(20 * np.log10(np.abs(np.fft.fft(window, n=bins)[: bins // 2])))
    return np.array(rows)


@pytest.mark.parametrize("block_size", BLOCK_SIZES)
def test_spectrogram_cells_match_numpy(block_size):
    rate, size, step, bins = 8000, 64, 32, 128
    values = random_samples(1000)
    fft = wb.list_input(values).window(size, step).fft(bins)
    ax = plot_spectrogram(fft, rate, block_size=block_size, db_range=300)
    mesh = ax.collections[0]
    expected = reference_spectrogram(values, size, step, bins)
    assert expected.shape == (32, 64)
    np.testing.assert_allclose(np.asarray(mesh.get_array()).reshape(64, 32), expected.T, rtol=1e-9, atol=1e-9)
    corners = mesh.get_coordinates()
    np.testing.assert_allclose(corners[0, :, 0], np.arange(33) * step / rate, atol=1e-12)
    np.testing.assert_allclose(corners[:, 0, 1], (np.arange(65) - 0.5) * rate / bins, atol=1e-9)
    assert ax.get_xlabel() == "time (s)"
    assert ax.get_ylabel() == "frequency (Hz)"
    assert ax.get_ylim() == (0.0, rate / 2)


def test_spectrogram_peak_at_sine_frequency():
    rate, bins = 8000, 256
    fft = wb.sine(1000.0).trim(500).window(256, 128).window_function("hann").fft(bins)
    mesh = plot_spectrogram(fft, rate).collections[0]
    cells = np.asarray(mesh.get_array()).reshape(bins // 2, -1)
    loudest = cells.argmax(axis=0)
    # 1000 Hz is bin 1000 / (8000 / 256) = 32 in every full window.
    assert (loudest[:-2] == 32).all()


def test_spectrogram_floor_clips_silence():
    fft = wb.list_input(np.r_[np.zeros(64), random_samples(64)]).window(64).fft(64)
    ax = plot_spectrogram(fft, 1000, db_range=40)
    cells = np.asarray(ax.collections[0].get_array()).reshape(32, 2)
    top = reference_spectrogram(np.r_[np.zeros(64), random_samples(64)], 64, 64, 64).max()
    np.testing.assert_allclose(cells[:, 0], top - 40)
    assert cells.min() >= top - 40
    assert ax.collections[0].norm.vmin == pytest.approx(top - 40)
    assert ax.collections[0].norm.vmax == pytest.approx(top)


@pytest.mark.parametrize("block_size", BLOCK_SIZES)
def test_spectrogram_first_seconds_of_infinite_stream(block_size):
    rate, step = 1000, 50
    fft = wb.sine(100.0).window(100, step).fft(128)
    ax = plot_spectrogram(fft, rate, seconds=0.5, block_size=block_size)
    corners = ax.collections[0].get_coordinates()
    # Frames start at 0, 50, ..., 450 samples: the ten that start before 0.5 s.
    np.testing.assert_allclose(corners[0, :, 0], np.arange(11) * step / rate, atol=1e-12)


def test_spectrogram_of_infinite_stream_needs_seconds():
    with pytest.raises(InvalidParameterError, match="infinite.*seconds="):
        plot_spectrogram(wb.sine(100.0).window(100).fft(128), 1000)


def test_spectrogram_adds_colorbar():
    fft = wb.list_input(random_samples(256)).window(64).fft(64)
    ax = plot_spectrogram(fft, 1000)
    labels = [other.get_ylabel() for other in ax.figure.axes if other is not ax]
    assert labels == ["magnitude (dB)"]
    ax = plot_spectrogram(fft, 1000, colorbar=False)
    assert ax.figure.axes == [ax]


def test_spectrogram_rejects_sample_stream():
    with pytest.raises(InvalidParameterError, match="plot_spectrogram.*FftSample"):
        plot_spectrogram(wb.list_input([0.1, 0.2]), 1000)


@pytest.mark.parametrize("db_range", [0, -10, float("inf"), "80"])
def test_spectrogram_rejects_invalid_db_range(db_range):
    fft = wb.list_input(random_samples(64)).window(64).fft(64)
    with pytest.raises(InvalidParameterError, match="db_range"):
        plot_spectrogram(fft, 1000, db_range=db_range)


def test_spectrogram_of_file(arctic_a0009):
    import soundfile as sf

    values, rate = sf.read(arctic_a0009)
    fft = wb.wave(arctic_a0009).window(512, 256).fft(512)
    ax = plot_spectrogram(fft, rate, seconds=1)
    cells = np.asarray(ax.collections[0].get_array()).reshape(256, -1)
    expected = reference_spectrogram(values[:16000 + 512], 512, 256, 512)[:63]
    floor = expected[np.isfinite(expected)].max() - 100
    np.testing.assert_allclose(cells.T, np.clip(np.nan_to_num(expected, neginf=floor), floor, None), atol=1e-7)
