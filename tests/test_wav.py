"""Audio file input (wave) and WAV output (to_wav), checked against soundfile reading the same files."""

from __future__ import annotations

import os

import fsspec
import numpy as np
import pytest
import soundfile as sf

import wavebeans_nb as wb
from conftest import BLOCK_SIZES, collect, run_output

# -- reading ---------------------------------------------------------------------------


@pytest.mark.parametrize("block_size", [3, 1000, None])
def test_wave_reads_recording_like_soundfile(recording, block_size):
    reference, rate = sf.read(recording, dtype="float64")

    actual = collect(wb.wave(recording), rate, block_size)

    np.testing.assert_array_equal(actual, reference)


def test_wave_block_size_one(arctic_a0009):
    reference, rate = sf.read(arctic_a0009, dtype="float64", frames=2000)

    actual = collect(wb.wave(arctic_a0009).trim(2000 / rate, "s"), rate, 1)

    np.testing.assert_array_equal(actual, reference)


def test_wave_metadata(arctic_a0007):
    stream = wb.wave(arctic_a0007, resample=False)

    assert stream.desired_sample_rate == 16000.0
    assert stream.samples_count(16000) == 64000
    assert stream.is_finite is True
    assert stream.label() == "wave(arctic_a0007.wav)"


def test_wave_reads_in_blocks(arctic_a0007):
    sizes = [len(block) for block in wb.wave(arctic_a0007).iter_blocks(16000, 1000)]

    assert max(sizes) == 1000
    assert sum(sizes) == 64000


@pytest.mark.parametrize(
    "format, subtype, exact",
    [
        ("WAV", "PCM_U8", True),
        ("WAV", "PCM_16", True),
        ("WAV", "PCM_24", True),
        ("WAV", "PCM_32", True),
        ("WAV", "FLOAT", True),
        ("WAV", "DOUBLE", True),
        ("WAVEX", "PCM_24", True),
        ("RF64", "PCM_16", True),
        ("FLAC", "PCM_16", True),
        ("FLAC", "PCM_24", True),
        ("OGG", "VORBIS", False),
    ],
)
def test_wave_reads_formats(make_wav, format, subtype, exact):
    t = np.arange(3000) / 8000
    data = 0.6 * np.sin(2 * np.pi * 300 * t)
    path = make_wav(f"tone.{format.lower()}", data, 8000, subtype, format)
    reference, _ = sf.read(path, dtype="float64")

    actual = collect(wb.wave(path), 8000, 1000)

    np.testing.assert_array_equal(actual, reference)
    if exact:
        # Lossless formats give the written signal back within one quantisation step.
        np.testing.assert_allclose(actual, data, atol=2.0**-7)


def test_wave_pcm_scale_is_power_of_two(make_wav):
    codes = np.array([-32768, -16384, 0, 16384, 32767], dtype=np.int16)
    path = make_wav("codes.wav", codes, 8000, "PCM_16")

    actual = collect(wb.wave(path), 8000)

    np.testing.assert_array_equal(actual, codes / 32768.0)


def test_wave_8_bit_codes(make_wav):
    codes = np.array([-128, -1, 0, 1, 127], dtype=np.int16) << 8
    path = make_wav("codes8.wav", codes, 8000, "PCM_U8")

    actual = collect(wb.wave(path), 8000)

    np.testing.assert_array_equal(actual, np.array([-128, -1, 0, 1, 127]) / 128.0)


def test_wave_24_bit_negative_codes(make_wav):
    codes = np.array([-8388608, -1, 1, 8388607], dtype=np.int32) << 8
    path = make_wav("codes24.wav", codes, 8000, "PCM_24")

    actual = collect(wb.wave(path), 8000)

    np.testing.assert_array_equal(actual, np.array([-8388608, -1, 1, 8388607]) / 2.0**23)


@pytest.fixture
def stereo(make_wav):
    left = np.linspace(-0.5, 0.5, 101)
    right = np.linspace(0.25, -0.75, 101)
    path = make_wav("stereo.wav", np.column_stack([left, right]), 8000, "FLOAT")
    return path, left.astype(np.float32).astype(np.float64), right.astype(np.float32).astype(np.float64)


