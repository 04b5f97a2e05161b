"""Operations on streams: arithmetic, amplitude, trim, concatenation, map, merge, projection, after-filling."""

from __future__ import annotations

import numpy as np
import pytest

import wavebeans_nb as wb
from conftest import BLOCK_SIZES, collect, elements

RATE = 1000.0


def values(stream, block_size=None, sample_rate=RATE):
    return collect(stream, sample_rate, block_size).tolist()


# -- arithmetic between streams -----------------------------------------------------


@pytest.mark.parametrize("block_size", BLOCK_SIZES)
@pytest.mark.parametrize(
    "operation, expected",
    [
        ("add", [11.0, 22.0, 33.0, 4.0, 5.0]),
        ("sub", [-9.0, -18.0, -27.0, 4.0, 5.0]),
        ("mul", [10.0, 40.0, 90.0, 0.0, 0.0]),
        # Where the divisor has ended the result is 0.0.
        ("truediv", [0.1, 0.1, 0.1, 0.0, 0.0]),
    ],
)
def test_stream_arithmetic_longer_left(operation, expected, block_size):
    left = wb.list_input([1.0, 2.0, 3.0, 4.0, 5.0])
    right = wb.list_input([10.0, 20.0, 30.0])
    combined = {"add": left + right, "sub": left - right, "mul": left * right, "truediv": left / right}[operation]

    assert values(combined, block_size) == pytest.approx(expected, rel=1e-15)


@pytest.mark.parametrize("block_size", BLOCK_SIZES)
def test_stream_arithmetic_longer_right(block_size):
    left = wb.list_input([1.0, 2.0])
    right = wb.list_input([10.0, 20.0, 30.0, 0.0])

    assert values(left + right, block_size) == [11.0, 22.0, 30.0, 0.0]
    assert values(left - right, block_size) == [-9.0, -18.0, -30.0, 0.0]
    # An ended dividend counts as 0.0: 0/30 is 0.0 and 0/0 is NaN.
    divided = values(left / right, block_size)
    assert divided[:3] == [0.1, 0.1, 0.0]
    assert np.isnan(divided[3])


def test_stream_division_by_zero_follows_ieee():
    result = values(wb.list_input([1.0, -1.0, 0.0]) / wb.list_input([0.0, 0.0, 0.0]))

    assert result[0] == np.inf
    assert result[1] == -np.inf
    assert np.isnan(result[2])


@pytest.mark.parametrize("block_size", BLOCK_SIZES)
def test_sines_cancel(block_size):
    a = wb.sine(440)
    b = wb.sine(1000)

    mixed = collect((a + b - a).trim(50), 8000, block_size)
    reference = collect(b.trim(50), 8000)

    np.testing.assert_allclose(mixed, reference, atol=1e-14)


def test_stream_arithmetic_is_finite_only_if_both_are():
    assert (wb.list_input([1.0]) + wb.list_input([2.0])).is_finite is True
    assert (wb.list_input([1.0]) + wb.sine(10)).is_finite is False


def test_stream_arithmetic_infinite_side_continues():
    result = collect((wb.list_input([1.0, 1.0]) + wb.sine(250)).trim(5), 1000)

    np.testing.assert_allclose(result, [1.0, 2.0, 0.0, -1.0, 0.0], atol=1e-12)


# -- arithmetic with scalars --------------------------------------------------------


@pytest.mark.parametrize("block_size", BLOCK_SIZES)
def test_scalar_operations_both_sides(block_size):
    x = np.array([1.0, -2.0, 4.0])
    s = wb.list_input(x)

    assert values(s + 1.5, block_size) == (x + 1.5).tolist()
    assert values(1.5 + s, block_size) == (1.5 + x).tolist()
    assert values(s - 1.5, block_size) == (x - 1.5).tolist()
    assert values(1.5 - s, block_size) == (1.5 - x).tolist()
    assert values(s * 3, block_size) == (x * 3).tolist()
    assert values(3 * s, block_size) == (3 * x).tolist()
    assert values(s / 3, block_size) == (x / 3).tolist()
    assert values(3 / s, block_size) == (3 / x).tolist()


def test_scalar_division_by_zero():
    result = values(wb.list_input([1.0, 0.0]) / 0)

    assert result[0] == np.inf
    assert np.isnan(result[1])


def test_scalar_rejects_non_number():
    with pytest.raises(TypeError):
        wb.list_input([1.0]) + "1"


