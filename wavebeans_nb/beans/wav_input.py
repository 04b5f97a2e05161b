"""Audio file input: ``wave(uri)`` reads any format libsndfile decodes, block by block."""

from __future__ import annotations

import contextlib
import logging
import os
import re
import stat
import struct
from dataclasses import dataclass
from typing import Any, Iterator

import fsspec
import numpy as np
import soundfile as sf

from ..errors import AudioFileError, AudioFormatError, InvalidParameterError
from .blocks import Block
from .inputs import SourceStream
from .resample import ResampleStream

__all__ = ["AudioFileInfo", "WaveInput", "wave"]

logger = logging.getLogger(__name__)

# libsndfile logs this line when a RIFF data chunk declares more bytes than the file holds.
_SHORT_DATA_CHUNK = re.compile(r"^data\s*:\s*(\d+)\s*\(should be (\d+)\)", re.MULTILINE)
# A declared data size that means "unknown length" (files written to a pipe), not truncation.
# NOTE: libsndfile reads a data size of 0 as an empty file even when audio follows, so such
# unfinished files give an empty stream rather than an error.
_UNKNOWN_DATA_SIZE = 0xFFFFFFFF
# Substrings of libsndfile's open errors for files that are not audio at all.
_NOT_AUDIO_MESSAGES = (
    "format not recognised", "unknown format", "not a wav", "not a valid", "no decoder recognised",
)
# libsndfile 1.2 gives this reason when its last-resort MPEG probe fails on an existing file.
_NOT_RECOGNISED_REASON = "does not exist or is not a regular file"
# Bytes read from the start of a file that failed to open, to find its WAV format tag.
_HEAD_BYTES = 4096
# WAV format tags of plain PCM, IEEE float and WAVE_FORMAT_EXTENSIBLE: a failure with these is corruption.
_PLAIN_WAV_TAGS = (0x0001, 0x0003, 0xFFFE)
_WAV_TAG_NAMES = {
    0x0002: "Microsoft ADPCM", 0x0006: "A-law", 0x0007: "mu-law", 0x0011: "IMA ADPCM",
    0x0031: "GSM 6.10", 0x0050: "MPEG", 0x0055: "MPEG Layer III", 0x2000: "AC-3",
}


@dataclass(frozen=True)
class AudioFileInfo:
    """Properties of an audio file as libsndfile reports them.

    Attributes
    ----------
    sample_rate : int
        Frames per second, in Hz.
    frames : int
        Number of frames (one sample per channel each).
    channels : int
        Number of channels.
    format, subtype : str
        libsndfile container and encoding names, for example ``"WAV"`` and ``"PCM_16"``.
    """

    sample_rate: int
    frames: int
    channels: int
    format: str
    subtype: str


@contextlib.contextmanager
def _open_sound_file(uri: str) -> Iterator[sf.SoundFile]:
    """Open ``uri`` for reading with libsndfile, mapping failures to this package's errors."""
    try:
        fs, path = fsspec.core.url_to_fs(uri)
    except (ValueError, ImportError) as error:
        raise AudioFileError(f"cannot open audio file {uri}: {error}; pass a path or a supported URI") from error
    if not fs.exists(path):
        raise AudioFileError(f"audio file {uri} not found; check the path or URI")
    if fs.isdir(path):
        raise AudioFileError(f"audio file {uri} is a directory; pass the path of a file")
    protocols = fs.protocol if isinstance(fs.protocol, tuple) else (fs.protocol,)
    if "file" in protocols and not stat.S_ISREG(os.stat(path).st_mode):
        # Opening a FIFO would block until a writer appears, and a device may never end.
        raise AudioFileError(f"audio file {uri} is not a regular file; pass the path of a file")
    with contextlib.ExitStack() as stack:
        try:
            # Local files go to libsndfile by path, which avoids Python I/O callbacks.
            source: Any = path if "file" in protocols else stack.enter_context(fs.open(path, "rb"))
            sound = stack.enter_context(sf.SoundFile(source, mode="r"))
        except sf.LibsndfileError as error:
            raise _open_error(uri, error, _read_head(fs, path)) from error
        except OSError as error:
            raise AudioFileError(
                f"cannot read audio file {uri}: {error.strerror or error}; check that it is readable"
            ) from error
        yield sound


def _read_head(fs: Any, path: str) -> bytes:
    """Return the first bytes of a file for diagnosing an open failure, or b"" if unreadable."""
    try:
        with fs.open(path, "rb") as file:
            return file.read(_HEAD_BYTES)
    except OSError:
        return b""


