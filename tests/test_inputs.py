"""Generated and in-memory inputs: sine, sine sweep, function input, list input."""

from __future__ import annotations

import math

import numpy as np
import pytest
import scipy.signal

import wavebeans_nb as wb
from conftest import BLOCK_SIZES, collect, elements


def first(stream, count, sample_rate, block_size=None):
    return collect(stream.trim(f"{count / sample_rate}s"), sample_rate, block_size)


# -- sine ---------------------------------------------------------------------------


@pytest.mark.parametrize("block_size", BLOCK_SIZES)
def test_sine_matches_formula(block_size):
    rate = 8000.0
    k = np.arange(500)
    expected = 0.7 * np.sin(2 * np.pi * 440.0 * (0.003 + k / rate))

    actual = first(wb.sine(440.0, amplitude=0.7, time_offset=0.003), 500, rate, block_size)

    assert len(actual) == 500
    np.testing.assert_array_equal(actual, expected)


def test_sine_starts_at_zero_and_peaks():
    values = elements(wb.sine(1.0).trim(1000), 4)

    assert values == pytest.approx([0.0, 1.0, 0.0, -1.0], abs=1e-12)


def test_sine_is_infinite():
    stream = wb.sine(100)

    assert stream.is_finite is False
    assert stream.samples_count(8000) is None
    assert stream.desired_sample_rate is None


def test_sine_rejects_non_number_frequency():
    with pytest.raises(wb.InvalidParameterError, match="frequency"):
        wb.sine("440")


def test_sine_rejects_infinite_amplitude():
    with pytest.raises(wb.InvalidParameterError, match="amplitude"):
        wb.sine(440, amplitude=math.inf)


# -- sine sweep ---------------------------------------------------------------------


@pytest.mark.parametrize("block_size", BLOCK_SIZES)
def test_sine_sweep_matches_scipy_chirp(block_size):
    rate = 4000.0
    t = np.arange(2000) / rate  # 0.5 s, inside the 1 s sweep
    # scipy's chirp is a cosine; phi = -90 degrees turns it into the sine.
    expected = 0.5 * scipy.signal.chirp(t, f0=100.0, t1=1.0, f1=900.0, method="linear", phi=-90)

    actual = first(wb.sine_sweep(100.0, 900.0, amplitude=0.5, time=1.0), 2000, rate, block_size)

    np.testing.assert_allclose(actual, expected, rtol=0, atol=1e-9)


def test_sine_sweep_holds_end_frequency_with_continuous_phase():
    rate = 1000.0
    f0, f1, duration = 10.0, 50.0, 1.0
    t = np.arange(1500) / rate
    end_phase = f0 * duration + 0.5 * (f1 - f0) * duration
    after = t >= duration
    expected_after = np.sin(2 * np.pi * (end_phase + f1 * (t[after] - duration)))

    actual = first(wb.sine_sweep(f0, f1, time=duration), 1500, rate)

    np.testing.assert_allclose(actual[after], expected_after, atol=1e-9)


def test_sine_sweep_is_infinite():
    assert wb.sine_sweep(10, 20).is_finite is False


def test_sine_sweep_rejects_non_positive_time():
    with pytest.raises(wb.InvalidParameterError, match="sweep time"):
        wb.sine_sweep(10, 20, time=0)


# -- function input -----------------------------------------------------------------


@pytest.mark.parametrize("block_size", BLOCK_SIZES)
def test_function_input_ends_at_first_none(block_size):
    calls = []

    def generate(index, sample_rate):
        calls.append(index)
        return index / sample_rate if index < 7 else None

    values = elements(wb.input(generate), 10.0, block_size)

    assert values == [i / 10.0 for i in range(7)]
    assert max(calls) == 7


def test_function_input_gets_evaluation_rate():
    rates = set()

    list(wb.input(lambda i, sr: rates.add(sr) or (1.0 if i < 2 else None)).elements(1234.0))

    assert rates == {1234.0}


def test_function_input_object_elements():
    stream = wb.input(lambda i, sr: {"i": i} if i < 3 else None, element_type=object)

    assert elements(stream, 100, 2) == [{"i": 0}, {"i": 1}, {"i": 2}]


def test_function_input_fixed_rate_rejects_other_rate():
    stream = wb.input(lambda i, sr: 0.0, sample_rate=16000)

    assert stream.desired_sample_rate == 16000.0
    with pytest.raises(wb.SampleRateMismatchError, match="16000"):
        next(stream.iter_blocks(8000))


def test_function_input_rejects_non_callable():
    with pytest.raises(wb.InvalidParameterError, match="not callable"):
        wb.input(42)


# -- list input ---------------------------------------------------------------------


@pytest.mark.parametrize("block_size", BLOCK_SIZES)
def test_list_input_numbers(block_size):
    stream = wb.list_input([1, 2.5, -3])

    assert collect(stream, 8000, block_size).tolist() == [1.0, 2.5, -3.0]
    assert collect(stream, 8000, block_size).dtype == np.float64


def test_list_input_metadata():
    stream = wb.list_input(np.arange(10))

    assert stream.is_finite is True
    assert stream.samples_count(44100) == 10
    assert stream.desired_sample_rate is None


def test_list_input_objects():
    stream = wb.list_input(["a", "b", "c"])

    assert stream.element_type is object
    assert elements(stream, 1, 2) == ["a", "b", "c"]


def test_list_input_rejects_empty():
    with pytest.raises(wb.InvalidParameterError, match="empty"):
        wb.list_input([])


def test_list_input_rebuilds_from_params():
    stream = wb.list_input([0.25, 0.5])

    rebuilt = type(stream)(*stream.inputs, **stream.params)

    assert collect(rebuilt, 10).tolist() == [0.25, 0.5]
