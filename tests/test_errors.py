"""Bad input: missing, non-audio and truncated files, invalid lengths and units, rate mismatches."""

from __future__ import annotations

import io
import os
import pickle

import numpy as np
import pytest
import soundfile as sf

import wavebeans_nb as wb
from conftest import collect, run_output

pytestmark = pytest.mark.timeout(60)


# -- the hierarchy -----------------------------------------------------------------------


@pytest.mark.parametrize("error, builtin", [
    (wb.InvalidParameterError, ValueError),
    (wb.SampleRateMismatchError, ValueError),
    (wb.AudioFileError, OSError),
    (wb.AudioFormatError, ValueError),
    (wb.OutputError, OSError),
    (wb.ExecutionError, RuntimeError),
    (wb.JobCancelledError, wb.ExecutionError),
])
def test_error_hierarchy(error, builtin):
    assert issubclass(error, wb.WaveBeansError)
    assert issubclass(error, builtin)


def test_execution_error_pickles_with_details():
    error = wb.ExecutionError("pod failed", bean="map(f)", pod="pod-1", remote_traceback="Traceback: x")

    copy = pickle.loads(pickle.dumps(error))

    assert type(copy) is wb.ExecutionError
    assert (copy.bean, copy.pod, copy.remote_traceback) == ("map(f)", "pod-1", "Traceback: x")
    assert "Original traceback:\nTraceback: x" in str(copy)


# -- audio files ---------------------------------------------------------------------------


def test_missing_file(tmp_dir):
    path = os.path.join(tmp_dir, "absent.wav")

    with pytest.raises(wb.AudioFileError, match="not found") as caught:
        wb.wave(path)
    assert path in str(caught.value)


def test_missing_memory_file():
    with pytest.raises(wb.AudioFileError, match="not found"):
        wb.wave("memory://nowhere/absent.wav")


def test_directory_instead_of_file(tmp_dir):
    with pytest.raises(wb.AudioFileError, match="is a directory"):
        wb.wave(tmp_dir)


def test_text_file_named_wav(tmp_dir):
    path = os.path.join(tmp_dir, "notes.wav")
    with open(path, "w") as file:
        file.write("these are notes, not audio\n" * 20)

    with pytest.raises(wb.AudioFormatError, match="not an audio file") as caught:
        wb.wave(path)
    assert "notes.wav" in str(caught.value)


def test_empty_file(tmp_dir):
    path = os.path.join(tmp_dir, "empty.wav")
    open(path, "wb").close()

    with pytest.raises((wb.AudioFormatError, wb.AudioFileError), match="empty.wav"):
        wb.wave(path)


def wav_bytes(frames=4000, subtype="PCM_16", format="WAV"):
    buffer = io.BytesIO()
    sf.write(buffer, np.sin(np.arange(frames) / 7.0) * 0.5, 8000, subtype=subtype, format=format)
    return buffer.getvalue()


def test_truncated_wav_data(tmp_dir):
    path = os.path.join(tmp_dir, "cut.wav")
    data = wav_bytes()
    with open(path, "wb") as file:
        file.write(data[: len(data) // 2])

    with pytest.raises(wb.AudioFileError, match="truncated") as caught:
        wb.wave(path)
    assert "cut.wav" in str(caught.value)


def test_truncated_wav_header(tmp_dir):
    path = os.path.join(tmp_dir, "header.wav")
    with open(path, "wb") as file:
        file.write(wav_bytes()[:30])

    with pytest.raises(wb.AudioFileError, match="corrupt or truncated"):
        wb.wave(path)


def test_truncated_flac_fails_while_reading(tmp_dir):
    path = os.path.join(tmp_dir, "cut.flac")
    data = wav_bytes(frames=20000, format="FLAC")
    with open(path, "wb") as file:
        file.write(data[: len(data) // 2])

    with pytest.raises(wb.AudioFileError, match="cut.flac"):
        stream = wb.wave(path)
        collect(stream, 8000, 1000)


def test_truncated_wav_in_overseer_fails_cleanly(tmp_dir):
    good = os.path.join(tmp_dir, "good.wav")
    with open(good, "wb") as file:
        file.write(wav_bytes())
    stream = wb.wave(good)
    with open(good, "wb") as file:  # the file is cut after the graph was built
        file.write(wav_bytes()[:1000])
    target = os.path.join(tmp_dir, "copy.wav")

    with wb.SingleThreadedOverseer(stream.to_wav(target)) as overseer:
        result = overseer.eval(8000)[0].result(timeout=30)

    assert result.finished is False
    assert isinstance(result.exception, wb.AudioFileError)
    assert not os.path.exists(target)


def test_streamed_wav_with_unknown_size_is_read(tmp_dir):
    # Writers to pipes put 0xFFFFFFFF in the data size; that is not truncation.
    data = bytearray(wav_bytes(frames=100))
    data_chunk = data.index(b"data")
    data[data_chunk + 4: data_chunk + 8] = (0xFFFFFFFF).to_bytes(4, "little")
    path = os.path.join(tmp_dir, "streamed.wav")
    with open(path, "wb") as file:
        file.write(bytes(data))

    assert len(collect(wb.wave(path), 8000)) == 100


# -- lengths, units, rates --------------------------------------------------------------


def test_negative_trim():
    with pytest.raises(wb.InvalidParameterError, match="negative"):
        wb.sine(1).trim(-5)


def test_negative_trim_string():
    with pytest.raises(wb.InvalidParameterError, match="negative"):
        wb.sine(1).trim("-1.5s")


def test_unknown_trim_unit():
    with pytest.raises(wb.InvalidParameterError, match="unknown time unit 'parsec'"):
        wb.sine(1).trim(5, unit="parsec")


def test_invalid_time_string():
    with pytest.raises(wb.InvalidParameterError, match="invalid time '1.5 fortnights'"):
        wb.sine(1).trim("1.5 fortnights")


def test_wave_at_other_rate_raises_in_writer(arctic_a0007, tmp_dir):
    output = wb.wave(arctic_a0007, resample=False).to_wav(os.path.join(tmp_dir, "x.wav"))

    with pytest.raises(wb.SampleRateMismatchError, match="16000 Hz") as caught:
        output.writer(8000)
    assert "resample" in str(caught.value)
    assert os.listdir(tmp_dir) == []


def test_wave_at_other_rate_raises_in_stream(arctic_a0007):
    with pytest.raises(wb.SampleRateMismatchError, match="8000 Hz"):
        collect(wb.wave(arctic_a0007, resample=False), 8000)


def test_wave_at_other_rate_through_operations(arctic_a0007):
    output = (wb.wave(arctic_a0007, resample=False) * 0.5 + wb.sine(440, 0.1)).trim(100).to_dev_null()

    with pytest.raises(wb.SampleRateMismatchError):
        run_output(output, 8000)


def test_invalid_evaluation_rate():
    with pytest.raises(wb.InvalidParameterError, match="sample rate 'fast'"):
        collect(wb.sine(1).trim(1), "fast")


def test_fifo_is_rejected_without_blocking(tmp_dir):
    path = os.path.join(tmp_dir, "pipe.wav")
    os.mkfifo(path)

    with pytest.raises(wb.AudioFileError, match="not a regular file"):
        wb.wave(path)


def test_device_is_rejected():
    with pytest.raises(wb.AudioFileError, match="not a regular file"):
        wb.wave("/dev/zero")
