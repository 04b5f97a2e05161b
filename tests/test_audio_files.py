"""Broken and unusual audio files, generated here, read directly and through every in-process overseer.

Every file is either read with exactly the samples libsndfile gives (``soundfile.read`` of the
same file as float64 is the reference) or rejected with an AudioFileError or AudioFormatError
that names the file and the problem. Files that break after ``wave()`` read their header must
fail the output's result the same way, never hang and never leave a partial output.
"""

from __future__ import annotations

import io
import os
import re
import struct
from typing import Callable

import numpy as np
import pytest
import soundfile as sf

import wavebeans_nb as wb
from conftest import BLOCK_SIZES, collect
from execution_support import as_samples, collect as collect_output

pytestmark = pytest.mark.timeout(60)

RATE = 8000
#: The in-process ways of evaluating a stream: direct iteration and the overseers.
MODES = ["stream", "single", "multi-1", "multi-3"]


# -- file builders -----------------------------------------------------------------------


def tone(frames: int, channels: int = 1) -> np.ndarray:
    """Return a deterministic test signal in [-0.6, 0.6], one column per channel when channels > 1."""
    columns = np.sin(np.arange(frames)[:, None] / (5.0 + np.arange(channels)[None, :])) * 0.6
    return columns[:, 0] if channels == 1 else columns


def soundfile_bytes(data: np.ndarray, subtype: str = "PCM_16", format: str = "WAV",
                    endian: str = "FILE") -> bytes:
    """Encode ``data`` with libsndfile and return the file's bytes."""
    buffer = io.BytesIO()
    sf.write(buffer, data, RATE, subtype=subtype, format=format, endian=endian)
    return buffer.getvalue()


def riff_wave(format_tag: int, payload: bytes, *, channels: int = 1, bits: int = 16,
              riff_size: int | None = None, data_size: int | None = None, fmt_extra: bytes = b"") -> bytes:
    """Build a RIFF WAVE file by hand: a ``fmt `` chunk with ``format_tag`` and a ``data`` chunk.

    ``riff_size`` and ``data_size`` replace the true sizes in the header, to make it lie.
    """
    block_align = channels * max(bits, 8) // 8
    fmt = struct.pack("<HHIIHH", format_tag, channels, RATE, RATE * block_align, block_align, bits) + fmt_extra
    declared_data = len(payload) if data_size is None else data_size
    body = (b"WAVE" + b"fmt " + struct.pack("<I", len(fmt)) + fmt
            + b"data" + struct.pack("<I", declared_data) + payload)
    declared_riff = len(body) if riff_size is None else riff_size
    return b"RIFF" + struct.pack("<I", declared_riff) + body


def pcm16(frames: int) -> bytes:
    """Return little-endian 16-bit PCM codes of :func:`tone`."""
    return np.rint(tone(frames) * 32767).astype("<i2").tobytes()


def write_bytes(directory: str, name: str, data: bytes) -> str:
    path = os.path.join(directory, name)
    with open(path, "wb") as file:
        file.write(data)
    return path


#: Files libsndfile reads: name -> bytes. Each must read exactly as soundfile reads it.
READABLE: dict[str, Callable[[], bytes]] = {
    "riff-size-too-large.wav": lambda: riff_wave(1, pcm16(700), riff_size=10**6),
    "riff-size-too-small.wav": lambda: riff_wave(1, pcm16(700), riff_size=20),
    "zero-length-data.wav": lambda: riff_wave(1, b""),
    "odd-trailing-byte.wav": lambda: riff_wave(1, pcm16(700) + b"\x01"),
    "rifx-big-endian.wav": lambda: soundfile_bytes(tone(700), endian="BIG"),
    "rf64.wav": lambda: soundfile_bytes(tone(700), format="RF64"),
    "wavex-stereo.wav": lambda: soundfile_bytes(tone(700, 2), format="WAVEX"),
    "wavex-24-bit.wav": lambda: soundfile_bytes(tone(700), subtype="PCM_24", format="WAVEX"),
    "unsigned-8-bit.wav": lambda: soundfile_bytes(tone(700), subtype="PCM_U8"),
    "pcm-24-bit.wav": lambda: soundfile_bytes(tone(700), subtype="PCM_24"),
    "pcm-32-bit.wav": lambda: soundfile_bytes(tone(700), subtype="PCM_32"),
    "float-32-bit.wav": lambda: soundfile_bytes(tone(700) * 3.0, subtype="FLOAT"),
    "float-64-bit.wav": lambda: soundfile_bytes(tone(700) * 3.0, subtype="DOUBLE"),
    "one-sample.wav": lambda: soundfile_bytes(np.array([0.25])),
    **{f"{count}-channels.wav": (lambda count=count: soundfile_bytes(tone(300, count)))
       for count in range(3, 9)},
}

