"""The ``wavebeans`` command line."""

from __future__ import annotations

import glob
import os
import signal
import subprocess
import sys
import time

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


def _write_script(directory: str, body: str) -> str:
    path = os.path.join(directory, "graph.py")
    with open(path, "w", encoding="utf-8") as file:
        file.write(body)
    return path


def test_user_mistake_prints_error_not_traceback(tmp_dir, capsys):
    script = _write_script(tmp_dir, "import wavebeans_nb as wb\n"
                                    f"out = wb.sine(440).trim(10).to_wav({os.path.join(tmp_dir, 'o.wav')!r})\n")

    status = cli.main(["run", script, "--sample-rate", "0"])

    error = capsys.readouterr().err
    assert status == 2
    assert error.startswith("wavebeans: error: ")
    assert "sample rate 0" in error
    assert "Traceback" not in error


# Writes slowly for a minute, so the test can stop it while the temporary file exists.
SLOW_SCRIPT = """
import time
import wavebeans_nb as wb

def slow(block):
    time.sleep(0.05)
    return block

out = wb.sine(440).trim(60_000).map_blocks(slow).to_wav({target!r})
"""


def test_sigterm_removes_partial_output(tmp_dir):
    target = os.path.join(tmp_dir, "slow.wav")
    script = _write_script(tmp_dir, SLOW_SCRIPT.format(target=target))
    process = subprocess.Popen([sys.executable, "-m", "wavebeans_nb.cli", "run", script, "--sample-rate", "8000"],
                               stderr=subprocess.PIPE, text=True)
    try:
        deadline = time.monotonic() + 60
        while not glob.glob(os.path.join(tmp_dir, ".slow.wav.*.partial")):
            assert process.poll() is None, process.stderr.read()
            assert time.monotonic() < deadline, "the run never started writing"
            time.sleep(0.05)
        process.send_signal(signal.SIGTERM)
        status = process.wait(60)
    finally:
        process.kill()

    assert status == 128 + signal.SIGTERM
    assert not os.path.exists(target)
    assert glob.glob(os.path.join(tmp_dir, ".*.partial")) == []
