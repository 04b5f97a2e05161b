"""The `run` and `facilitator` commands on a cluster of separate processes, and the demo's modes."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import textwrap
import time

import numpy as np
import pytest
import soundfile as sf

from wavebeans_nb.cli import main

from distributed_support import FILES, RATE, assert_same_files

SCRIPT = textwrap.dedent('''
    import os, sys
    sys.path.insert(0, {tests!r})
    from distributed_support import engine_graphs
    outputs = engine_graphs(os.environ["WAVEBEANS_TEST_DIR"])
''')


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _wait_for_workers(address: str, count: int, timeout: float = 60.0) -> None:
    from distributed import Client

    with Client(address, timeout=timeout, set_as_default=False) as client:
        client.wait_for_workers(count, timeout=timeout)


def _run_script(script, directory, *extra) -> int:
    os.environ["WAVEBEANS_TEST_DIR"] = str(directory)
    try:
        return main(["run", str(script), "--sample-rate", str(RATE), *extra])
    finally:
        del os.environ["WAVEBEANS_TEST_DIR"]


@pytest.fixture
def script(tmp_path):
    path = tmp_path / "graphs.py"
    path.write_text(SCRIPT.format(tests=os.path.dirname(os.path.abspath(__file__))))
    return path


def test_run_on_separate_processes(script, tmp_path):
    single, distributed = tmp_path / "single", tmp_path / "distributed"
    single.mkdir()
    distributed.mkdir()
    assert _run_script(script, single, "--mode", "single") == 0
    port = _free_port()
    address = f"tcp://127.0.0.1:{port}"
    work = tmp_path / "workers"
    work.mkdir()
    processes = []
    try:
        processes.append(subprocess.Popen(
            [sys.executable, "-m", "distributed.cli.dask_scheduler", "--host", "127.0.0.1", "--port", str(port),
             "--no-dashboard"], cwd=work, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL))
        for index in range(2):
            processes.append(subprocess.Popen(
                [sys.executable, "-m", "wavebeans_nb.cli", "facilitator", address, "--nthreads", "1",
                 "--host", "127.0.0.1", "--name", f"facilitator-{index}"],
                cwd=work, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL))
        _wait_for_workers(address, 2)
        status = _run_script(script, distributed, "--mode", "distributed", "--scheduler", address,
                             "--partitions", "2")
        assert status == 0
        assert_same_files(str(single), str(distributed), FILES)
    finally:
        for process in reversed(processes):
            process.kill()
        for process in processes:
            process.wait(timeout=30)


def test_run_multi_matches_single(script, tmp_path):
    single, multi = tmp_path / "single", tmp_path / "multi"
    single.mkdir()
    multi.mkdir()
    assert _run_script(script, single, "--mode", "single") == 0
    assert _run_script(script, multi, "--mode", "multi", "--partitions", "3") == 0
    assert_same_files(str(single), str(multi), FILES)


def test_run_without_outputs_fails(tmp_path, capsys):
    path = tmp_path / "empty.py"
    path.write_text("x = 1\n")
    assert main(["run", str(path)]) == 2
    assert "defines no outputs" in capsys.readouterr().err


def test_demo_distributed_matches_single(tmp_path):
    assert main(["demo", "--mode", "single", "--output-dir", str(tmp_path / "single")]) == 0
    assert main(["demo", "--output-dir", str(tmp_path / "distributed")]) == 0  # distributed is the default
    left, rate_left = sf.read(str(tmp_path / "single" / "demo.wav"), dtype="int16")
    right, rate_right = sf.read(str(tmp_path / "distributed" / "demo.wav"), dtype="int16")
    assert rate_left == rate_right
    assert np.array_equal(left, right)