#: Files wave() rejects: name -> (bytes, error class, text the message must contain).
REJECTED: dict[str, tuple[Callable[[], bytes], type, str]] = {
    "truncated-data.wav": (lambda: soundfile_bytes(tone(4000))[:3000], wb.AudioFileError, "truncated"),
    "data-size-beyond-end.wav": (lambda: riff_wave(1, pcm16(700), data_size=4 * 1400), wb.AudioFileError,
                                 "truncated"),
    "header-only.wav": (lambda: soundfile_bytes(tone(100))[:30], wb.AudioFileError, "corrupt or truncated"),
    "zero-channels.wav": (lambda: riff_wave(1, pcm16(100), channels=0), wb.AudioFileError, "Channel count is zero"),
    "mp3-tag.wav": (lambda: riff_wave(0x0055, pcm16(700), bits=0,
                                      fmt_extra=struct.pack("<HHIHHH", 12, 1, 2, 104, 1, 1393)),
                    wb.AudioFormatError, "format tag 0x0055 (MPEG Layer III)"),
    "mp3-tag-short-fmt.wav": (lambda: riff_wave(0x0055, pcm16(700)), wb.AudioFormatError, "format tag 0x0055"),
    "unknown-tag.wav": (lambda: riff_wave(0x7777, pcm16(700), fmt_extra=b"\x00\x00"), wb.AudioFormatError,
                        "format tag 0x7777 (unknown encoding)"),
    "text.wav": (lambda: b"this is a text file, not audio\n" * 40, wb.AudioFormatError, "not an audio file"),
    "random-bytes.wav": (lambda: np.random.default_rng(7).bytes(5000), wb.AudioFormatError,
                         "not an audio file"),
    "empty.wav": (lambda: b"", wb.AudioFormatError, "not an audio file"),
}


def libsndfile_samples(path: str, channel: int | None = None) -> np.ndarray:
    """Read a file with soundfile as float64: one channel, or the mean of all channels."""
    frames, _ = sf.read(path, dtype="float64", always_2d=True)
    if channel is not None:
        return frames[:, channel]
    return frames.mean(axis=1)


def evaluate(stream: wb.Stream, mode: str, block_size: int | None = None) -> wb.ExecutionResult | np.ndarray:
    """Evaluate ``stream * 1.0`` at RATE in ``mode``; return the samples, or the failed result.

    Multiplying by 1.0 is exact and gives the multi-threaded overseer a partitionable bean.
    """
    scaled = stream * 1.0
    if mode == "stream":
        return collect(scaled, RATE, block_size)
    sink: dict = {}
    output = collect_output(scaled, sink, "samples")
    if mode == "single":
        overseer = wb.SingleThreadedOverseer([output], block_size=block_size)
    else:
        partitions = int(mode.split("-")[1])
        config = wb.ExecutionConfig(chunk_size=64, block_size=block_size)
        overseer = wb.MultiThreadedOverseer([output], threads=2, partitions=partitions, config=config)
    with overseer:
        result = overseer.eval(RATE)[0].result(timeout=30)
    if not result.finished:
        return result
    return as_samples(sink["samples"])


