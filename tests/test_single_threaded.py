"""The single-threaded overseer: futures, results, context manager, cancellation, errors."""

from __future__ import annotations

import os
import threading
from concurrent.futures import Future

import numpy as np
import pytest
import soundfile as sf

import wavebeans_nb as wb
from wavebeans_nb.execution.single_threaded import check_outputs

TIMEOUT = 30


def test_eval_returns_one_future_per_output(tmp_dir):
    wav = os.path.join(tmp_dir, "a.wav")
    csv = os.path.join(tmp_dir, "a.csv")
    stream = wb.sine(440).trim(100)
    outputs = [stream.to_wav(wav), stream.to_csv(csv), stream.to_dev_null()]

    with wb.SingleThreadedOverseer(outputs) as overseer:
        futures = overseer.eval(8000)
        results = [future.result(timeout=TIMEOUT) for future in futures]

    assert len(futures) == 3
    assert all(isinstance(future, Future) for future in futures)
    assert results == [wb.ExecutionResult(True, None)] * 3
    assert sf.info(wav).frames == 800
    with open(csv) as file:
        assert len(file.read().splitlines()) == 801


def test_single_output_is_accepted():
    with wb.SingleThreadedOverseer(wb.sine(1).trim(10).to_dev_null()) as overseer:
        assert overseer.eval(100)[0].result(timeout=TIMEOUT).finished is True


def test_outputs_run_in_order_on_one_thread():
    order = []
    threads = set()

    def record(name):
        def fn(argument):
            order.append(name)
            threads.add(threading.current_thread().name)
        return fn

    outputs = [wb.list_input([1.0, 2.0]).out(record("first")), wb.list_input([3.0]).out(record("second"))]
    with wb.SingleThreadedOverseer(outputs) as overseer:
        for future in overseer.eval(10):
            future.result(timeout=TIMEOUT)

    assert order == ["first"] * 4 + ["second"] * 3
    assert len(threads) == 1


def test_block_size_does_not_change_result(tmp_dir):
    contents = set()
    for block_size in (1, 3, 1000, None):
        target = os.path.join(tmp_dir, f"mix-{block_size}.wav")
        stream = (wb.sine(300, 0.3) + wb.sine(50, 0.2)).trim(25)
        with wb.SingleThreadedOverseer(stream.to_wav(target), block_size=block_size) as overseer:
            assert overseer.eval(8000)[0].result(timeout=TIMEOUT).finished
        with open(target, "rb") as file:
            contents.add(file.read())

    assert len(contents) == 1


def test_error_result_carries_original_exception():
    error = ZeroDivisionError("boom in map")

    def explode(x):
        raise error

    ok = wb.list_input([1.0]).to_dev_null()
    bad = wb.list_input([1.0]).map(explode).to_dev_null()
    with wb.SingleThreadedOverseer([bad, ok]) as overseer:
        bad_result, ok_result = [future.result(timeout=TIMEOUT) for future in overseer.eval(10)]

    assert bad_result.finished is False
    assert bad_result.exception is error
    assert ok_result.finished is True


def test_rate_mismatch_is_an_error_result(arctic_a0007):
    output = wb.wave(arctic_a0007, resample=False).to_dev_null()

    with wb.SingleThreadedOverseer(output) as overseer:
        result = overseer.eval(8000)[0].result(timeout=TIMEOUT)

    assert result.finished is False
    assert isinstance(result.exception, wb.SampleRateMismatchError)
    assert "16000 Hz" in str(result.exception)


def test_cancel_stops_infinite_output():
    started = threading.Event()

    def signal(block):
        started.set()
        return block

    output = wb.sine(440).map_blocks(signal).to_dev_null()
    overseer = wb.SingleThreadedOverseer(output, block_size=256)
    try:
        future = overseer.eval(8000)[0]
        assert started.wait(TIMEOUT)
        overseer.cancel()
        result = future.result(timeout=TIMEOUT)
    finally:
        overseer.close()

    assert result.finished is False
    assert isinstance(result.exception, wb.JobCancelledError)


