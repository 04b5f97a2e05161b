"""In-memory tables: writing, retention, queries, continuous reads and the registry."""

from __future__ import annotations

import threading
from fractions import Fraction

import numpy as np
import pytest

import wavebeans_nb as wb
from conftest import BLOCK_SIZES, collect, elements, run_output
from wavebeans_nb.beans.table import TableExistsError, TableNotFoundError

RATE = 1000.0
KINDS = ["to_table", "to_sample_table"]


@pytest.fixture
def registry():
    return wb.TableRegistry()


def fill(registry, kind, values, name="t", rate=RATE, block_size=None, **options):
    output = getattr(wb.list_input(values), kind)(name, registry=registry, **options)
    run_output(output, rate, block_size)
    return wb.table(name, registry)


@pytest.mark.parametrize("kind", KINDS)
@pytest.mark.parametrize("block_size", BLOCK_SIZES)
def test_table_queries(registry, kind, block_size):
    handle = fill(registry, kind, np.arange(1000.0), block_size=block_size)

    assert collect(handle.last("100ms"), RATE).tolist() == list(range(900, 1000))
    assert collect(handle.time_range(800, 900), RATE).tolist() == list(range(800, 900))
    assert len(collect(handle.time_range("1000ms", "1100ms"), RATE)) == 0
    assert len(collect(handle.time_range(900, 800), RATE)) == 0
    assert handle.first_marker() == wb.TimeMeasure.of("0ms")
    assert handle.last_marker() == wb.TimeMeasure.of("999ms")


@pytest.mark.parametrize("kind", KINDS)
@pytest.mark.parametrize("block_size", [1, 7, None])
def test_table_retention(registry, kind, block_size):
    handle = fill(registry, kind, np.arange(50.0), max_size="25ms", block_size=block_size)

    assert handle.first_marker() == wb.TimeMeasure.of("25ms")
    assert handle.last_marker() == wb.TimeMeasure.of("49ms")
    assert len(handle) == 25
    assert collect(handle.time_range(0, 100), RATE).tolist() == list(range(25, 50))


def test_table_of_windows_markers(registry):
    output = wb.list_input(np.arange(50.0)).window(10).to_table("w", max_size="25ms", registry=registry)

    run_output(output, RATE)

    windows = elements(wb.table("w", registry).time_range(0, 100), RATE)
    assert [w.elements[0] for w in windows] == [20, 30, 40]
    assert wb.table("w", registry).first_marker() == wb.TimeMeasure.of("20ms")


@pytest.mark.parametrize("kind", KINDS)
def test_table_markers_are_exact(registry, kind):
    handle = fill(registry, kind, np.arange(100.0), rate=44100.0)

    expected = int(Fraction(99 * 10**9, 44100))
    assert handle.last_marker().nanos == expected
    # Sample k is in [a, b) exactly when floor(k·10⁹/44100) is.
    start, end = int(Fraction(10 * 10**9, 44100)), int(Fraction(20 * 10**9, 44100)) + 1
    assert collect(handle.time_range(start, end, unit="ns"), 44100).tolist() == list(range(10, 21))


def test_sample_table_uses_a_numpy_buffer(registry):
    handle = fill(registry, "to_sample_table", np.arange(10000.0), max_size="2s")

    assert isinstance(handle.table._ring.buffer, np.ndarray)
    assert handle.table._elements == []


def test_table_as_input_of_another_graph(registry, tmp_dir):
    import os

    fill(registry, "to_sample_table", np.arange(1000.0))
    target = os.path.join(tmp_dir, "last.csv")

    run_output((wb.table("t", registry).last("100ms") * 2.0).to_csv(target), RATE)

    with open(target, encoding="utf-8") as file:
        rows = file.read().splitlines()
    assert rows[0] == "time ms,value"
    assert rows[1] == "0,1800.0000000000"
    assert len(rows) == 101


@pytest.mark.parametrize("kind", KINDS)
def test_continuous_read_follows_writer(registry, kind):
    feed = threading.Semaphore(0)
    produced = []

    def source(index, sample_rate):
        if index >= 30:
            return None
        if index >= 10 and index % 5 == 0:
            feed.acquire()  # the test releases the writer five samples at a time
        produced.append(index)
        return float(index)

    output = getattr(wb.input(source), kind)("live", registry=registry)
    writer = output.writer(RATE, block_size=5)
    writer.write()
    writer.write()  # samples 0..9 are in the table

    read = []
    stream = wb.table("live", registry).stream("5ms", timeout=10)
    reader = threading.Thread(target=lambda: read.extend(collect(stream, RATE, 3).tolist()))
    reader.start()
    while True:
        feed.release()
        if not writer.write():
            break
    writer.close()
    reader.join(timeout=10)

    assert not reader.is_alive()
    assert read == list(range(4, 30))


def test_continuous_read_times_out(registry):
    registry.create("idle", 10**9)

    with pytest.raises(TimeoutError, match="idle"):
        collect(wb.table("idle", registry).stream(timeout=0.05), RATE)


def test_duplicate_table_name_raises(registry):
    wb.sine(1).to_table("dup", registry=registry)

    with pytest.raises(TableExistsError, match="reuse=True"):
        wb.sine(1).to_table("dup", registry=registry)
    assert wb.sine(1).to_table("dup", registry=registry, reuse=True).table is registry.get("dup")


def test_reused_table_continues_after_last_element(registry):
    fill(registry, "to_sample_table", np.arange(10.0))

    fill(registry, "to_sample_table", np.arange(10.0, 15.0), reuse=True)

    handle = wb.table("t", registry)
    assert handle.last_marker() == wb.TimeMeasure.of("14ms")
    assert collect(handle.time_range(0, 100), RATE).tolist() == list(range(15))


def test_unknown_table_raises(registry):
    with pytest.raises(TableNotFoundError, match="'missing' not found"):
        wb.table("missing", registry)


def test_table_output_rebuilds_from_params(registry):
    output = wb.sine(1).to_sample_table("r", registry=registry)

    rebuilt = type(output)(*output.inputs, **output.params)

    assert rebuilt.table is output.table


def test_sample_table_needs_samples(registry):
    with pytest.raises(wb.InvalidParameterError, match="sample stream"):
        wb.list_input(["a"]).to_sample_table("s", registry=registry)


def test_table_rejects_other_rate_on_resume(registry):
    fill(registry, "to_table", np.arange(10.0))

    with pytest.raises(wb.InvalidParameterError, match="1000 Hz"):
        fill(registry, "to_table", np.arange(10.0), rate=2000.0, reuse=True)


def test_table_remove(registry):
    fill(registry, "to_table", np.arange(3.0))

    registry.remove("t")

    assert registry.names() == []