# -- readable files ------------------------------------------------------------------------


@pytest.mark.parametrize("name", sorted(READABLE))
@pytest.mark.parametrize("block_size", BLOCK_SIZES)
def test_readable_file_matches_libsndfile(tmp_dir, name, block_size):
    path = write_bytes(tmp_dir, name, READABLE[name]())
    expected = libsndfile_samples(path)

    actual = collect(wb.wave(path, resample=False), RATE, block_size)

    assert actual.dtype == np.float64
    assert np.array_equal(actual, expected), f"{name}: samples differ from soundfile.read"


@pytest.mark.parametrize("name", sorted(READABLE))
@pytest.mark.parametrize("mode", MODES[1:])
def test_readable_file_in_overseers(tmp_dir, name, mode):
    path = write_bytes(tmp_dir, name, READABLE[name]())

    actual = evaluate(wb.wave(path), mode, block_size=3)

    assert isinstance(actual, np.ndarray), f"{name} failed in {mode}: {actual}"
    assert np.array_equal(actual, libsndfile_samples(path))


@pytest.mark.parametrize("name", sorted(READABLE))
def test_readable_file_metadata(tmp_dir, name):
    path = write_bytes(tmp_dir, name, READABLE[name]())
    with sf.SoundFile(path) as reference:
        expected = (reference.samplerate, reference.frames, reference.channels, reference.subtype)

    info = wb.audio_info(path)

    assert (info.sample_rate, info.frames, info.channels, info.subtype) == expected
    assert wb.wave(path).samples_count(RATE) == expected[1]


