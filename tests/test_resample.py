"""Resampling: rate rules, polyphase against scipy, sinc interpolation, integer-factor resampling."""

from __future__ import annotations

import numpy as np
import pytest
from scipy.signal import resample_poly

import wavebeans_nb as wb
from conftest import BLOCK_SIZES, collect, elements


def fixed_rate(values, rate):
    """A finite sample stream that must run at ``rate`` (as a file input does)."""
    values = np.asarray(values, dtype=np.float64)
    return wb.input(lambda i, sr: float(values[i]) if i < len(values) else None, sample_rate=rate)


def noise(n=3000, seed=0):
    return np.random.default_rng(seed).standard_normal(n)


def tone(frequency, rate, n):
    return np.sin(2 * np.pi * frequency * np.arange(n) / rate)


# -- rate rules --------------------------------------------------------------------------------


def test_resample_desired_rate_is_to():
    assert fixed_rate([1.0], 1000).resample(to=2000).desired_sample_rate == 2000.0
    assert fixed_rate([1.0], 1000).resample().desired_sample_rate is None


def test_equal_rates_pass_through():
    values = noise(100)

    assert collect(fixed_rate(values, 1000).resample(), 1000).tolist() == values.tolist()


def test_adapting_input_is_not_resampled():
    # A sine is generated at whatever rate is asked for, so resample(to=...) has nothing to do.
    direct = collect(wb.sine(440).trim(10), 44100)
    resampled = collect(wb.sine(440).resample(to=44100).trim(10), 44100)

    assert resampled.tolist() == direct.tolist()


def test_resample_to_then_back():
    doubled = fixed_rate(np.arange(5.0), 1000).resample(to=2000, method="simple").map(lambda x: x * 2)

    actual = collect(doubled.resample(method="simple"), 4000)

    assert actual.tolist() == np.repeat(np.arange(5.0) * 2, 4).tolist()


def test_output_checks_resampled_rate(tmp_dir):
    output = fixed_rate([1.0], 1000).resample(to=2000).to_dev_null()

    with pytest.raises(wb.SampleRateMismatchError, match="2000"):
        output.writer(1000)


@pytest.mark.parametrize("rate", [0, -8000, float("nan"), "fast"])
def test_resample_to_invalid_rate_raises(rate):
    with pytest.raises(wb.InvalidParameterError, match="sample rate"):
        wb.sine(1).resample(to=rate)


def test_resample_unknown_method_raises():
    with pytest.raises(wb.InvalidParameterError, match="cubic"):
        wb.sine(1).resample(method="cubic")


def test_resample_samples_count(arctic_a0007):
    assert wb.wave(arctic_a0007).resample(to=8000).samples_count(8000) == 32000
    assert wb.wave(arctic_a0007).resample(to=44100).samples_count(44100) == 176400
    assert wb.list_input(np.ones(10)).resample().samples_count(1000) == 10
    assert fixed_rate([1.0], 1000).resample(to=2000).samples_count(2000) is None


# -- polyphase --------------------------------------------------------------------------------


@pytest.mark.parametrize("in_rate,out_rate", [(16000, 44100), (44100, 16000), (1000, 2000), (3000, 1000),
                                              (48000, 44100), (8000, 12000)])
