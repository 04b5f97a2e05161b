"""The scripts in examples/ run and write what they promise."""

from __future__ import annotations

import os
import runpy

import soundfile as sf

EXAMPLES = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "examples")


def load(name):
    return runpy.run_path(os.path.join(EXAMPLES, name), run_name="example")


def test_speech_mix_example(tmp_dir):
    assert load("speech_mix.py")["main"](tmp_dir) == 0

    info = sf.info(os.path.join(tmp_dir, "speech_mix.wav"))
    assert (info.frames, info.subtype) == (32000, "PCM_24")
    with open(os.path.join(tmp_dir, "speech_mix.csv")) as file:
        lines = file.read().splitlines()
    assert lines[0] == "time us,value"
    assert len(lines) == 1 + 8000


def test_stereo_example(tmp_dir, capsys):
    assert load("stereo.py")["main"](tmp_dir) == 0

    info = sf.info(os.path.join(tmp_dir, "stereo.wav"))
    assert (info.channels, info.frames) == (2, 64000)
    assert "right channel peak 0.6499" in capsys.readouterr().out