@pytest.mark.parametrize("count", range(3, 9))
@pytest.mark.parametrize("mode", MODES)
def test_multichannel_selection_and_mixdown(tmp_dir, count, mode):
    path = write_bytes(tmp_dir, f"{count}-channels.wav", soundfile_bytes(tone(300, count)))

    for channel in (0, count // 2, count - 1, None):
        actual = evaluate(wb.wave(path, channel=channel), mode, block_size=7)
        assert isinstance(actual, np.ndarray), f"channel {channel} failed in {mode}: {actual}"
        assert np.array_equal(actual, libsndfile_samples(path, channel)), f"channel {channel} differs"


@pytest.mark.parametrize("count", [3, 8])
def test_channel_beyond_count_is_rejected(tmp_dir, count):
    path = write_bytes(tmp_dir, "many.wav", soundfile_bytes(tone(50, count)))

    with pytest.raises(wb.InvalidParameterError, match=f"channel {count} is out of range") as caught:
        wb.wave(path, channel=count)
    assert path in str(caught.value)
    assert f"0 to {count - 1}" in str(caught.value)


def test_one_sample_file_upsampled(tmp_dir):
    path = write_bytes(tmp_dir, "one.wav", soundfile_bytes(np.array([0.25])))

    samples = collect(wb.wave(path), RATE * 2)

    assert 1 <= len(samples) <= 2
    assert np.all(np.isfinite(samples))


def test_zero_length_file_in_every_mode(tmp_dir):
    path = write_bytes(tmp_dir, "nothing.wav", riff_wave(1, b""))

    for mode in MODES:
        actual = evaluate(wb.wave(path), mode)
        assert isinstance(actual, np.ndarray), f"{mode}: {actual}"
        assert len(actual) == 0, f"{mode}: {len(actual)} samples from an empty file"


# -- files rejected when wave() reads the header -------------------------------------------------


@pytest.mark.parametrize("name", sorted(REJECTED))
def test_broken_file_rejected_by_wave(tmp_dir, name):
    build, error, text = REJECTED[name]
    path = write_bytes(tmp_dir, name, build())

    with pytest.raises(error) as caught:
        wb.wave(path)

    assert path in str(caught.value), "the message must name the file"
    assert text in str(caught.value)


@pytest.mark.parametrize("name", sorted(REJECTED))
def test_broken_file_rejected_by_audio_info(tmp_dir, name):
    build, error, text = REJECTED[name]
    path = write_bytes(tmp_dir, name, build())

    with pytest.raises(error, match=re.escape(text)):
        wb.audio_info(path)


def test_broken_memory_file_names_uri():
    import fsspec

    with fsspec.open("memory://broken/unknown-tag.wav", "wb") as file:
        file.write(riff_wave(0x7777, pcm16(100), fmt_extra=b"\x00\x00"))

    with pytest.raises(wb.AudioFormatError, match="memory://broken/unknown-tag.wav.*0x7777"):
        wb.wave("memory://broken/unknown-tag.wav")


# -- files that break after wave() -------------------------------------------------------------


def break_by_truncating(path: str) -> None:
    os.truncate(path, os.path.getsize(path) // 2)


def break_by_text(path: str) -> None:
    with open(path, "wb") as file:
        file.write(b"overwritten by a text editor\n" * 10)


def break_by_emptying(path: str) -> None:
    os.truncate(path, 0)


def break_by_unknown_tag(path: str) -> None:
    with open(path, "wb") as file:
        file.write(riff_wave(0x7777, pcm16(2000), fmt_extra=b"\x00\x00"))


def break_by_fewer_channels(path: str) -> None:
    with open(path, "wb") as file:
        file.write(soundfile_bytes(tone(2000, 2)))


BREAKERS = {
    "truncated": (break_by_truncating, "truncated"),
    "text": (break_by_text, "not an audio file"),
    "empty": (break_by_emptying, "not an audio file"),
    "unknown-tag": (break_by_unknown_tag, "0x7777"),
    "fewer-channels": (break_by_fewer_channels, "channel"),
}


@pytest.mark.parametrize("breaker", sorted(BREAKERS))
@pytest.mark.parametrize("mode", MODES)
def test_file_broken_after_wave(tmp_dir, breaker, mode):
    path = write_bytes(tmp_dir, "victim.wav", soundfile_bytes(tone(2000, 4)))
    stream = wb.wave(path, channel=3)
    damage, text = BREAKERS[breaker]
    damage(path)

    if mode == "stream":
        with pytest.raises((wb.AudioFileError, wb.AudioFormatError, wb.InvalidParameterError)) as caught:
            evaluate(stream, mode)
        message = str(caught.value)
    else:
        result = evaluate(stream, mode)
        assert isinstance(result, wb.ExecutionResult), f"{mode} read a broken file without error"
        assert result.finished is False
        assert isinstance(result.exception, wb.WaveBeansError)
        message = str(result.exception)

    assert path in message, "the message must name the file"
    assert text in message


@pytest.mark.parametrize("mode", MODES[1:])
def test_file_broken_after_wave_leaves_no_output(tmp_dir, mode):
    path = write_bytes(tmp_dir, "victim.wav", soundfile_bytes(tone(20000)))
    target = os.path.join(tmp_dir, "copy.wav")
    stream = wb.wave(path) * 1.0
    break_by_truncating(path)
    if mode == "single":
        overseer = wb.SingleThreadedOverseer([stream.to_wav(target)], block_size=100)
    else:
        overseer = wb.MultiThreadedOverseer([stream.to_wav(target)], threads=2,
                                            partitions=int(mode.split("-")[1]))

    with overseer:
        result = overseer.eval(RATE)[0].result(timeout=30)

    assert result.finished is False
    assert "victim.wav" in str(result.exception)
    assert sorted(os.listdir(tmp_dir)) == ["victim.wav"], "no output and no temporary file may remain"


def test_file_grown_after_wave_is_read_whole(tmp_dir):
    # A file that grows (a recording still being written) is read to its new end.
    path = write_bytes(tmp_dir, "growing.wav", soundfile_bytes(tone(100)))
    stream = wb.wave(path, resample=False)
    write_bytes(tmp_dir, "growing.wav", soundfile_bytes(tone(300)))

    assert np.array_equal(collect(stream, RATE), libsndfile_samples(path))
