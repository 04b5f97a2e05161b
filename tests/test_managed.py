"""Managed outputs: WAV and CSV files switched by signals in the stream."""

from __future__ import annotations

import os

import numpy as np
import pytest
import soundfile as sf

import wavebeans_nb as wb
from conftest import BLOCK_SIZES, run_output
from wavebeans_nb import Managed, OutputSignal

CHUNK = 384
RATE = 192000.0


def managed_stream(values, signals, chunk=CHUNK):
    """Wrap ``values``; the first element of chunk c carries ``signals[c]`` = (signal, argument)."""

    def element(index, sample_rate):
        if index >= len(values):
            return None
        number, offset = divmod(index, chunk)
        signal, argument = signals.get(number, (OutputSignal.NOOP, None)) if offset == 0 else (OutputSignal.NOOP, None)
        return Managed(signal, argument, float(values[index]))

    return wb.input(element, element_type=Managed)


def files(directory):
    return sorted(name for name in os.listdir(directory) if not name.startswith("."))


@pytest.mark.parametrize("block_size", BLOCK_SIZES)
def test_managed_wav_splits_files(tmp_dir, block_size):
    values = 0.5 * np.sin(2 * np.pi * 440 * np.arange(CHUNK * 12) / RATE)
    signals = {
        2: (OutputSignal.CLOSE_GATE, None),
        4: (OutputSignal.FLUSH, 4),
        5: (OutputSignal.OPEN_GATE, 5),
        6: (OutputSignal.FLUSH, 6),
        11: (OutputSignal.CLOSE_GATE, 11),
    }
    output = managed_stream(values, signals).to_managed_wav(
        os.path.join(tmp_dir, "test.wav"), suffix=lambda argument: f"-{argument or 0}")

    run_output(output, RATE, block_size)

    assert files(tmp_dir) == ["test-0.wav", "test-5.wav", "test-6.wav"]
    expected = {"test-0.wav": (0, 2), "test-5.wav": (5, 6), "test-6.wav": (6, 11)}
    for name, (first, end) in expected.items():
        data, rate = sf.read(os.path.join(tmp_dir, name))
        assert rate == 192000
        np.testing.assert_allclose(data, values[first * CHUNK: end * CHUNK], rtol=0, atol=1 / 32768)


def test_managed_wav_of_sample_vectors(tmp_dir):
    vectors = [np.full(4, 0.25), np.full(4, -0.25), np.full(2, 0.5)]
    signals = [OutputSignal.NOOP, OutputSignal.FLUSH, OutputSignal.NOOP]
    stream = wb.list_input([Managed(s, i, v) for i, (s, v) in enumerate(zip(signals, vectors))],
                           element_type=Managed)

    run_output(stream.to_managed_wav(os.path.join(tmp_dir, "v.wav")), 8000)

    assert files(tmp_dir) == ["v-1.wav", "v.wav"]
    assert sf.read(os.path.join(tmp_dir, "v.wav"))[0].tolist() == [0.25] * 4
    assert sf.read(os.path.join(tmp_dir, "v-1.wav"))[0].tolist() == [-0.25] * 4 + [0.5] * 2


def test_close_output_ends_writing(tmp_dir):
    elements = [Managed(OutputSignal.NOOP, None, 0.5), Managed(OutputSignal.CLOSE_OUTPUT, None, 0.25),
                Managed(OutputSignal.NOOP, None, 1.0)]
    output = wb.list_input(elements, element_type=Managed).to_managed_wav(os.path.join(tmp_dir, "c.wav"))

    writer = output.writer(8000)
    assert writer.write() is False
    assert writer.write() is False
    writer.close()

    assert sf.read(os.path.join(tmp_dir, "c.wav"))[0].tolist() == [0.5, 0.25]


def test_close_gate_first_writes_nothing(tmp_dir):
    elements = [Managed(OutputSignal.CLOSE_GATE, None, 0.5), Managed(OutputSignal.NOOP, None, 0.25)]

    run_output(wb.list_input(elements, element_type=Managed).to_managed_wav(os.path.join(tmp_dir, "g.wav")), 8000)

    assert files(tmp_dir) == []


def test_flush_on_empty_file_keeps_argument(tmp_dir):
    elements = [Managed(OutputSignal.FLUSH, "x", 0.5), Managed(OutputSignal.NOOP, None, 0.25)]

    run_output(wb.list_input(elements, element_type=Managed).to_managed_wav(os.path.join(tmp_dir, "f.wav")), 8000)

    assert files(tmp_dir) == ["f-x.wav"]


def test_abort_keeps_committed_files_only(tmp_dir):
    elements = [Managed(OutputSignal.NOOP, None, 0.5), Managed(OutputSignal.FLUSH, 1, 0.25),
                Managed(OutputSignal.NOOP, None, 0.125)]
    output = wb.list_input(elements, element_type=Managed).to_managed_wav(os.path.join(tmp_dir, "a.wav"))

    writer = output.writer(8000)
    writer.write()
    writer.abort()

    assert os.listdir(tmp_dir) == ["a.wav"]


@pytest.mark.parametrize("block_size", BLOCK_SIZES)
def test_managed_csv_continues_row_index(tmp_dir, block_size):
    values = np.arange(10) / 10
    signals = {1: (OutputSignal.CLOSE_GATE, None), 2: (OutputSignal.OPEN_GATE, "b")}
    output = managed_stream(values, signals, chunk=3).to_managed_csv(os.path.join(tmp_dir, "rows.csv"))

    run_output(output, 1000, block_size)

    assert files(tmp_dir) == ["rows-b.csv", "rows.csv"]
    with open(os.path.join(tmp_dir, "rows.csv"), encoding="utf-8") as file:
        assert file.read() == "time ms,value\n0,0.0000000000\n1,0.1000000000\n2,0.2000000000\n"
    with open(os.path.join(tmp_dir, "rows-b.csv"), encoding="utf-8") as file:
        lines = file.read().splitlines()
    # Rows 3..5 were skipped while the gate was closed, but still count.
    assert lines[0] == "time ms,value"
    assert lines[1:] == [f"{i},{i / 10:.10f}" for i in range(6, 10)]


def test_managed_csv_with_serializer(tmp_dir):
    elements = [Managed(OutputSignal.NOOP, None, "a"), Managed(OutputSignal.FLUSH, 2, "b")]
    output = wb.list_input(elements, element_type=Managed).to_managed_csv(
        os.path.join(tmp_dir, "s.csv"), header=["index", "letter"],
        serializer=lambda index, rate, payload: [str(index), payload])

    run_output(output, 1000)

    with open(os.path.join(tmp_dir, "s-2.csv"), encoding="utf-8") as file:
        assert file.read() == "index,letter\n1,b\n"


def test_managed_outputs_need_managed_stream(tmp_dir):
    with pytest.raises(wb.InvalidParameterError, match="Managed"):
        wb.sine(1).to_managed_wav(os.path.join(tmp_dir, "x.wav"))
    with pytest.raises(wb.InvalidParameterError, match="Managed"):
        wb.sine(1).to_managed_csv(os.path.join(tmp_dir, "x.csv"))


def test_managed_element_measure_and_signal_validation():
    assert wb.measure(Managed(OutputSignal.NOOP, None, np.ones(5))) == 5
    assert wb.with_output_signal(1.0, OutputSignal.FLUSH, 3) == Managed(1, 3, 1.0)
    with pytest.raises(wb.InvalidParameterError, match="output signal"):
        Managed(9, None, 1.0)