def _wav_format_tag(head: bytes) -> int | None:
    """Return the format tag of the ``fmt `` chunk of a RIFF, RIFX or RF64 WAVE header, or None."""
    if len(head) < 12 or head[8:12] != b"WAVE" or head[:4] not in (b"RIFF", b"RIFX", b"RF64"):
        return None
    order = ">" if head[:4] == b"RIFX" else "<"
    position = 12
    while position + 10 <= len(head):
        chunk_id = head[position:position + 4]
        (size,) = struct.unpack_from(order + "I", head, position + 4)
        if chunk_id == b"fmt ":
            return struct.unpack_from(order + "H", head, position + 8)[0]
        position += 8 + size + (size & 1)
    return None


def _open_error(uri: str, error: sf.LibsndfileError, head: bytes = b"") -> Exception:
    reason = error.error_string or str(error)
    if reason.lower().startswith("system error"):
        return AudioFileError(f"cannot read audio file {uri} ({reason}); check that it is readable")
    if _NOT_RECOGNISED_REASON in reason.lower():
        # The file was checked to exist above, so libsndfile's reason is misleading here: no decoder
        # (the MPEG one last) recognised the contents.
        reason = "no decoder recognised the contents"
    tag = _wav_format_tag(head)
    if tag is not None and tag not in _PLAIN_WAV_TAGS:
        name = _WAV_TAG_NAMES.get(tag, "unknown encoding")
        return AudioFormatError(
            f"{uri} is a WAV file with format tag 0x{tag:04X} ({name}) that libsndfile cannot decode "
            f"({reason}); convert it to PCM or float WAV"
        )
    if any(text in reason.lower() for text in _NOT_AUDIO_MESSAGES):
        return AudioFormatError(
            f"{uri} is not an audio file libsndfile can decode ({reason}); "
            "pass a WAV, FLAC, OGG or other libsndfile-supported file"
        )
    return AudioFileError(f"audio file {uri} is corrupt or truncated ({reason}); re-create or re-export it")


def _check_not_truncated(uri: str, sound: sf.SoundFile) -> None:
    """Raise if libsndfile shortened a RIFF data chunk because the file ends early."""
    match = _SHORT_DATA_CHUNK.search(sound.extra_info)
    if match is None:
        return
    declared, present = int(match.group(1)), int(match.group(2))
    if declared == _UNKNOWN_DATA_SIZE or present >= declared:
        return
    raise AudioFileError(
        f"audio file {uri} is truncated: its header declares {declared} bytes of audio but only "
        f"{present} are present; re-create or re-export the file"
    )


def read_audio_info(uri: str) -> AudioFileInfo:
    """Read the sample rate, length and layout of an audio file.

    Raises
    ------
    AudioFileError
        If the file is missing, unreadable, corrupt or truncated.
    AudioFormatError
        If the file is not audio that libsndfile decodes.
    """
    if not isinstance(uri, (str, os.PathLike)):
        raise InvalidParameterError(f"audio file URI {uri!r} is not a string or path; pass a file path or fsspec URI")
    uri = os.fspath(uri)
    with _open_sound_file(uri) as sound:
        _check_not_truncated(uri, sound)
        return AudioFileInfo(
            sample_rate=int(sound.samplerate),
            frames=int(sound.frames),
            channels=int(sound.channels),
            format=str(sound.format),
            subtype=str(sound.subtype),
        )


