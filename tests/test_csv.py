"""CSV output: time,value rows, time units, custom serializers."""

from __future__ import annotations

import math
import os

import fsspec
import numpy as np
import pytest

import wavebeans_nb as wb
from conftest import BLOCK_SIZES, run_output
from wavebeans_nb.beans.outputs.csv import sample_times
from wavebeans_nb.beans.timeunit import samples_to_length


def read_lines(path):
    with open(path, encoding="utf-8", newline="") as file:
        return file.read().split("\n")


@pytest.mark.parametrize("block_size", BLOCK_SIZES)
def test_csv_hand_computed_rows(tmp_dir, block_size):
    target = os.path.join(tmp_dir, "rows.csv")

    run_output(wb.list_input([0.5, -0.25, 1 / 3, 2.0, -1e-12]).to_csv(target), 4, block_size)

    assert read_lines(target) == [
        "time ms,value",
        "0,0.5000000000",
        "250,-0.2500000000",
        "500,0.3333333333",
        "750,2.0000000000",
        "1000,-0.0000000000",
        "",
    ]


def test_csv_sine_trimmed(tmp_dir):
    target = os.path.join(tmp_dir, "sine.csv")

    run_output(wb.sine(10).trim(500).to_csv(target), 200)

    lines = read_lines(target)
    assert len(lines) == 102  # header, 100 rows, empty string after the last newline
    rows = [line.split(",") for line in lines[1:-1]]
    assert [int(time) for time, _ in rows] == list(range(0, 500, 5))
    assert [value for _, value in rows] == ["%.10f" % math.sin(2 * math.pi * 10 * k / 200) for k in range(100)]


@pytest.mark.parametrize(
    "unit, expected_times",
    [
        ("ns", [0, 22675, 45351, 68027]),
        ("us", [0, 22, 45, 68]),
        ("ms", [0, 0, 0, 0]),
        ("s", [0, 0, 0, 0]),
    ],
)
def test_csv_time_units(tmp_dir, unit, expected_times):
    target = os.path.join(tmp_dir, f"units-{unit}.csv")

    run_output(wb.list_input([1.0, 0.0, -1.0, 0.5]).to_csv(target, time_unit=unit), 44100)

    lines = read_lines(target)
    assert lines[0] == f"time {unit},value"
    assert [int(line.split(",")[0]) for line in lines[1:-1]] == expected_times


def test_csv_long_unit_name(tmp_dir):
    target = os.path.join(tmp_dir, "seconds.csv")

    run_output(wb.list_input([1.0, 2.0]).to_csv(target, time_unit="seconds"), 1)

    assert read_lines(target)[:3] == ["time s,value", "0,1.0000000000", "1,2.0000000000"]


def test_csv_exact_time_arithmetic(tmp_dir):
    # At 4 Hz, n / (4 / 1e9) in float64 gives 499999999.99999994 ns for sample 2; exact arithmetic gives 500 ms.
    target = os.path.join(tmp_dir, "quarters.csv")

    run_output(wb.list_input([0.0] * 4).to_csv(target, time_unit="ns"), 4)

    times = [line.split(",")[0] for line in read_lines(target)[1:-1]]
    assert times == ["0", "250000000", "500000000", "750000000"]


@pytest.mark.parametrize("sample_rate", [3.0, 44100.0, 22050.5, 0.1, 1e-3, 96000.0])
@pytest.mark.parametrize("unit", ["ns", "us", "ms", "s", "m", "h", "d"])
def test_sample_times_match_samples_to_length(sample_rate, unit):
    for start in (0, 12_345, 10**12):
        times = sample_times(start, 7, sample_rate, unit)

        assert [int(t) for t in times] == [samples_to_length(i, sample_rate, unit) for i in range(start, start + 7)]


def test_csv_empty_stream_writes_header(tmp_dir):
    target = os.path.join(tmp_dir, "empty.csv")

    run_output(wb.sine(1).trim(0).to_csv(target, time_unit="us"), 8000)

    assert read_lines(target) == ["time us,value", ""]