def test_polyphase_matches_resample_poly(in_rate, out_rate):
    values = noise(3000, seed=in_rate % 97)
    g = np.gcd(in_rate, out_rate)

    actual = collect(fixed_rate(values, in_rate).resample(), out_rate, 1000)

    expected = resample_poly(values, out_rate // g, in_rate // g)
    assert len(actual) == len(expected) == -(-3000 * out_rate // in_rate)
    np.testing.assert_array_equal(actual, expected)


POLYPHASE_RATES = [(44100, 48000), (16000, 44100), (48000, 16000), (3, 2)]


@pytest.mark.parametrize("in_rate,out_rate", POLYPHASE_RATES)
@pytest.mark.parametrize("block_size", [1, 3, 1000, 8192, None])
def test_polyphase_exact_for_block_sizes(in_rate, out_rate, block_size):
    values = noise(1500, seed=out_rate % 89)
    g = np.gcd(in_rate, out_rate)

    actual = collect(fixed_rate(values, in_rate).resample(), out_rate, block_size)

    np.testing.assert_array_equal(actual, resample_poly(values, out_rate // g, in_rate // g))


@pytest.mark.parametrize("in_rate,out_rate", POLYPHASE_RATES)
@pytest.mark.parametrize("n", [0, 1, 2, 10])
def test_polyphase_of_short_input(in_rate, out_rate, n):
    # 10 samples are fewer than the filter's taps per phase (at least 21) for every pair here.
    values = noise(n, seed=n)
    g = np.gcd(in_rate, out_rate)
    expected = resample_poly(values, out_rate // g, in_rate // g) if n else np.empty(0)

    for block_size in [1, 3, None]:
        actual = collect(fixed_rate(values, in_rate).resample(), out_rate, block_size)

        assert len(actual) == -(-n * out_rate // in_rate)
        np.testing.assert_array_equal(actual, expected)


@pytest.mark.parametrize("block_size", [1000, 8192, None])
def test_polyphase_of_long_file(make_wav, block_size):
    # 200 000 samples span several filter segments, so outputs cross segment boundaries.
    import soundfile as sf

    path = make_wav("long.wav", noise(200_000, seed=9) * 0.5, 44100, subtype="DOUBLE")
    values, _ = sf.read(path)

    actual = collect(wb.wave(path, resample=False).resample(to=48000), 48000, block_size)

    np.testing.assert_array_equal(actual, resample_poly(values, 160, 147))


@pytest.mark.parametrize("up,down", [(160, 147), (147, 160), (1, 3), (2, 3), (441, 160), (7, 1)])
@pytest.mark.parametrize("min_segment", [1, 7, 500])
def test_polyphase_engine_segments(up, down, min_segment):
    # Tiny segments and output chunks put boundaries everywhere: every output must match one scipy call.
    from wavebeans_nb.beans.resample import _polyphase_engine

    values = noise(2000, seed=up + down)
    engine = _polyphase_engine(up, down)
    engine.min_segment = min_segment
    engine.max_outputs = 13
    parts = [engine.push(values[i: i + 37]) for i in range(0, len(values), 37)]
    parts.append(engine.finish())

    np.testing.assert_array_equal(np.concatenate(parts), resample_poly(values, up, down))


def test_polyphase_engine_memory_is_bounded():
    from wavebeans_nb.beans.resample import _polyphase_engine

    engine = _polyphase_engine(160, 147)
    block = noise(5000, seed=3)
    largest = 0
    for _ in range(100):
        engine.push(block)
        largest = max(largest, len(engine.buffer) + engine.pending_count)

    # History is below taps_per_phase + down samples, and new samples wait for one segment at most.
    assert largest <= engine.min_segment + len(block) + engine.taps_per_phase + 147


def test_polyphase_equal_rates_pass_through():
    values = noise(500, seed=8)

    actual = collect(fixed_rate(values, 8000).resample(to=8000), 8000, 3)

    np.testing.assert_array_equal(actual, values)


@pytest.mark.parametrize("method", ["polyphase", "sinc"])
def test_fir_methods_do_not_depend_on_block_size(method):
    values = noise(2000, seed=4)
    runs = [collect(fixed_rate(values, 16000).resample(method=method), 44100, size) for size in BLOCK_SIZES]

    for run in runs[1:]:
        np.testing.assert_array_equal(run, runs[0])


def test_polyphase_removes_aliases():
    # 7 kHz does not exist at 8 kHz; an alias would appear at 1 kHz.
    high = tone(7000, 32000, 32000)
    low = tone(1000, 32000, 32000)

    alias = collect(fixed_rate(high, 32000).resample(), 8000)
    kept = collect(fixed_rate(low, 32000).resample(), 8000)

    middle = slice(1000, -1000)
    assert np.sqrt(np.mean(alias[middle] ** 2)) < 0.005
    np.testing.assert_allclose(kept[middle], tone(1000, 8000, 8000)[middle], rtol=0, atol=0.01)


def test_polyphase_of_speech_file(arctic_a0007):
    import soundfile as sf

    speech, rate = sf.read(arctic_a0007)

    actual = collect(wb.wave(arctic_a0007).resample(), 8000)

    np.testing.assert_allclose(actual, resample_poly(speech, 1, 2), rtol=0, atol=1e-12)


# -- sinc ------------------------------------------------------------------------------------


def test_sinc_upsampling_keeps_input_samples():
    values = noise(500, seed=6)

    actual = collect(fixed_rate(values, 1000).resample(method="sinc"), 2000, 77)

    assert len(actual) == 1000
    assert not np.isnan(actual).any()
    # Output 2k lies exactly on input k: no shift by half a window.
    np.testing.assert_allclose(actual[::2], values, rtol=0, atol=1e-12)


def test_sinc_interpolates_band_limited_signal():
    values = tone(50, 1000, 1000)

    actual = collect(fixed_rate(values, 1000).resample(method="sinc", window_size=64), 2205)

    assert len(actual) == -(-1000 * 2205 // 1000)
    middle = slice(200, -200)
    np.testing.assert_allclose(actual[middle], tone(50, 2205, len(actual))[middle], rtol=0, atol=2e-3)


def test_sinc_downsampling_filters():
    alias = collect(fixed_rate(tone(7000, 32000, 32000), 32000).resample(method="sinc", window_size=128), 8000)

    assert np.sqrt(np.mean(alias[1000:-1000] ** 2)) < 0.02


def test_sinc_window_size_must_be_at_least_two():
    with pytest.raises(wb.InvalidParameterError, match="window size"):
        wb.sine(1).resample(method="sinc", window_size=1)


# -- simple ------------------------------------------------------------------------------------


@pytest.mark.parametrize("block_size", BLOCK_SIZES)
def test_simple_upsampling_repeats(block_size):
    actual = collect(fixed_rate(np.arange(5.0), 1000).resample(method="simple"), 2000, block_size)

    assert actual.tolist() == [0, 0, 1, 1, 2, 2, 3, 3, 4, 4]


@pytest.mark.parametrize("block_size", BLOCK_SIZES)
def test_simple_downsampling_reduces_groups(block_size):
    stream = fixed_rate(np.arange(5.0), 1000)

    assert collect(stream.resample(method="simple", reduce="sum"), 500, block_size).tolist() == [1, 5, 4]
    assert collect(stream.resample(method="simple"), 500, block_size).tolist() == [0.5, 2.5, 4]
    assert collect(stream.resample(method="simple", reduce=lambda g: g[-1]), 500, block_size).tolist() == [1, 3, 4]


def test_simple_needs_integer_factor():
    with pytest.raises(wb.InvalidParameterError, match="integer factor"):
        collect(fixed_rate(np.arange(5.0), 1000).resample(method="simple"), 1500)


def test_simple_resampling_of_objects():
    letters = wb.input(lambda i, sr: "abc"[i] if i < 3 else None, sample_rate=10, element_type=object)

    assert elements(letters.resample(), 20) == ["a", "a", "b", "b", "c", "c"]
    assert elements(letters.resample(reduce="".join), 5) == ["ab", "c"]
    with pytest.raises(wb.InvalidParameterError, match="reduce"):
        elements(letters.resample(), 5)
    with pytest.raises(wb.InvalidParameterError, match="sample stream"):
        letters.resample(method="sinc")


def test_resample_rebuilds_from_params():
    stream = fixed_rate(noise(100), 1000).resample(to=3000, method="sinc", window_size=16)

    rebuilt = type(stream)(*stream.inputs, **stream.params)

    np.testing.assert_array_equal(collect(rebuilt, 3000), collect(stream, 3000))