@pytest.mark.parametrize("block_size", BLOCK_SIZES)
def test_wave_stereo_channels(stereo, block_size):
    path, left, right = stereo

    np.testing.assert_array_equal(collect(wb.wave(path, channel=0), 8000, block_size), left)
    np.testing.assert_array_equal(collect(wb.wave(path, channel=1), 8000, block_size), right)


def test_wave_stereo_mixdown_is_mean(stereo):
    path, left, right = stereo

    np.testing.assert_allclose(collect(wb.wave(path), 8000), (left + right) / 2, rtol=0, atol=1e-15)


def test_wave_channel_out_of_range(stereo):
    path, _, _ = stereo

    with pytest.raises(wb.InvalidParameterError, match="has 2 channel") as caught:
        wb.wave(path, channel=2)
    assert "stereo.wav" in str(caught.value)


def test_wave_negative_channel():
    with pytest.raises(wb.InvalidParameterError, match="channel -1"):
        wb.wave("anything.wav", channel=-1)


def test_wave_file_uri(arctic_a0009):
    reference, _ = sf.read(arctic_a0009)

    actual = collect(wb.wave("file://" + arctic_a0009), 16000)

    np.testing.assert_array_equal(actual, reference)


def test_wave_memory_uri(arctic_a0009):
    with open(arctic_a0009, "rb") as source, fsspec.open("memory://inputs/a0009.wav", "wb") as target:
        target.write(source.read())
    reference, _ = sf.read(arctic_a0009)

    actual = collect(wb.wave("memory://inputs/a0009.wav"), 16000, 4096)

    np.testing.assert_array_equal(actual, reference)


def test_wave_accepts_path_objects(arctic_a0009):
    import pathlib

    assert wb.wave(pathlib.Path(arctic_a0009)).samples_count(16000) == sf.info(arctic_a0009).frames


def test_wave_rebuilds_from_params(arctic_a0009):
    stream = wb.wave(arctic_a0009, channel=0)

    rebuilt = type(stream)(*stream.inputs, **stream.params)

    np.testing.assert_array_equal(collect(rebuilt, 16000), collect(stream, 16000))


# -- writing: round trips ------------------------------------------------------------------

STEP = {8: 2.0**-7, 16: 2.0**-15, 24: 2.0**-23, 32: 2.0**-31}


@pytest.mark.parametrize("bit_depth", [8, 16, 24, 32])
def test_to_wav_round_trip_pcm(recording, tmp_dir, bit_depth):
    target = os.path.join(tmp_dir, f"copy{bit_depth}.wav")
    reference, rate = sf.read(recording, dtype="float64")

    run_output(wb.wave(recording).to_wav(target, bit_depth=bit_depth), rate)

    info = sf.info(target)
    written, written_rate = sf.read(target, dtype="float64")
    assert info.subtype == {8: "PCM_U8", 16: "PCM_16", 24: "PCM_24", 32: "PCM_32"}[bit_depth]
    assert written_rate == rate
    assert len(written) == len(reference)
    assert np.max(np.abs(written - reference)) <= STEP[bit_depth]


def test_to_wav_16_bit_copy_is_bit_exact(recording, tmp_dir):
    target = os.path.join(tmp_dir, "copy.wav")

    run_output(wb.wave(recording).to_wav(target), 16000)

    source_codes, _ = sf.read(recording, dtype="int16")
    written_codes, _ = sf.read(target, dtype="int16")
    np.testing.assert_array_equal(written_codes, source_codes)


@pytest.mark.parametrize("bit_depth", ["float", 32.0])
def test_to_wav_float(recording, tmp_dir, bit_depth):
    target = os.path.join(tmp_dir, "copy-float.wav")
    reference, _ = sf.read(recording, dtype="float64")

    run_output(wb.wave(recording).to_wav(target, bit_depth=bit_depth), 16000)

    assert sf.info(target).subtype == "FLOAT"
    np.testing.assert_array_equal(sf.read(target, dtype="float64")[0], reference)