def test_csv_independent_of_block_size(tmp_dir):
    contents = set()
    for block_size in BLOCK_SIZES:
        target = os.path.join(tmp_dir, f"rows-{block_size}.csv")
        run_output((wb.sine(7, 0.5) * wb.sine(3)).trim(250).to_csv(target), 1000, block_size)
        with open(target, encoding="utf-8") as file:
            contents.add(file.read())

    assert len(contents) == 1


def test_csv_memory_uri():
    run_output(wb.list_input([0.125]).to_csv("memory://csv/one.csv"), 8)

    with fsspec.open("memory://csv/one.csv", "r") as file:
        assert file.read() == "time ms,value\n0,0.1250000000\n"


# -- custom form ---------------------------------------------------------------------------


@pytest.mark.parametrize("block_size", BLOCK_SIZES)
def test_csv_custom_serializer(tmp_dir, block_size):
    target = os.path.join(tmp_dir, "custom.csv")

    def serialize(index, sample_rate, element):
        return [str(index), f"{sample_rate:g}", element["name"], str(len(element["name"]))]

    stream = wb.list_input([{"name": "a"}, {"name": "bcd"}, {"name": "ef"}])
    run_output(stream.to_csv(target, header=["index", "rate", "name", "length"], serializer=serialize),
               50, block_size)

    assert read_lines(target) == ["index,rate,name,length", "0,50,a,1", "1,50,bcd,3", "2,50,ef,2", ""]


def test_csv_custom_index_counts_elements(tmp_dir):
    target = os.path.join(tmp_dir, "pairs.csv")
    pairs = wb.list_input([[1.0, 2.0], [3.0, 4.0]], element_type=object)

    def serialize(index, sample_rate, element):
        return [str(samples_to_length(index, sample_rate)), str(sum(element))]

    run_output(pairs.to_csv(target, header=["time ms", "sum"], serializer=serialize), 200)

    assert read_lines(target) == ["time ms,sum", "0,3.0", "5,7.0", ""]


def test_csv_custom_serializer_bad_return(tmp_dir):
    target = os.path.join(tmp_dir, "bad.csv")
    output = wb.list_input([1.0]).to_csv(target, header=["x"], serializer=lambda i, sr, e: "not a list")

    with pytest.raises(wb.InvalidParameterError, match="list of strings"):
        run_output(output, 8000)
    assert not os.path.exists(target)


def test_csv_custom_encoding(tmp_dir):
    target = os.path.join(tmp_dir, "latin.csv")

    run_output(wb.list_input(["é"]).to_csv(target, header=["name"], serializer=lambda i, sr, e: [e],
                                           encoding="latin-1"), 1)

    with open(target, "rb") as file:
        assert file.read() == "name\né\n".encode("latin-1")


# -- invalid parameters ------------------------------------------------------------------------


def test_csv_rejects_unknown_unit():
    with pytest.raises(wb.InvalidParameterError, match="unknown time unit 'fortnight'"):
        wb.sine(1).to_csv("x.csv", time_unit="fortnight")


def test_csv_rejects_header_without_serializer():
    with pytest.raises(wb.InvalidParameterError, match="together"):
        wb.sine(1).to_csv("x.csv", header=["a"])


def test_csv_rejects_objects_without_serializer():
    with pytest.raises(wb.InvalidParameterError, match="pass header= and serializer="):
        wb.list_input(["a"]).to_csv("x.csv")


def test_csv_rejects_string_header():
    with pytest.raises(wb.InvalidParameterError, match="list of column names"):
        wb.sine(1).to_csv("x.csv", header="a,b", serializer=lambda i, sr, e: [])


def test_csv_rejects_frames_without_serializer(tmp_dir):
    with pytest.raises(wb.InvalidParameterError, match="pass header= and serializer="):
        wb.channels(wb.sine(1), wb.sine(2)).to_csv(os.path.join(tmp_dir, "x.csv"))


def test_sample_times_overflow_falls_back_to_python_ints():
    times = sample_times(2**62, 2, 1e-9, "ns")

    assert [int(t) for t in times] == [samples_to_length(2**62 + i, 1e-9, "ns") for i in range(2)]
