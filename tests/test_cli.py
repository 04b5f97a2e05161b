"""The ``wavebeans`` command line."""

from __future__ import annotations

import os
import subprocess
import sys

import numpy as np
import soundfile as sf

from wavebeans_nb import cli
from wavebeans_nb.data import ARCTIC_A0007


def test_demo_writes_wav_and_csv(tmp_dir, capsys):
    status = cli.main(["demo", "--output-dir", tmp_dir])

    wav = os.path.join(tmp_dir, "demo.wav")
    csv = os.path.join(tmp_dir, "demo.csv")
    printed = capsys.readouterr().out
    assert status == 0
    assert wav in printed
    assert csv in printed
    info = sf.info(wav)
    assert (info.samplerate, info.frames, info.subtype) == (16000, 48000, "PCM_16")
    with open(csv) as file:
        lines = file.read().splitlines()
    assert lines[0] == "time us,value"
    assert len(lines) == 48001


def test_demo_mix_matches_numpy(tmp_dir):
    cli.main(["demo", "--output-dir", tmp_dir])

    speech, rate = sf.read(ARCTIC_A0007, frames=48000)
    frequency, amplitude = cli.DEMO_TONE
    expected = speech * cli.DEMO_GAIN + amplitude * np.sin(2 * np.pi * frequency * np.arange(48000) / rate)
    written, _ = sf.read(os.path.join(tmp_dir, "demo.wav"))
    assert np.max(np.abs(written - expected)) <= 2.0**-16


def test_demo_creates_output_dir(tmp_dir):
    target = os.path.join(tmp_dir, "nested", "dir")

    assert cli.main(["demo", "--output-dir", target]) == 0
    assert sorted(os.listdir(target)) == ["demo.csv", "demo.wav"]


def test_no_subcommand_prints_help(capsys):
    assert cli.main([]) == 2
    assert "demo" in capsys.readouterr().err


def test_console_script_runs(tmp_dir):
    completed = subprocess.run(
        [sys.executable, "-m", "wavebeans_nb.cli", "demo", "--output-dir", tmp_dir],
        capture_output=True, text=True, timeout=120,
    )

    assert completed.returncode == 0, completed.stderr
    assert "demo.wav" in completed.stdout