@pytest.mark.parametrize("bit_depth", [8, 16, 24, 32])
def test_to_wav_quantisation_clips(tmp_dir, bit_depth):
    x = np.array([0.0, 0.5, -0.5, 1.0, -1.0, 1.5, -1.5, 0.3, -0.3, np.nan, np.inf, -np.inf, 1e-12])
    full_scale = 2.0 ** (bit_depth - 1)
    expected = np.clip(np.rint(np.nan_to_num(x, nan=0.0, posinf=2.0, neginf=-2.0) * full_scale),
                       -full_scale, full_scale - 1)
    target = os.path.join(tmp_dir, "codes.wav")

    run_output(wb.list_input(x).to_wav(target, bit_depth=bit_depth), 8000)

    # soundfile returns int32 codes left-aligned; shift them back to the file's width.
    codes = sf.read(target, dtype="int32")[0].astype(np.int64) >> (32 - bit_depth)
    np.testing.assert_array_equal(codes, expected.astype(np.int64))


def test_to_wav_float_keeps_out_of_range_values(tmp_dir):
    target = os.path.join(tmp_dir, "loud.wav")

    run_output(wb.list_input([1.5, -2.0, 0.25]).to_wav(target, bit_depth="float"), 8000)

    assert sf.read(target, dtype="float64")[0].tolist() == [1.5, -2.0, 0.25]


@pytest.mark.parametrize("bit_depth", [8, 16, 24, 32, "float"])
def test_to_wav_empty_stream_writes_valid_file(tmp_dir, bit_depth):
    target = os.path.join(tmp_dir, "empty.wav")

    run_output(wb.sine(440).trim(0).to_wav(target, bit_depth=bit_depth), 8000)

    info = sf.info(target)
    assert info.frames == 0
    assert info.samplerate == 8000
    assert info.channels == 1


def test_to_wav_header_rate_is_evaluation_rate(tmp_dir):
    target = os.path.join(tmp_dir, "rate.wav")

    run_output(wb.sine(100).trim(10).to_wav(target), 22050)

    assert sf.info(target).samplerate == 22050
    assert sf.info(target).frames == 220


def test_to_wav_independent_of_block_size(tmp_dir):
    contents = set()
    for block_size in BLOCK_SIZES:
        target = os.path.join(tmp_dir, f"sine-{block_size}.wav")
        stream = (wb.sine(440, 0.5) + wb.sine_sweep(100, 2000, 0.25)).trim(60)
        run_output(stream.to_wav(target, bit_depth=24), 8000, block_size)
        with open(target, "rb") as written:
            contents.add(written.read())

    assert len(contents) == 1


def test_to_wav_memory_uri(arctic_a0009):
    run_output(wb.wave(arctic_a0009).trim(100).to_wav("memory://outputs/short.wav"), 16000)

    with fsspec.open("memory://outputs/short.wav", "rb") as written:
        data, rate = sf.read(written, dtype="float64")
    assert rate == 16000
    np.testing.assert_array_equal(data, sf.read(arctic_a0009, frames=1600)[0])


def test_to_wav_sample_vectors(tmp_dir):
    vectors = wb.list_input([np.array([0.5, 0.25]), np.array([-0.5])], element_type=np.ndarray)
    target = os.path.join(tmp_dir, "vectors.wav")

    run_output(vectors.to_wav(target), 8000)

    assert sf.read(target)[0].tolist() == [0.5, 0.25, -0.5]


def test_to_wav_rejects_unknown_bit_depth():
    with pytest.raises(wb.InvalidParameterError, match="bit depth 12"):
        wb.sine(1).to_wav("x.wav", bit_depth=12)


def test_to_wav_rejects_true_as_bit_depth():
    with pytest.raises(wb.InvalidParameterError, match="bit depth True"):
        wb.sine(1).to_wav("x.wav", bit_depth=True)