@pytest.mark.parametrize("block_size", BLOCK_SIZES)
def test_change_amplitude(block_size):
    x = np.linspace(-1, 1, 11)

    assert values(wb.list_input(x).change_amplitude(0.3), block_size) == (x * 0.3).tolist()


# -- trim -----------------------------------------------------------------------------


@pytest.mark.parametrize("block_size", BLOCK_SIZES)
def test_trim_string_is_exact(block_size):
    trimmed = wb.sine(10).trim("1.5s")

    assert len(collect(trimmed, RATE, block_size)) == 1500
    assert trimmed.samples_count(RATE) == 1500


@pytest.mark.parametrize(
    "length, unit, sample_rate, count",
    [(10, "ms", 200, 2), (2, "ms", 192000, 384), (1, "ms", 44100, 44), (0.5, "s", 3, 1), (1.1, "s", 10, 11)],
)
def test_trim_floors_sample_count(length, unit, sample_rate, count):
    assert len(collect(wb.sine(1).trim(length, unit), sample_rate)) == count


def test_trim_zero_is_empty():
    assert len(collect(wb.sine(1).trim(0), RATE)) == 0


@pytest.mark.parametrize("block_size", BLOCK_SIZES)
def test_trim_stops_at_end_of_input(block_size):
    trimmed = wb.list_input([1.0, 2.0, 3.0]).trim(10, "s")

    assert values(trimmed, block_size) == [1.0, 2.0, 3.0]
    assert trimmed.samples_count(RATE) == 3


def test_trim_makes_stream_finite():
    assert wb.sine(1).trim(1).is_finite is True


@pytest.mark.parametrize("block_size", BLOCK_SIZES)
def test_trim_emits_last_element_whole(block_size):
    # Each element is a list of two samples, so it measures 2 samples.
    pairs = wb.list_input([[1.0, 2.0], [3.0, 4.0], [5.0, 6.0]], element_type=object)

    assert elements(pairs.trim(3), RATE, block_size) == [[1.0, 2.0], [3.0, 4.0]]


# -- concatenation --------------------------------------------------------------------


@pytest.mark.parametrize("block_size", BLOCK_SIZES)
def test_concat_chain(block_size):
    chain = (
        wb.list_input([1, 2])
        .concat(wb.list_input([3, 4, 5]))
        .concat(wb.list_input([10, 20, 30]))
        .concat(wb.list_input([100, 200]).after_filling(0.0))
    )

    assert values(chain.trim(15), block_size) == [1, 2, 3, 4, 5, 10, 20, 30, 100, 200, 0, 0, 0, 0, 0]


def test_concat_samples_count():
    chain = wb.list_input([1, 2]).concat(wb.list_input([3, 4, 5]))

    assert chain.samples_count(RATE) == 5
    assert chain.is_finite is True


def test_concat_rejects_infinite_first():
    with pytest.raises(wb.InvalidParameterError, match="infinite"):
        wb.sine(1).concat(wb.list_input([1.0]))


def test_concat_rejects_non_stream():
    with pytest.raises(wb.InvalidParameterError, match="pass a stream"):
        wb.list_input([1.0]).concat([2.0])


# -- map, map_blocks, merge -------------------------------------------------------------


@pytest.mark.parametrize("block_size", BLOCK_SIZES)
def test_map_applies_per_element(block_size):
    mapped = wb.list_input([1.0, 2.0, 3.0]).map(lambda x: x * x + 1)

    assert values(mapped, block_size) == [2.0, 5.0, 10.0]


def test_map_changes_element_type():
    mapped = wb.list_input([1.0, 2.0]).map(lambda x: f"v{x:g}", element_type=object)

    assert elements(mapped, RATE) == ["v1", "v2"]


@pytest.mark.parametrize("block_size", BLOCK_SIZES)
def test_map_blocks_vectorised(block_size):
    x = np.linspace(-2, 2, 9)

    assert values(wb.list_input(x).map_blocks(np.abs), block_size) == np.abs(x).tolist()


def test_map_blocks_rejects_length_change():
    stream = wb.list_input([1.0, 2.0]).map_blocks(lambda block: block[:1])

    with pytest.raises(wb.InvalidParameterError, match="one element per input element"):
        collect(stream, RATE)