def test_cancel_before_start_cancels_queued_outputs():
    release = threading.Event()
    started = threading.Event()

    def wait_for_release(block):
        started.set()
        release.wait(TIMEOUT)
        return block

    first = wb.list_input([1.0]).map_blocks(wait_for_release).to_dev_null()
    second = wb.list_input([1.0]).to_dev_null()
    with wb.SingleThreadedOverseer([first, second]) as overseer:
        futures = overseer.eval(10)
        assert started.wait(TIMEOUT)
        overseer.cancel()
        release.set()
        second_result = futures[1].result(timeout=TIMEOUT)
        futures[0].result(timeout=TIMEOUT)

    assert second_result.finished is False
    assert isinstance(second_result.exception, wb.JobCancelledError)


def test_cancelled_wav_keeps_no_partial_file(tmp_dir):
    target = os.path.join(tmp_dir, "endless.wav")
    started = threading.Event()

    def signal(block):
        started.set()
        return block

    overseer = wb.SingleThreadedOverseer(wb.sine(440).map_blocks(signal).to_wav(target), block_size=512)
    try:
        future = overseer.eval(8000)[0]
        assert started.wait(TIMEOUT)
        overseer.cancel()
        assert future.result(timeout=TIMEOUT).finished is False
    finally:
        overseer.close()

    assert os.listdir(tmp_dir) == []


def test_close_waits_and_rejects_new_eval():
    overseer = wb.SingleThreadedOverseer(wb.sine(1).trim(10).to_dev_null())
    with overseer:
        future = overseer.eval(100)[0]

    assert future.done()
    with pytest.raises(wb.InvalidParameterError, match="closed"):
        overseer.eval(100)


def test_close_twice_is_harmless():
    overseer = wb.SingleThreadedOverseer(wb.sine(1).trim(10).to_dev_null())
    overseer.close()
    overseer.close()


def test_eval_twice_reruns_outputs():
    seen = []
    output = wb.list_input([1.0, 2.0]).out(lambda argument: seen.append(argument.sample))

    with wb.SingleThreadedOverseer(output) as overseer:
        overseer.eval(10)[0].result(timeout=TIMEOUT)
        overseer.eval(10)[0].result(timeout=TIMEOUT)

    assert seen == [1.0, 2.0, None, None] * 2


def test_eval_rejects_invalid_rate():
    with wb.SingleThreadedOverseer(wb.sine(1).trim(1).to_dev_null()) as overseer:
        with pytest.raises(wb.InvalidParameterError, match="sample rate"):
            overseer.eval(-8000)


def test_job_id_is_set():
    with wb.SingleThreadedOverseer(wb.sine(1).trim(1).to_dev_null()) as overseer:
        overseer.eval(100)[0].result(timeout=TIMEOUT)
        assert overseer.job_id


@pytest.mark.parametrize("outputs, message", [
    ([], "no outputs given"),
    ([wb.sine(1)], "is not an output"),
    (42, "not an output or a list of outputs"),
])
def test_check_outputs_rejects(outputs, message):
    with pytest.raises(wb.InvalidParameterError, match=message):
        check_outputs(outputs)


def test_invalid_block_size():
    with pytest.raises(wb.InvalidParameterError, match="block size 0"):
        wb.SingleThreadedOverseer(wb.sine(1).to_dev_null(), block_size=0)


def test_result_values_match_numpy(tmp_dir):
    target = os.path.join(tmp_dir, "gain.wav")
    x = np.linspace(-0.5, 0.5, 1001)

    with wb.SingleThreadedOverseer((wb.list_input(x) * 0.5).to_wav(target, bit_depth="float")) as overseer:
        assert overseer.eval(1000)[0].result(timeout=TIMEOUT).finished

    np.testing.assert_array_equal(sf.read(target)[0], (x * 0.5).astype(np.float32))