class WaveInput(SourceStream):
    """Samples of an audio file, read block by block as float64.

    The stream runs only at the file's sample rate and ends with the file.
    Integer PCM is scaled the way libsndfile does it: a code is divided by
    2**(bits - 1), so 16-bit 16384 reads as exactly 0.5.

    Parameters
    ----------
    uri : str or os.PathLike
        Plain path or fsspec URI (``file://``, ``memory://``, ...).
    channel : int, optional
        Channel to read (0-based). None reads the mean of all channels.
    """

    def __init__(self, *, uri: "str | os.PathLike[str]", channel: int | None = None) -> None:
        if not isinstance(uri, (str, os.PathLike)):
            raise InvalidParameterError(f"audio file URI {uri!r} is not a string or path; pass a file path or fsspec URI")
        if channel is not None and (
            isinstance(channel, bool) or not isinstance(channel, (int, np.integer)) or channel < 0
        ):
            raise InvalidParameterError(
                f"channel {channel!r} is invalid; pass a channel index >= 0, or None to mix all channels"
            )
        super().__init__(uri=os.fspath(uri), channel=None if channel is None else int(channel))
        self._info: AudioFileInfo | None = None

    def label(self) -> str:
        name = os.path.basename(self.params["uri"].rstrip("/")) or self.params["uri"]
        channel = self.params["channel"]
        return f"wave({name})" if channel is None else f"wave({name}, channel={channel})"

    def info(self) -> AudioFileInfo:
        """Return the file's properties, reading its header on the first call.

        Raises
        ------
        AudioFileError, AudioFormatError
            As :func:`read_audio_info`.
        InvalidParameterError
            If ``channel`` is not below the file's channel count.
        """
        if self._info is None:
            info = read_audio_info(self.params["uri"])
            channel = self.params["channel"]
            if channel is not None and channel >= info.channels:
                raise InvalidParameterError(
                    f"channel {channel} is out of range: {self.params['uri']} has {info.channels} "
                    f"channel(s); pass a channel from 0 to {info.channels - 1}, or None to mix them"
                )
            self._info = info
        return self._info

    @property
    def desired_sample_rate(self) -> float:
        return float(self.info().sample_rate)

    @property
    def is_finite(self) -> bool:
        return True

    def samples_count(self, sample_rate: float) -> int:
        return self.info().frames

    def _blocks(self, sample_rate: float, block_size: int) -> Iterator[Block]:
        self._fixed_rate_check(sample_rate)
        uri = self.params["uri"]
        channel = self.params["channel"]
        expected = self.info().frames
        read = 0
        with _open_sound_file(uri) as sound:
            _check_unchanged(uri, sound, self.info())
            while True:
                try:
                    frames = sound.read(block_size, dtype="float64", always_2d=True)
                except sf.LibsndfileError as error:
                    raise AudioFileError(
                        f"reading audio file {uri} failed after {read} frames ({error.error_string}); "
                        "the file is corrupt or truncated, re-create or re-export it"
                    ) from error
                if not len(frames):
                    break
                read += len(frames)
                yield _select_channel(frames, channel)
        if read < expected:
            raise AudioFileError(
                f"audio file {uri} is truncated: its header declares {expected} frames but only "
                f"{read} could be read; re-create or re-export the file"
            )


def _check_unchanged(uri: str, sound: sf.SoundFile, info: AudioFileInfo) -> None:
    """Raise if the file was truncated or replaced since its header was first read."""
    _check_not_truncated(uri, sound)
    now = (int(sound.samplerate), int(sound.channels), str(sound.subtype))
    before = (info.sample_rate, info.channels, info.subtype)
    if now != before:
        raise AudioFileError(
            f"audio file {uri} changed after the graph was built: it was {before[0]} Hz, {before[1]} "
            f"channel(s), {before[2]}, and is now {now[0]} Hz, {now[1]} channel(s), {now[2]}; "
            "build the graph again with wave()"
        )


def _select_channel(frames: np.ndarray, channel: int | None) -> np.ndarray:
    if frames.shape[1] == 1:
        return frames[:, 0].copy()
    if channel is None:
        return frames.mean(axis=1)
    return np.ascontiguousarray(frames[:, channel])


def wave(uri: "str | os.PathLike[str]", channel: int | None = None,
         resample: "bool | str" = True) -> "WaveInput | ResampleStream":
    """Read an audio file as a finite sample stream.

    Any format libsndfile decodes works: WAV of every PCM width and float,
    WAVEX, RF64, FLAC, OGG and more. The file is read in blocks, never whole.

    Parameters
    ----------
    uri : str or os.PathLike
        Plain path or fsspec URI such as ``file:///data/a.wav`` or ``memory://a.wav``.
    channel : int, optional
        Channel index (0-based) of a multichannel file. None gives the mean
        of all channels (a mix-down); a mono file is read as is.
    resample : bool or str, default True
        True wraps the file in ``.resample()``, so the stream adapts to the
        evaluation rate and passes through at the file's rate. A method name
        ("polyphase", "sinc", "simple") picks the resampling method. False
        returns the raw input, which must be evaluated at the file's rate.

    Returns
    -------
    ResampleStream or WaveInput
        Samples as float64, integer PCM divided by 2**(bits - 1).

    Raises
    ------
    AudioFileError
        If the file is missing, unreadable, corrupt or truncated.
    AudioFormatError
        If the file is not audio that libsndfile decodes.
    InvalidParameterError
        If ``channel`` is negative or not below the file's channel count.

    Examples
    --------
    >>> import wavebeans_nb as wb
    >>> from wavebeans_nb.data import ARCTIC_A0007
    >>> speech = wb.wave(ARCTIC_A0007)
    >>> speech.samples_count(16000), speech.samples_count(8000)
    (64000, 32000)
    >>> wb.wave(ARCTIC_A0007, resample=False).desired_sample_rate
    16000.0
    """
    stream = WaveInput(uri=uri, channel=channel)
    stream.info()  # Fail here, where the file is named, rather than at evaluation.
    if resample is False or resample is None:
        return stream
    return ResampleStream(stream, method=None if resample is True else resample)