@pytest.mark.parametrize("block_size", BLOCK_SIZES)
@pytest.mark.parametrize(
    "right, expected",
    [
        (range(10, 16), [10, 12, 14, 16, 18, 20, 6, 7, 8, 9]),
        (range(10, 26), [10, 12, 14, 16, 18, 20, 22, 24, 26, 28, 20, 21, 22, 23, 24, 25]),
    ],
)
def test_merge_pairs_elements(right, expected, block_size):
    def add(x, y):
        return (x or 0.0) + (y or 0.0)

    merged = wb.list_input(list(range(10))).merge(wb.list_input(list(right)), add)

    assert values(merged, block_size) == expected


@pytest.mark.parametrize("block_size", BLOCK_SIZES)
def test_merge_none_ends_stream(block_size):
    def until_negative(x, y):
        return None if x < 0 else x + y

    merged = wb.list_input([1.0, 2.0, -1.0, 4.0]).merge(wb.list_input([1.0] * 4), until_negative)

    assert values(merged, block_size) == [2.0, 3.0]


def test_merge_with_infinite_stays_infinite():
    merged = wb.list_input([1.0]).merge(wb.sine(1), lambda x, y: (x or 0.0) + y)

    assert len(collect(merged.trim(100), RATE)) == 100


# -- range projection -------------------------------------------------------------------


@pytest.mark.parametrize("block_size", BLOCK_SIZES)
@pytest.mark.parametrize(
    "start, end, expected",
    [
        (0, 1000, list(range(0, 50))),
        (500, 1000, list(range(25, 50))),
        (100, 200, list(range(5, 10))),
        (1500, 2500, list(range(75, 100))),
        (-1500, 2500, list(range(0, 100))),
    ],
)
def test_range_projection_table(start, end, expected, block_size):
    stream = wb.list_input(np.arange(100.0)).range_projection(start, end)

    assert values(stream, block_size, sample_rate=50.0) == expected


def test_range_projection_open_end():
    stream = wb.list_input(np.arange(10.0)).range_projection(400)

    assert values(stream, sample_rate=10.0) == [4.0, 5.0, 6.0, 7.0, 8.0, 9.0]


def test_range_projection_string_times():
    stream = wb.list_input(np.arange(100.0)).range_projection("0.5s", "1s")

    assert values(stream, sample_rate=50.0) == list(range(25, 50))


@pytest.mark.parametrize("block_size", BLOCK_SIZES)
def test_range_projection_credits_overshoot(block_size):
    # Elements measure 2 samples each; skipping 3 samples skips two elements (4 samples),
    # and the 1-sample overshoot is taken off the 5 samples to keep.
    pairs = wb.list_input([[0, 1], [2, 3], [4, 5], [6, 7], [8, 9]], element_type=object)

    projected = elements(pairs.range_projection(3, 8), 1000, block_size)

    assert projected == [[4, 5], [6, 7]]


def test_range_projection_rejects_end_before_start():
    with pytest.raises(wb.InvalidParameterError, match="before its start"):
        wb.sine(1).range_projection(200, 100)


# -- after filling ----------------------------------------------------------------------


@pytest.mark.parametrize("block_size", BLOCK_SIZES)
def test_after_filling_continues_with_zero(block_size):
    filled = wb.list_input([1.0, 2.0]).after_filling(0.5)

    assert filled.is_finite is False
    assert values(filled.trim(5), block_size) == [1.0, 2.0, 0.5, 0.5, 0.5]


def test_after_filling_rejects_infinite():
    with pytest.raises(wb.InvalidParameterError, match="already infinite"):
        wb.sine(1).after_filling()


# -- sample rates ------------------------------------------------------------------------


def test_operation_inherits_fixed_rate():
    fixed = wb.input(lambda i, sr: 1.0 if i < 3 else None, sample_rate=500)

    assert (fixed * 2).desired_sample_rate == 500.0
    assert (fixed * 2).trim(1000).rate_for(8000) == 500.0


def test_mixed_fixed_rates_are_rejected():
    a = wb.input(lambda i, sr: 0.0, sample_rate=500)
    b = wb.input(lambda i, sr: 0.0, sample_rate=800)

    with pytest.raises(wb.SampleRateMismatchError, match="500 Hz, 800 Hz"):
        (a + b).desired_sample_rate


def test_beans_rebuild_from_params():
    stream = wb.list_input([1.0, 2.0, 3.0]).trim(2)

    rebuilt = type(stream)(*stream.inputs, **stream.params)

    assert values(rebuilt) == [1.0, 2.0]
