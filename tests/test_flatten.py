"""Flatten of windows (overlap-add), lists and sample vectors; flat_map."""

from __future__ import annotations

import numpy as np
import pytest

import wavebeans_nb as wb
from conftest import BLOCK_SIZES, collect, elements
from wavebeans_nb import Window

RATE = 1000.0


def overlap_add(values, size, step):
    """Hand-written overlap-add of windows at 0, step, … each holding up to size values."""
    windows = [values[start:start + size] for start in range(0, len(values), step)]
    end = max(start + len(w) for start, w in zip(range(0, len(values), step), windows))
    out = np.zeros(end)
    for index, window in enumerate(windows):
        for offset, value in enumerate(window):
            out[index * step + offset] += value
    return out


def numbers(n):
    return wb.list_input([float(i) for i in range(n)])


def test_flatten_step_equals_size_gives_samples_back():
    # The partial last window is not padded past the real data.
    assert collect(numbers(9).window(2).flatten(), RATE).tolist() == list(range(9))


def test_flatten_overlapping_windows():
    assert collect(numbers(10).window(3, 2).flatten(), RATE).tolist() == [0, 1, 4, 3, 8, 5, 12, 7, 16, 9]


def test_flatten_gaps_hold_zero_element():
    flat = collect(numbers(10).window(3, 4, zero=-1.0).flatten(), RATE)

    assert flat.tolist() == [0, 1, 2, -1, 4, 5, 6, -1, 8, 9]


@pytest.mark.parametrize("size,step", [(4, 1), (8, 3), (5, 2), (6, 3), (3, 2), (2, 2), (3, 5), (1, 1), (64, 16)])
@pytest.mark.parametrize("block_size", BLOCK_SIZES)
def test_flatten_matches_overlap_add(size, step, block_size):
    values = np.random.default_rng(size * 13 + step).standard_normal(101)

    flat = collect(wb.list_input(values).window(size, step).flatten(), RATE, block_size)

    # Both sum each position's windows oldest first, so they agree to the last bit.
    np.testing.assert_array_equal(flat, overlap_add(values, size, step))


def test_flatten_many_overlaps_of_ones():
    flat = collect(wb.list_input(np.ones(8)).window(4, 1).flatten(), RATE)

    assert flat.tolist() == [1, 2, 3, 4, 4, 4, 4, 4]


@pytest.mark.parametrize("block_size", [1, 1000])
def test_stft_resynthesis_with_hann(block_size):
    # Periodic Hann windows with a hop of a quarter window sum to exactly 2.
    values = np.random.default_rng(1).standard_normal(4096)
    stream = wb.list_input(values).window(512, 128).hann().fft(512).inverse_fft().flatten()

    flat = collect(stream, 8000, block_size)

    assert len(flat) == len(values)
    np.testing.assert_allclose(flat[384:-384] / 2.0, values[384:-384], rtol=0, atol=1e-12)


def test_flatten_windows_of_objects_with_resolve():
    letters = wb.list_input(list("abcde")).window(3, 2, zero="")

    flat = elements(letters.flatten(overlap_resolve=lambda a, b: a + b), RATE)

    assert flat == ["a", "b", "cc", "d", "ee"]


def test_flatten_windows_of_objects_without_resolve_raises():
    letters = wb.list_input([{1}, {2}, {3}]).window(2, 1, zero=set())

    with pytest.raises(wb.InvalidParameterError, match="overlap_resolve"):
        elements(letters.flatten(), RATE)


def test_flatten_non_overlapping_objects_needs_no_resolve():
    letters = wb.list_input(list("abcde")).window(2, 3, zero="-")

    assert elements(letters.flatten(), RATE) == ["a", "b", "-", "d", "e"]


def test_flatten_sample_windows_with_custom_resolve():
    stream = numbers(5).window(2, 1).flatten(overlap_resolve=max)

    assert collect(stream, RATE).tolist() == [0, 1, 2, 3, 4]


def test_flatten_windows_of_mixed_sizes():
    windows = [Window(2, 2, [1.0, 2.0]), Window(3, 1, [10.0, 20.0, 30.0]), Window(3, 1, [100.0])]

    flat = collect(wb.list_input(windows, element_type=Window).flatten(), RATE)

    # Starts: 0, then 0 + 2, then 2 + 1.
    assert flat.tolist() == [1, 2, 10, 120, 30]


@pytest.mark.parametrize("block_size", BLOCK_SIZES)
def test_flatten_lists(block_size):
    stream = wb.list_input([[1, 2], [], [3], [4, 5, 6]])

    assert elements(stream.flatten(), RATE, block_size) == [1, 2, 3, 4, 5, 6]
    assert collect(stream.flatten(element_type=float), RATE, block_size).tolist() == [1, 2, 3, 4, 5, 6]


@pytest.mark.parametrize("block_size", BLOCK_SIZES)
def test_flatten_sample_vectors(block_size):
    vectors = wb.list_input([np.array([1.0, 2.0]), np.array([]), np.array([3.0])], element_type=wb.SampleVector)

    assert collect(vectors.flatten(), RATE, block_size).tolist() == [1, 2, 3]


def test_flatten_rejects_non_iterables():
    with pytest.raises(wb.InvalidParameterError, match="iterable"):
        elements(wb.list_input([object()]).flatten(), RATE)


@pytest.mark.parametrize("block_size", BLOCK_SIZES)
def test_flat_map(block_size):
    stream = numbers(3).flat_map(lambda x: [x] * int(x))

    assert collect(stream, RATE, block_size).tolist() == [1, 2, 2]
    words = wb.list_input(["ab", "c"]).flat_map(list)
    assert elements(words, RATE, block_size) == ["a", "b", "c"]


def test_flatten_rebuilds_from_params():
    stream = numbers(10).window(3, 2).flatten()

    rebuilt = type(stream)(*stream.inputs, **stream.params)

    assert collect(rebuilt, RATE).tolist() == collect(stream, RATE).tolist()
