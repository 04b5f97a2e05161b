"""Outputs commit atomically: a failed or cancelled job never leaves a partial file at the target.

Every target is first filled with known bytes. A job then fails midway (a map raises once it
reaches sample N) or is cancelled while it runs. Afterwards the old bytes must be intact and no
temporary ``*.partial`` file may remain, in the single-threaded overseer and the multi-threaded
one with 1 and 3 partitions.
"""

from __future__ import annotations

import os
import threading
import time
from typing import Callable

import numpy as np
import pytest
import soundfile as sf

import wavebeans_nb as wb
from wavebeans_nb import Managed, OutputSignal

pytestmark = pytest.mark.timeout(60)

RATE = 8000
#: Samples in the source; sample i has the value i / SCALE, so values encode their index exactly.
LENGTH = 6000
SCALE = 8192.0
#: The failing map raises on the first block that holds a sample with an index at or above this.
FAIL_AT = 3000
MODES = ["single", "multi-1", "multi-3"]
OLD_BYTES = b"previous content that a failed job must keep\n"


class FailAfter:
    """A block function that raises on the first block holding a sample index >= ``index``."""

    def __init__(self, index: int) -> None:
        self.index = index

    def __call__(self, block: np.ndarray) -> np.ndarray:
        if len(block) and np.max(block) * SCALE >= self.index:
            raise RuntimeError(f"injected failure at sample {self.index}")
        return block


class SignalStarted:
    """A block function that passes blocks through and sets ``event`` when the first block arrives."""

    def __init__(self, event: threading.Event) -> None:
        self.event = event

    def __call__(self, block: np.ndarray) -> np.ndarray:
        self.event.set()
        return block


def indexed_source(length: int = LENGTH) -> wb.Stream:
    return wb.list_input(np.arange(length) / SCALE)


def failing_source() -> wb.Stream:
    return indexed_source().map_blocks(FailAfter(FAIL_AT))


