"""The %wavebeans magics in an in-process IPython shell: parsing, help, errors and real runs."""

from __future__ import annotations

import numpy as np
import pytest
import soundfile as sf
from IPython.core.error import UsageError
from IPython.core.interactiveshell import InteractiveShell

import wavebeans_nb as wb
from wavebeans_nb.data import ARCTIC_A0007
from wavebeans_nb.notebook import magics as magics_module
from wavebeans_nb.notebook.drawing import Drawing
from wavebeans_nb.notebook.magics import WaveBeansMagics


@pytest.fixture
def shell():
    instance = InteractiveShell.instance()
    magics = WaveBeansMagics(instance)
    instance.register_magics(magics)
    instance.user_ns["wb"] = wb
    names = set(instance.user_ns)
    yield instance
    for job in magics.jobs:
        job.close()
    for name in set(instance.user_ns) - names:
        del instance.user_ns[name]


def magic(shell, line: str):
    return shell.run_line_magic("wavebeans", line)


# -- parsing and help -------------------------------------------------------------------------------------


def test_run_arguments_defaults():
    args = magics_module._run_args.parser.parse_argstring("a b")
    assert args.outputs == ["a", "b"]
    assert args.mode == "multi"
    assert args.partitions == 1
    assert args.threads is None
    assert args.sample_rate is None
    assert args.no_wait is False


def test_run_arguments_all_options():
    args = magics_module._run_args.parser.parse_argstring(
        "mix --mode distributed --partitions 3 --threads 2 --sample-rate 16000 --no-wait")
    assert (args.mode, args.partitions, args.threads, args.sample_rate, args.no_wait) == \
        ("distributed", 3, 2, 16000.0, True)


@pytest.mark.parametrize("line", ["--mode fast", "--partitions 0", "--partitions two", "--threads -1",
                                  "--sample-rate 0", "--sample-rate abc"])
def test_run_rejects_invalid_options(shell, line):
    with pytest.raises(UsageError):
        magic(shell, f"run {line}")


@pytest.mark.parametrize("command", ["run", "draw", "cluster", "jobs", "stop"])
def test_subcommand_help(shell, capsys, command):
    assert magic(shell, f"{command} --help") is None
    text = capsys.readouterr().out
    assert f"%wavebeans {command}" in text
    assert "--help" in text


def test_run_help_names_options(shell, capsys):
    magic(shell, "run -h")
    text = capsys.readouterr().out
    for option in ("--mode", "--partitions", "--threads", "--sample-rate", "--no-wait"):
        assert option in text


def test_overview_lists_subcommands(shell, capsys):
    magic(shell, "")
    text = capsys.readouterr().out
    for command in ("cluster", "run", "draw", "jobs", "stop", "%%wavebeans"):
        assert command in text


def test_cell_magic_help(shell, capsys):
    assert shell.run_cell_magic("wavebeans", "--help", "x = 1") is None
    assert "%%wavebeans" in capsys.readouterr().out
    assert "x" not in shell.user_ns


def test_magic_docstring_has_every_subcommand():
    doc = WaveBeansMagics.wavebeans.__doc__
    for command in ("%wavebeans run", "%wavebeans draw", "%wavebeans cluster", "%wavebeans stop", "%%wavebeans"):
        assert command in doc


def test_unknown_subcommand(shell):
    with pytest.raises(UsageError, match="unknown subcommand 'launch'.*cluster, run, draw, jobs, stop"):
        magic(shell, "launch x")


# -- outputs from the namespace ----------------------------------------------------------------------------------


def test_unknown_variable(shell):
    with pytest.raises(UsageError, match="name 'missing' is not defined"):
        magic(shell, "run missing")


def test_variable_not_an_output(shell):
    shell.user_ns["tone"] = wb.sine(440.0)
    with pytest.raises(UsageError, match="'tone' is a .*not an output"):
        magic(shell, "run tone")


def test_no_outputs_in_namespace(shell):
    with pytest.raises(UsageError, match="no output variables"):
        magic(shell, "run")


def test_resolve_outputs_every_variable_once(shell):
    out = wb.sine(1.0).trim(1).to_dev_null()
    other = wb.sine(2.0).trim(1).to_dev_null()
    shell.user_ns.update(first=out, alias=out, second=other, _hidden=wb.sine(3.0).trim(1).to_dev_null())
    magics = shell.magics_manager.registry["WaveBeansMagics"]
    names, outputs = magics.resolve_outputs([])
    assert names == ["first", "second"]
    assert outputs == [out, other]


def test_resolve_outputs_expands_lists(shell):
    pair = [wb.sine(1.0).trim(1).to_dev_null(), wb.sine(2.0).trim(1).to_dev_null()]
    shell.user_ns["pair"] = pair
    names, outputs = shell.magics_manager.registry["WaveBeansMagics"].resolve_outputs(["pair"])
    assert names == ["pair[0]", "pair[1]"]
    assert outputs == pair


# -- running ----------------------------------------------------------------------------------------------------------


@pytest.mark.parametrize("mode", ["single", "multi"])
def test_run_writes_wav(shell, tmp_path, mode):
    path = tmp_path / "tone.wav"
    shell.user_ns["tone"] = (wb.sine(440.0) * 0.5).trim(250).to_wav(str(path))
    job = magic(shell, f"run tone --mode {mode} --partitions 2 --sample-rate 8000")
    assert job.state == "done"
    assert [result.finished for result in job.wait(30)] == [True]
    data, rate = sf.read(path)
    expected = 0.5 * np.sin(2 * np.pi * 440.0 * np.arange(2000) / 8000.0)
    assert rate == 8000
    assert len(data) == 2000
    np.testing.assert_allclose(data, expected, atol=1.0 / 32768 + 1e-9)