def test_to_wav_rejects_object_stream():
    with pytest.raises(wb.InvalidParameterError, match="to_wav needs a stream of samples"):
        wb.list_input(["a"]).to_wav("x.wav")


def test_to_wav_rebuilds_from_params(tmp_dir):
    output = wb.sine(1).to_wav(os.path.join(tmp_dir, "x.wav"), bit_depth="float")

    rebuilt = type(output)(*output.inputs, **output.params)

    assert rebuilt.params == output.params


# -- writing: multichannel -------------------------------------------------------------------


@pytest.mark.parametrize("block_size", BLOCK_SIZES)
def test_channels_frames(block_size):
    stereo = wb.channels(wb.list_input([0.1, 0.2, 0.3]), wb.list_input([-0.1]))

    frames = collect(stereo, 8000, block_size)

    np.testing.assert_array_equal(frames, [[0.1, -0.1], [0.2, 0.0], [0.3, 0.0]])


def test_channels_metadata():
    stereo = wb.channels(wb.list_input([0.1, 0.2, 0.3]), wb.list_input([-0.1]))

    assert stereo.channels_count == 2
    assert stereo.samples_count(8000) == 3
    assert stereo.is_finite is True
    assert wb.channels(wb.list_input([0.1]), wb.sine(1)).is_finite is False


def test_channels_to_wav(arctic_a0007, arctic_a0009, tmp_dir):
    target = os.path.join(tmp_dir, "stereo.wav")
    left, _ = sf.read(arctic_a0007)
    right, _ = sf.read(arctic_a0009)

    run_output(wb.channels(wb.wave(arctic_a0007), wb.wave(arctic_a0009)).to_wav(target), 16000, 1000)

    written, _ = sf.read(target, dtype="float64")
    assert written.shape == (max(len(left), len(right)), 2)
    np.testing.assert_array_equal(written[:, 0], left)
    np.testing.assert_array_equal(written[: len(right), 1], right)
    assert not written[len(right):, 1].any()


def test_channels_then_trim_to_wav(tmp_dir):
    target = os.path.join(tmp_dir, "three.wav")
    stream = wb.channels(wb.sine(100), wb.sine(200), wb.sine(300)).trim(10)

    run_output(stream.to_wav(target, bit_depth=24), 8000, 7)

    assert sf.info(target).channels == 3
    assert sf.info(target).frames == 80


def test_channels_empty_to_wav_keeps_channel_count(tmp_dir):
    target = os.path.join(tmp_dir, "empty-stereo.wav")

    run_output(wb.channels(wb.sine(1).trim(0), wb.sine(1).trim(0)).to_wav(target), 8000)

    assert sf.info(target).channels == 2
    assert sf.info(target).frames == 0


def test_channels_rejects_no_streams():
    with pytest.raises(wb.InvalidParameterError, match="at least one stream"):
        wb.channels()


def test_channels_rejects_non_sample_stream():
    with pytest.raises(wb.InvalidParameterError, match="channel 1"):
        wb.channels(wb.sine(1), wb.list_input(["a"]))


def test_channels_rate_mismatch(arctic_a0007):
    fixed = wb.input(lambda i, sr: 0.0, sample_rate=8000)

    with pytest.raises(wb.SampleRateMismatchError):
        wb.channels(wb.wave(arctic_a0007, resample=False), fixed).desired_sample_rate


@pytest.mark.parametrize("block_size", BLOCK_SIZES)
def test_channels_arithmetic_pads_shorter(block_size):
    longer = wb.channels(wb.list_input([1.0, 2.0, 3.0]), wb.list_input([4.0, 5.0, 6.0]))
    shorter = wb.channels(wb.list_input([10.0]), wb.list_input([20.0]))

    np.testing.assert_array_equal(collect(longer + shorter, 8000, block_size), [[11, 24], [2, 5], [3, 6]])
    np.testing.assert_array_equal(collect(longer * 0.5, 8000, block_size), [[0.5, 2], [1, 2.5], [1.5, 3]])
