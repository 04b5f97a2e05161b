"""Function output, /dev/null output, the writer contract and atomic file commits."""

from __future__ import annotations

import os

import fsspec
import pytest
import soundfile as sf

import wavebeans_nb as wb
from conftest import BLOCK_SIZES, run_output
from wavebeans_nb import WritePhase
from wavebeans_nb.beans.outputs.base import AtomicFile


class Recorder:
    """Output function that records its calls and stops when ``stop_at(index)`` is true."""

    def __init__(self, stop_at=lambda index: False):
        self.calls = []
        self.stop_at = stop_at

    def __call__(self, argument):
        self.calls.append((argument.phase, argument.sample_index, argument.sample))
        if argument.phase is WritePhase.WRITE:
            return not self.stop_at(argument.sample_index)
        return True


# -- out(fn) -------------------------------------------------------------------------------


@pytest.mark.parametrize("block_size", BLOCK_SIZES)
def test_out_calls_write_end_close(block_size):
    recorder = Recorder()

    written = run_output(wb.list_input(list(range(100))).out(recorder), 1000, block_size)

    assert len(recorder.calls) == 102
    assert recorder.calls[:100] == [(WritePhase.WRITE, i, float(i)) for i in range(100)]
    assert recorder.calls[100] == (WritePhase.END, 100, None)
    assert recorder.calls[101] == (WritePhase.CLOSE, 100, None)
    assert written == 100


@pytest.mark.parametrize("block_size", BLOCK_SIZES)
def test_out_false_stops_without_end(block_size):
    recorder = Recorder(stop_at=lambda index: index >= 49)

    written = run_output(wb.list_input(list(range(100))).out(recorder), 1000, block_size)

    phases = [phase for phase, _, _ in recorder.calls]
    assert phases == [WritePhase.WRITE] * 50 + [WritePhase.CLOSE]
    assert [index for _, index, _ in recorder.calls[:50]] == list(range(50))
    assert written == 49


def test_out_false_at_once():
    recorder = Recorder(stop_at=lambda index: True)

    written = run_output(wb.list_input(list(range(100))).out(recorder), 1000)

    assert recorder.calls == [(WritePhase.WRITE, 0, 0.0), (WritePhase.CLOSE, 0, None)]
    assert written == 0


def test_out_none_result_continues():
    seen = []

    run_output(wb.list_input([1.0, 2.0]).out(lambda argument: seen.append(argument.phase)), 10)

    assert seen == [WritePhase.WRITE, WritePhase.WRITE, WritePhase.END, WritePhase.CLOSE]


def test_out_argument_fields():
    arguments = []

    run_output(wb.list_input([0.25]).out(arguments.append), 44100)

    assert arguments[0] == wb.WriteFunctionArgument(0, 44100.0, 0.25, WritePhase.WRITE)


def test_out_exception_fails_run_and_still_closes():
    phases = []

    def fail_on_third(argument):
        phases.append(argument.phase)
        if argument.phase is WritePhase.WRITE and argument.sample_index == 2:
            raise KeyError("third element")
        return True

    output = wb.list_input([1.0, 2.0, 3.0, 4.0]).out(fail_on_third)
    with wb.SingleThreadedOverseer(output) as overseer:
        result = overseer.eval(10)[0].result(timeout=30)

    assert result.finished is False
    assert isinstance(result.exception, KeyError)
    assert phases == [WritePhase.WRITE] * 3 + [WritePhase.CLOSE]


def test_out_rejects_non_callable():
    with pytest.raises(wb.InvalidParameterError, match="not callable"):
        wb.sine(1).out("print")


# -- /dev/null and the writer contract ---------------------------------------------------


def test_dev_null_consumes_everything():
    assert run_output(wb.sine(1).trim(2500).to_dev_null(), 1000, 100) == 2500


def test_write_pulls_one_block():
    pulled = []
    stream = wb.list_input([float(i) for i in range(10)]).map_blocks(lambda block: pulled.append(len(block)) or block)
    writer = stream.to_dev_null().writer(1000, 3)

    assert writer.write() is True
    assert pulled == [3]
    assert writer.elements_written == 3
    assert writer.write() is True
    assert pulled == [3, 3]
    while writer.write():
        pass
    writer.close()
    assert pulled == [3, 3, 3, 1]
    assert writer.elements_written == 10


def test_writer_after_close_writes_nothing():
    writer = wb.list_input([1.0]).to_dev_null().writer(10)
    writer.close()

    assert writer.write() is False


# -- atomic commits ----------------------------------------------------------------------


def failing_stream(fail_at):
    """A 1 s, 8 kHz sine whose map raises once it reaches sample index ``fail_at``."""
    def check(block):
        check.seen += len(block)
        if check.seen > fail_at:
            raise RuntimeError("map failed in the middle")
        return block

    check.seen = 0
    return wb.sine(440, 0.5).trim(1000).map_blocks(check)


def leftovers(directory):
    return [name for name in os.listdir(directory) if name.endswith(".partial")]


@pytest.mark.parametrize("make_output", [
    lambda stream, path: stream.to_wav(path),
    lambda stream, path: stream.to_csv(path),
], ids=["wav", "csv"])
def test_failed_run_leaves_no_file(tmp_dir, make_output):
    target = os.path.join(tmp_dir, "result")

    with wb.SingleThreadedOverseer(make_output(failing_stream(4000), target), block_size=1000) as overseer:
        result = overseer.eval(8000)[0].result(timeout=30)

    assert result.finished is False
    assert isinstance(result.exception, RuntimeError)
    assert not os.path.exists(target)
    assert leftovers(tmp_dir) == []


def test_failed_run_keeps_previous_wav(tmp_dir, arctic_a0009):
    target = os.path.join(tmp_dir, "speech.wav")
    run_output(wb.wave(arctic_a0009).to_wav(target), 16000)
    with open(target, "rb") as file:
        before = file.read()

    with wb.SingleThreadedOverseer(failing_stream(4000).to_wav(target), block_size=1000) as overseer:
        assert overseer.eval(8000)[0].result(timeout=30).finished is False

    with open(target, "rb") as file:
        assert file.read() == before
    assert leftovers(tmp_dir) == []


def test_successful_run_replaces_previous_file(tmp_dir):
    target = os.path.join(tmp_dir, "replace.wav")
    run_output(wb.sine(100).trim(100).to_wav(target), 8000)

    run_output(wb.sine(100).trim(50).to_wav(target), 8000)

    assert sf.info(target).frames == 400
    assert leftovers(tmp_dir) == []


def test_atomic_file_commit_and_discard(tmp_dir):
    target = os.path.join(tmp_dir, "plain.txt")
    first = AtomicFile(target, "w")
    first.file.write("first")
    assert not os.path.exists(target)
    first.commit()

    second = AtomicFile(target, "w")
    second.file.write("second")
    second.discard()

    with open(target) as file:
        assert file.read() == "first"
    assert leftovers(tmp_dir) == []


def test_atomic_file_memory_target():
    target = AtomicFile("memory://atomic/out.bin", "wb")
    target.file.write(b"abc")
    target.commit()

    with fsspec.open("memory://atomic/out.bin", "rb") as file:
        assert file.read() == b"abc"


def test_atomic_file_missing_directory(tmp_dir):
    with pytest.raises(wb.OutputError, match="does not exist"):
        AtomicFile(os.path.join(tmp_dir, "no", "such", "dir.wav"))