def test_run_rate_of_resampled_stream(shell):
    shell.user_ns["low"] = wb.wave(ARCTIC_A0007).resample(8000).trim(10).to_dev_null()
    assert magic(shell, "run low --mode single").sample_rate == 8000.0


def test_run_infers_rate_of_wav_input(shell, tmp_path):
    shell.user_ns["speech"] = wb.wave(ARCTIC_A0007).trim(100).to_wav(str(tmp_path / "speech.wav"))
    job = magic(shell, "run speech --mode single")
    assert job.sample_rate == 16000.0
    assert sf.info(str(tmp_path / "speech.wav")).frames == 1600


def test_run_rejects_mixed_input_rates(shell, tmp_path):
    shell.user_ns["speech"] = wb.wave(ARCTIC_A0007, resample=False).to_dev_null()
    shell.user_ns["resampled"] = wb.wave(ARCTIC_A0007).resample(8000).to_dev_null()
    with pytest.raises(UsageError, match=r"different sample rates \(8000, 16000 Hz\)"):
        magic(shell, "run speech resampled --mode single")


def test_run_failure_is_reported_not_raised(shell):
    def broken(block):
        raise ValueError("bad block")

    shell.user_ns["bad"] = wb.sine(1.0).map_blocks(broken).trim(10).to_dev_null()
    job = magic(shell, "run bad --mode single --sample-rate 8000")
    assert job.state == "failed"
    assert "ValueError: bad block" in job.summary()


def test_run_no_wait_and_stop(shell):
    shell.user_ns["endless"] = wb.sine(1.0).to_dev_null()
    job = magic(shell, "run endless --mode multi --sample-rate 8000 --no-wait")
    assert job.state == "running"
    stopped = magic(shell, f"stop {job.number}")
    assert stopped is job
    assert job.state == "cancelled"
    listing = repr(magic(shell, "jobs"))
    assert "cancelled" in listing
    assert "endless" in listing


def test_stop_unknown_job(shell):
    with pytest.raises(UsageError, match="job '9' not found"):
        magic(shell, "stop 9")


def test_stop_needs_a_job(shell):
    with pytest.raises(UsageError, match="say which job"):
        magic(shell, "stop")


def test_jobs_empty(shell):
    assert repr(magic(shell, "jobs")) == "no jobs started in this kernel yet"


def test_cell_magic_runs_new_outputs_only(shell, tmp_path):
    shell.user_ns["old"] = wb.sine(1.0).trim(1).to_dev_null()
    cell = f"new = (wb.sine(440.0) * 0.25).trim(100).to_wav({str(tmp_path / 'new.wav')!r})\nunused = 1"
    job = shell.run_cell_magic("wavebeans", "--mode single --sample-rate 8000", cell)
    assert job.names == ["new"]
    assert job.state == "done"
    assert sf.info(str(tmp_path / "new.wav")).frames == 800


def test_cell_magic_runs_replaced_outputs(shell):
    shell.user_ns["out"] = wb.sine(1.0).trim(1).to_dev_null()
    job = shell.run_cell_magic("wavebeans", "--mode single --sample-rate 8000",
                               "out = wb.sine(2.0).trim(1).to_dev_null()")
    assert job.names == ["out"]


def test_cell_magic_without_outputs(shell):
    with pytest.raises(UsageError, match="defined no new outputs"):
        shell.run_cell_magic("wavebeans", "--mode single", "x = 1")


def test_cell_magic_cell_error_runs_nothing(shell):
    result = shell.run_cell_magic("wavebeans", "--mode single", "out = wb.sine(1.0).to_dev_null()\n1 / 0")
    assert result is None
    assert len(shell.magics_manager.registry["WaveBeansMagics"].jobs) == 0


# -- drawing ------------------------------------------------------------------------------------------------------------


@pytest.mark.parametrize("what, summary", [("topology", "topology: 4 beans"), ("pods", "pods:"),
                                           ("plan", "distribution plan:")])
def test_draw(shell, what, summary):
    shell.user_ns["mix"] = (wb.sine(1.0) + wb.sine(2.0)).to_dev_null()
    drawing = magic(shell, f"draw {what} mix --partitions 2")
    assert isinstance(drawing, Drawing)
    assert drawing.summary.startswith(summary)


def test_draw_needs_a_kind(shell):
    shell.user_ns["mix"] = wb.sine(1.0).to_dev_null()
    with pytest.raises(UsageError, match="say what to draw"):
        magic(shell, "draw")


def test_run_planner_option():
    args = magics_module._run_args.parser.parse_argstring("mix --planner affinity")
    assert args.planner == "affinity"
    assert magics_module._run_args.parser.parse_argstring("mix").planner == "even"


def test_draw_plan_with_affinity_planner(shell):
    shell.user_ns["mix"] = (wb.sine(1.0) + wb.sine(2.0)).to_dev_null()
    drawing = magic(shell, "draw plan mix --partitions 2 --workers 3 --planner affinity")
    assert drawing.summary.startswith("distribution plan:")
    assert "on 3 facilitator(s)" in drawing.summary
