"""Windows over streams, window functions and window arithmetic."""

from __future__ import annotations

import numpy as np
import pytest
from scipy.signal import windows as scipy_windows

import wavebeans_nb as wb
from conftest import BLOCK_SIZES, elements
from wavebeans_nb import Window

RATE = 1000.0


def window_lists(stream, block_size=None):
    return [list(w.elements) for w in elements(stream, RATE, block_size)]


def reference_windows(values, size, step):
    """Windows at 0, step, 2·step, … for every start before the end, each up to size long."""
    return [list(values[start:start + size]) for start in range(0, len(values), step)]


def numbers(n):
    return wb.list_input([float(i) for i in range(n)])


# -- window() ------------------------------------------------------------------------------


def test_window_even_split_with_partial_tail():
    assert window_lists(numbers(9).window(2)) == [[0, 1], [2, 3], [4, 5], [6, 7], [8]]


def test_window_overlapping_tail():
    assert window_lists(numbers(10).window(3, 2)) == [[0, 1, 2], [2, 3, 4], [4, 5, 6], [6, 7, 8], [8, 9]]
    assert window_lists(numbers(9).window(3, 2))[-2:] == [[6, 7, 8], [8]]


def test_window_step_larger_than_size_drops_gaps():
    assert window_lists(numbers(10).window(3, 4)) == [[0, 1, 2], [4, 5, 6], [8, 9]]


def test_window_of_size_one():
    assert window_lists(numbers(3).window(1)) == [[0], [1], [2]]


def test_window_of_empty_stream():
    assert window_lists(wb.sine(10).trim(0).window(4)) == []


def test_window_carries_size_step_and_measure():
    first = elements(numbers(10).window(3, 2), RATE)[0]

    assert (first.size, first.step) == (3, 2)
    assert wb.measure(first) == 2


@pytest.mark.parametrize("size,step", [(1, 1), (2, 1), (5, 2), (4, 4), (3, 7), (64, 16), (10, 3)])
@pytest.mark.parametrize("block_size", BLOCK_SIZES)
def test_window_matches_reference(size, step, block_size):
    values = np.random.default_rng(size * 31 + step).standard_normal(157)

    actual = window_lists(wb.list_input(values).window(size, step), block_size)

    assert actual == reference_windows(values.tolist(), size, step)


@pytest.mark.parametrize("block_size", BLOCK_SIZES)
def test_window_of_objects_needs_zero(block_size):
    letters = wb.list_input(list("abcde"))

    assert window_lists(letters.window(2, 2, zero=""), block_size) == [["a", "b"], ["c", "d"], ["e"]]
    with pytest.raises(wb.InvalidParameterError, match="zero"):
        letters.window(2)


@pytest.mark.parametrize("size,step", [(0, 1), (2, 0), (-1, None), (2.5, None), (True, None)])
def test_window_invalid_parameters(size, step):
    with pytest.raises(wb.InvalidParameterError, match="window"):
        numbers(4).window(size, step)


def test_window_stream_rebuilds_from_params():
    stream = numbers(10).window(3, 2)

    rebuilt = type(stream)(*stream.inputs, **stream.params)

    assert window_lists(rebuilt) == window_lists(stream)


def test_window_samples_count():
    assert numbers(10).window(3, 2).samples_count(RATE) == 5
    assert numbers(10).window(3, 4).samples_count(RATE) == 3


# -- window functions ---------------------------------------------------------------------


SCIPY_WINDOWS = {
    "rectangle": lambda n: scipy_windows.boxcar(n, sym=False),
    "triangular": lambda n: scipy_windows.bartlett(n, sym=False),
    "blackman": lambda n: scipy_windows.blackman(n, sym=False),
    "hamming": lambda n: scipy_windows.general_hamming(n, 25 / 46, sym=False),
    "hann": lambda n: scipy_windows.hann(n, sym=False),
}


@pytest.mark.parametrize("name", sorted(SCIPY_WINDOWS))
@pytest.mark.parametrize("block_size", [1, 1000])
def test_window_function_matches_scipy(name, block_size):
    values = np.random.default_rng(7).standard_normal(40)
    stream = getattr(wb.list_input(values).window(16, 6), name)()

    windows = elements(stream, RATE, block_size)

    assert len(windows) == 7
    for start, window in zip(range(0, 40, 6), windows):
        chunk = values[start:start + 16]
        # Partial windows get the window function of their own length.
        expected = chunk * SCIPY_WINDOWS[name](len(chunk))
        np.testing.assert_allclose(window.elements, expected, rtol=0, atol=1e-15)


def test_hamming_uses_a0_25_over_46():
    window = elements(wb.list_input(np.ones(8)).window(8).hamming(), RATE)[0]

    assert window.elements[0] == pytest.approx(2 * 25 / 46 - 1, abs=1e-15)


def test_window_function_callable_and_unknown_name():
    stream = wb.list_input(np.ones(4)).window(4).window_function(lambda n: np.arange(n))

    assert elements(stream, RATE)[0].elements.tolist() == [0, 1, 2, 3]
    with pytest.raises(wb.InvalidParameterError, match="kaiser"):
        wb.list_input(np.ones(4)).window(4).window_function("kaiser")


def test_window_function_of_objects_uses_multiply():
    stream = wb.list_input([[1], [2]]).window(2, zero=[]).window_function("rectangle", multiply=lambda e, w: e * int(w))

    assert elements(stream, RATE)[0].elements == [[1], [2]]