def managed_element(value: float) -> Managed:
    """Start a new segment every 1000 samples, named by the segment number."""
    index = int(round(value * SCALE))
    if index and index % 1000 == 0:
        return Managed(OutputSignal.FLUSH, index // 1000, value)
    return Managed(OutputSignal.NOOP, None, value)


def to_managed(stream: wb.Stream) -> wb.Stream:
    return stream.map(managed_element, element_type=Managed)


#: Output makers: name -> (target file name, function from stream and path to output).
OUTPUTS: dict[str, tuple[str, Callable[[wb.Stream, str], wb.Output]]] = {
    "to_wav": ("out.wav", lambda stream, path: stream.to_wav(path)),
    "to_wav_float": ("out.wav", lambda stream, path: stream.to_wav(path, bit_depth="float")),
    "to_csv": ("out.csv", lambda stream, path: stream.to_csv(path)),
    "magnitude_to_csv": ("magnitude.csv", lambda stream, path: stream.window(64).fft(64).magnitude_to_csv(path)),
    "phase_to_csv": ("phase.csv", lambda stream, path: stream.window(64, 32).fft(64).phase_to_csv(path)),
    "to_managed_wav": ("managed.wav", lambda stream, path: to_managed(stream).to_managed_wav(path)),
    "to_managed_csv": ("managed.csv", lambda stream, path: to_managed(stream).to_managed_csv(path)),
}


#: Outputs that write one file, committed only at the end of the stream.
SINGLE_FILE_OUTPUTS = sorted(kind for kind in OUTPUTS if not kind.startswith("to_managed"))


def make_overseer(outputs: list[wb.Output], mode: str, block_size: int = 100):
    if mode == "single":
        return wb.SingleThreadedOverseer(outputs, block_size=block_size)
    config = wb.ExecutionConfig(chunk_size=64, block_size=block_size)
    return wb.MultiThreadedOverseer(outputs, threads=2, partitions=int(mode.split("-")[1]), config=config)


def run(outputs: list[wb.Output], mode: str) -> list[wb.ExecutionResult]:
    with make_overseer(outputs, mode) as overseer:
        return [future.result(timeout=30) for future in overseer.eval(RATE)]


def write_old(path: str) -> None:
    with open(path, "wb") as file:
        file.write(OLD_BYTES)


def read_bytes(path: str) -> bytes:
    with open(path, "rb") as file:
        return file.read()


def partial_files(directory: str) -> list[str]:
    return [name for name in os.listdir(directory) if name.endswith(".partial")]


# -- a job that fails midway --------------------------------------------------------------


@pytest.mark.parametrize("kind", SINGLE_FILE_OUTPUTS)
@pytest.mark.parametrize("mode", MODES)
def test_failed_job_keeps_previous_file(tmp_dir, kind, mode):
    name, make = OUTPUTS[kind]
    target = os.path.join(tmp_dir, name)
    write_old(target)

    [result] = run([make(failing_source(), target)], mode)

    assert result.finished is False
    assert f"injected failure at sample {FAIL_AT}" in str(result.exception)
    assert read_bytes(target) == OLD_BYTES, "the previous file must stay untouched"
    assert partial_files(tmp_dir) == []


@pytest.mark.parametrize("kind", SINGLE_FILE_OUTPUTS)
@pytest.mark.parametrize("mode", MODES)
def test_failed_job_creates_no_file(tmp_dir, kind, mode):
    name, make = OUTPUTS[kind]

    [result] = run([make(failing_source(), os.path.join(tmp_dir, name))], mode)

    assert result.finished is False
    assert os.listdir(tmp_dir) == []


@pytest.mark.parametrize("kind", ["to_managed_wav", "to_managed_csv"])
@pytest.mark.parametrize("mode", MODES)
def test_failed_managed_job_keeps_unfinished_segment(tmp_dir, kind, mode):
    # Segments are committed one by one: the segment being written when the job fails (number
    # FAIL_AT // 1000) and later ones keep their previous files; earlier ones may be committed.
    name, make = OUTPUTS[kind]
    root, extension = os.path.splitext(name)
    unfinished = [os.path.join(tmp_dir, f"{root}-{number}{extension}") for number in range(FAIL_AT // 1000, 7)]
    for path in unfinished:
        write_old(path)

    [result] = run([make(failing_source(), os.path.join(tmp_dir, name))], mode)

    assert result.finished is False
    for path in unfinished:
        assert read_bytes(path) == OLD_BYTES, f"{os.path.basename(path)} must stay untouched"
    assert partial_files(tmp_dir) == []


@pytest.mark.parametrize("mode", MODES)
def test_committed_managed_segments_are_complete(tmp_dir, mode):
    target = os.path.join(tmp_dir, "seg.wav")

    [result] = run([to_managed(failing_source()).to_managed_wav(target, bit_depth="float")], mode)

    assert result.finished is False
    for name in os.listdir(tmp_dir):
        number = 0 if name == "seg.wav" else int(name[len("seg-"):-len(".wav")])
        data, rate = sf.read(os.path.join(tmp_dir, name), dtype="float64")
        expected = np.arange(number * 1000, (number + 1) * 1000) / SCALE
        assert rate == RATE
        assert np.array_equal(data, expected), f"{name} is not a complete segment"
        assert number < FAIL_AT // 1000


@pytest.mark.parametrize("mode", MODES)
def test_one_failing_output_of_several(tmp_dir, mode):
    source = indexed_source()
    good_wav = os.path.join(tmp_dir, "good.wav")
    good_csv = os.path.join(tmp_dir, "good.csv")
    bad_wav = os.path.join(tmp_dir, "bad.wav")
    bad_csv = os.path.join(tmp_dir, "bad.csv")
    write_old(good_wav)
    write_old(bad_wav)
    failing = source.map_blocks(FailAfter(FAIL_AT))
    outputs = [source.to_wav(good_wav), failing.to_wav(bad_wav), source.to_csv(good_csv), failing.to_csv(bad_csv)]

    results = run(outputs, mode)

    assert [result.finished for result in results] == [True, False, True, False]
    data, rate = sf.read(good_wav, dtype="int16")
    assert rate == RATE
    assert np.array_equal(data, np.arange(LENGTH) * 4), "16-bit codes of i / 8192 are 4 * i"
    rows = np.loadtxt(good_csv, delimiter=",", skiprows=1)
    assert rows.shape == (LENGTH, 2)
    np.testing.assert_allclose(rows[:, 1], np.arange(LENGTH) / SCALE, rtol=0, atol=1e-10)  # 10 decimals
    assert read_bytes(bad_wav) == OLD_BYTES
    assert not os.path.exists(bad_csv)
    assert partial_files(tmp_dir) == []


@pytest.mark.parametrize("mode", MODES)
def test_successful_job_replaces_previous_file(tmp_dir, mode):
    target = os.path.join(tmp_dir, "out.wav")
    write_old(target)

    [result] = run([indexed_source().to_wav(target, bit_depth=24)], mode)

    assert result.finished is True
    data, _ = sf.read(target, dtype="int32")
    assert np.array_equal(data >> 8, np.arange(LENGTH) * 1024), "24-bit codes of i / 8192 are 1024 * i"
    assert os.listdir(tmp_dir) == ["out.wav"]


# -- a cancelled job ------------------------------------------------------------------------------


def wait_for(event: threading.Event) -> None:
    assert event.wait(timeout=20), "the job did not start"


@pytest.mark.parametrize("kind", sorted(OUTPUTS))
@pytest.mark.parametrize("mode", MODES)
def test_cancelled_job_keeps_previous_file(tmp_dir, kind, mode):
    name, make = OUTPUTS[kind]
    target = os.path.join(tmp_dir, name)
    write_old(target)
    started = threading.Event()
    # An endless stream, so the job can only end by cancellation.
    stream = (wb.sine(50.0, 0.5) * 1.0).map_blocks(SignalStarted(started))

    with make_overseer([make(stream, target)], mode) as overseer:
        [future] = overseer.eval(RATE)
        wait_for(started)
        overseer.cancel()
        result = future.result(timeout=30)

    assert result.finished is False
    assert isinstance(result.exception, wb.JobCancelledError)
    assert read_bytes(target) == OLD_BYTES
    assert partial_files(tmp_dir) == []


@pytest.mark.parametrize("mode", MODES)
def test_closed_overseer_aborts_running_outputs(tmp_dir, mode):
    targets = [os.path.join(tmp_dir, name) for name in ("a.wav", "b.csv")]
    write_old(targets[0])
    started = threading.Event()
    stream = wb.sine(50.0).map_blocks(SignalStarted(started))

    overseer = make_overseer([stream.to_wav(targets[0]), stream.to_csv(targets[1])], mode)
    futures = overseer.eval(RATE)
    wait_for(started)
    overseer.close()

    for future in futures:
        result = future.result(timeout=30)
        assert result.finished is False
        assert isinstance(result.exception, wb.JobCancelledError)
    assert read_bytes(targets[0]) == OLD_BYTES
    assert os.listdir(tmp_dir) == ["a.wav"]


@pytest.mark.parametrize("mode", MODES)
def test_cancel_before_start_writes_nothing(tmp_dir, mode):
    target = os.path.join(tmp_dir, "late.wav")
    first_started = threading.Event()
    slow = wb.sine(50.0).map_blocks(SignalStarted(first_started)).to_dev_null()
    # The single-threaded overseer runs outputs in turn, so the second one has not started.
    outputs = [slow, indexed_source().to_wav(target)]

    with make_overseer(outputs, mode) as overseer:
        futures = overseer.eval(RATE)
        wait_for(first_started)
        overseer.cancel()
        results = [future.result(timeout=30) for future in futures]

    assert results[0].finished is False
    assert isinstance(results[0].exception, wb.JobCancelledError)
    if mode == "single":
        assert results[1].finished is False
    if not results[1].finished:
        assert not os.path.exists(target)
    assert partial_files(tmp_dir) == []


def test_missing_target_directory_fails_cleanly(tmp_dir):
    target = os.path.join(tmp_dir, "absent", "out.wav")

    for mode in MODES:
        [result] = run([indexed_source().to_wav(target)], mode)
        assert result.finished is False
        assert isinstance(result.exception, wb.WaveBeansError)
        assert "does not exist" in str(result.exception)
    assert os.listdir(tmp_dir) == []


def test_writer_abort_after_partial_write(tmp_dir):
    # Driving a writer by hand: abort() after some blocks leaves the old file and no temporary file.
    target = os.path.join(tmp_dir, "manual.csv")
    write_old(target)
    writer = indexed_source().to_csv(target).writer(RATE, 10)

    for _ in range(5):
        assert writer.write()
    assert len(partial_files(tmp_dir)) == 1, "the writer works on a temporary file"
    writer.abort()
    writer.abort()

    assert read_bytes(target) == OLD_BYTES
    assert partial_files(tmp_dir) == []
    time.sleep(0)  # nothing is left running in the background


@pytest.mark.parametrize("kind", ["to_wav", "to_csv", "magnitude_to_csv"])
@pytest.mark.parametrize("mode", MODES)
def test_commit_onto_directory_fails_cleanly(tmp_dir, kind, mode):
    # The final rename fails because a directory has the target's name.
    name, make = OUTPUTS[kind]
    target = os.path.join(tmp_dir, name)
    os.mkdir(target)

    [result] = run([make(indexed_source(), target)], mode)

    assert result.finished is False
    assert isinstance(result.exception, wb.WaveBeansError)
    assert name in str(result.exception)
    assert os.listdir(tmp_dir) == [name]
    assert os.listdir(target) == []