# -- arithmetic ---------------------------------------------------------------------------


@pytest.mark.parametrize("block_size", BLOCK_SIZES)
def test_window_plus_scalar_keeps_existing_elements(block_size):
    stream = wb.list_input([0.1, 0.2, 0.3, 0.4]).window(3, 2) + 1.0

    windows = window_lists(stream, block_size)

    assert len(windows) == 2
    np.testing.assert_allclose(windows[0], [1.1, 1.2, 1.3], rtol=0, atol=1e-15)
    np.testing.assert_allclose(windows[1], [1.3, 1.4], rtol=0, atol=1e-15)


def test_scalar_minus_and_divided_by_window():
    stream = 1.0 / wb.list_input([0.0, 0.5, 0.25]).window(2)

    assert window_lists(stream) == [[np.inf, 2.0], [4.0]]
    assert window_lists(2.0 - numbers(3).window(2)) == [[2.0, 1.0], [0.0]]


@pytest.mark.parametrize("block_size", BLOCK_SIZES)
def test_window_times_window(block_size):
    a = numbers(5).window(2)
    b = wb.list_input([2.0] * 5).window(2)

    assert window_lists(a * b, block_size) == [[0, 2], [4, 6], [8]]


def test_window_streams_of_different_length():
    longer = numbers(6).window(2)
    shorter = wb.list_input([1.0, 1.0, 1.0]).window(2)

    assert window_lists(longer + shorter) == [[1, 2], [3, 3], [4, 5]]
    # A missing position divides by 0.0; a divisor stream that has ended gives zeros, as for samples.
    assert window_lists(longer / shorter) == [[0, 1], [2, np.inf], [0, 0]]


def test_window_streams_of_different_size_raise():
    with pytest.raises(wb.InvalidParameterError, match="same size and step"):
        elements(numbers(6).window(2) + numbers(6).window(3), RATE)


# -- the Window type -------------------------------------------------------------------------


def test_window_equality_ignores_zero():
    assert Window(3, 2, [1.0, 2.0], 0.0) == Window.of_samples(3, 2, [1, 2])
    assert Window(3, 2, [1.0, 2.0]) != Window(3, 1, [1.0, 2.0])


def test_window_merge_pads_to_size():
    merged = Window(3, 3, [1.0, 2.0]).merge(Window(3, 3, [10.0]), lambda a, b: a + b)

    assert merged.elements.tolist() == [11.0, 2.0, 0.0]


def test_window_merge_rejects_other_shape():
    with pytest.raises(wb.InvalidParameterError, match="same size and step"):
        Window(3, 3, [1.0]).merge(Window(2, 2, [1.0]), lambda a, b: a + b)


def test_window_constructor_validates():
    with pytest.raises(wb.InvalidParameterError, match="at least one"):
        Window(2, 2, [])
    with pytest.raises(wb.InvalidParameterError, match="size"):
        Window(0, 2, [1.0])


def test_window_and_sample_vector_conversion():
    vector = wb.sample_vector(Window(4, 2, [1.0, 2.0]))

    assert vector.tolist() == [1.0, 2.0]
    assert wb.beans.types.vector_to_window(vector, 1) == Window(2, 1, [1.0, 2.0])


# -- pickling: overlapping windows travel as their run of samples ---------------------


def _window_blocks(samples: np.ndarray, size: int, step: int, block_size: int = 4096) -> list:
    stream = wb.list_input(samples).window(size, step)
    return list(stream.iter_blocks(16000, block_size))


@pytest.mark.parametrize("size, step", [(256, 64), (64, 64), (16, 40)])
def test_window_block_pickle_round_trip(size, step):
    import pickle

    samples = np.random.default_rng(3).standard_normal(5000)
    for block in _window_blocks(samples, size, step):
        for part in (block, block[1:4]):
            copy = pickle.loads(pickle.dumps(part, protocol=5))
            assert np.array_equal(copy.data, part.data)
            assert np.array_equal(copy.counts, part.counts)
            assert np.array_equal(copy.index, part.index)
            assert (copy.size, copy.step, copy.zero) == (part.size, part.step, part.zero)


def test_overlapping_windows_pickle_as_their_samples():
    import pickle

    samples = np.random.default_rng(4).standard_normal(40000)
    block = _window_blocks(samples, 2048, 512, block_size=len(samples))[0]
    assert len(block) == 75
    buffers = []
    pickle.dumps(block, protocol=5, buffer_callback=buffers.append)
    sent = sum(memoryview(buffer).nbytes for buffer in buffers)
    span = ((len(block) - 1) * 512 + 2048) * 8
    # The windows hold 4 times as many values as the samples they cover; only the samples travel.
    assert sent < span + 64 * len(block)
    assert block.data.nbytes > 3 * span


def test_window_copies_pickle_as_they_are():
    import pickle

    from wavebeans_nb.beans.types import WindowBlock

    data = np.arange(12.0).reshape(3, 4)  # rows 4 apart, step 2: not a view of one run of samples
    block = WindowBlock(data, np.array([4, 4, 3]), 4, 2, 0.0, np.array([0, 1, 2]))
    copy = pickle.loads(pickle.dumps(block))
    assert np.array_equal(copy.data, data)
    assert np.array_equal(copy.counts, [4, 4, 3])
