"""Smoke test of the benchmark suite: a tiny run writes a table with a row per scenario and job."""

from __future__ import annotations

import re
import shutil

import numpy as np
import pytest
import soundfile as sf

from benchmarks import suite
from benchmarks.suite_report import format_report

MODES = ("single", "multi-1", "multi-2")


def _table_rows(page: str, scenario: str) -> dict[str, str]:
    """Return the rows of the scenario's table in ``page``, by job title."""
    section = page.split(f"### {scenario}:", 1)[1].split("\n### ", 1)[0]
    rows = [line for line in section.splitlines() if line.startswith("| ") and not line.startswith("| job")]
    return {row.split(" | ")[0].lstrip("| "): row for row in rows}


@pytest.fixture(scope="module")
def suite_run(tmp_path_factory):
    """Run every scenario for 2 s of audio, 1 repeat, with the distributed overseer reported missing."""
    directory = tmp_path_factory.mktemp("suite")
    page = directory / "benchmarks.md"
    page.write_text("# Benchmarks\n\n<!-- other:start -->\nkept\n<!-- other:end -->\n", encoding="utf-8")
    options = suite.SuiteOptions(minutes=2 / 60, repeats=1, modes=MODES + ("dist-2",), output=str(page),
                                 memory_minutes=(), row_memory=False, workdir=str(directory))
    original = suite.load_distributed_overseer

    def missing():
        raise ImportError("not built in this test")

    suite.load_distributed_overseer = missing
    try:
        results = suite.run_suite(options)
    finally:
        suite.load_distributed_overseer = original
    return results, page.read_text(encoding="utf-8")


def test_suite_table_has_every_row(suite_run):
    results, page = suite_run
    for name, scenario in suite.SCENARIOS.items():
        rows = _table_rows(page, name)
        for row in MODES + tuple(scenario.baselines):
            title = suite.MODE_TITLES.get(row) or suite.BASELINE_TITLES[row]
            assert title in rows, f"{name}: no row {title!r}"


def test_suite_rows_ran_and_passed_checks(suite_run):
    results, page = suite_run
    for (name, row), result in results.rows.items():
        if row == "dist-2" or (row.startswith("sox") and shutil.which("sox") is None):
            continue
        assert result.failed is None, f"{name}/{row}: {result.failed}"
        assert len(result.times) == 1, f"{name}/{row}"
        assert result.check, f"{name}/{row} has no output check"


def test_suite_timed_rows_show_median(suite_run):
    _, page = suite_run
    single = _table_rows(page, "sample")[suite.MODE_TITLES["single"]]
    cells = [cell.strip() for cell in single.strip("|").split("|")]
    assert re.fullmatch(r"\d+\.\d{3}", cells[1]), single
    assert cells[5].endswith("x"), single


def test_suite_distributed_missing_is_not_run(suite_run):
    _, page = suite_run
    for name in suite.SCENARIOS:
        row = _table_rows(page, name)[suite.MODE_TITLES["dist-2"]]
        assert "not run:" in row, row
        assert "not importable" in row, row


def test_suite_sox_missing_is_not_run(monkeypatch, tmp_path):
    monkeypatch.setattr(suite, "sox_available", lambda: False)
    with pytest.raises(suite.NotRun, match="sox"):
        suite.run_baseline(suite.SCENARIOS["sample"], "sox", suite.Inputs(str(tmp_path), 100), str(tmp_path))


def test_suite_section_keeps_other_sections(suite_run):
    _, page = suite_run
    assert "<!-- other:start -->\nkept\n<!-- other:end -->" in page
    assert page.count("<!-- suite:start -->") == 1
    assert page.count("<!-- suite:end -->") == 1
    for heading in ("### Targets", "Machine:", "Command: `python -m benchmarks"):
        assert heading in page, heading


def test_suite_report_formats_again(suite_run):
    results, page = suite_run
    assert format_report(results).splitlines()[0] in page


def test_inputs_are_looped_recordings(tmp_path):
    from scipy.signal import resample_poly

    inputs = suite.prepare_inputs(str(tmp_path), 4.0 / 60, ["voice_b"])
    samples, rate = sf.read(inputs.path("voice_b"), dtype="float64")
    recording, _ = sf.read(suite.ARCTIC_A0009, dtype="float64")
    expected = resample_poly(recording, 441, 160)
    assert rate == 44100
    assert len(samples) == inputs.frames == 176400
    assert len(expected) < len(samples)
    looped = np.concatenate([expected, expected])[: len(samples)]
    assert np.max(np.abs(samples - looped)) <= 0.5 / 32768 + 1e-12


def test_memory_peak_fresh_process(tmp_path):
    from benchmarks.memory import measure_peak

    inputs = suite.prepare_inputs(str(tmp_path), 1.0 / 60, ["speech"])
    peaks = measure_peak("sample", "numpy", inputs, timeout=60.0)
    assert "failed" not in peaks, peaks
    assert peaks["workers"] == []
    assert peaks["children"] == 0
    # The child imports numpy, scipy and wavebeans_nb, which alone take tens of MB.
    assert 20e6 < peaks["process"] < 2e9, peaks


def test_transfer_table_has_every_placement():
    from benchmarks.transfer import measure_transfer

    table = measure_transfer(seconds=0.5, repeats=1)
    rows = [line for line in table.splitlines() if line.startswith("| ") and not line.startswith("| placement")]
    titles = [row.split(" | ")[0].lstrip("| ") for row in rows]
    assert titles == ["one worker (no transfer)", "two workers, comms", "two workers, shared memory",
                      "two workers, comms, 8192-sample chunks, 16 per call"]
    for row in rows:
        throughput = float(row.rstrip(" |").rsplit("| ", 1)[1])
        assert throughput > 0, row


class _RecordingClusters:
    """Stands in for suite.Clusters: tracks which worker counts have a cluster up, starting none."""

    def __init__(self) -> None:
        self.running: set[int] = {1, 2}

    def close(self, keep: int = 0) -> None:
        self.running &= {keep}


def test_rows_timed_with_own_cluster(monkeypatch, tmp_path):
    clusters = _RecordingClusters()
    runs: list[tuple[str, frozenset]] = []

    def run_row(scenario, row, inputs, out, clusters_arg, timeout, verify=False):
        workers = suite._workers_of(row)
        if workers:
            clusters.running.add(workers)  # as Clusters.client starts a cluster on first use
        runs.append((row, frozenset(clusters.running)))

    monkeypatch.setattr(suite, "run_row", run_row)
    rows = {("stft", row): suite.RowResult("stft", row) for row in ("dist-2", "single", "dist-1", "numpy")}
    rows[("stft", "numpy")].not_run = "skipped in this test"
    suite._time_rows(rows, inputs=None, root=str(tmp_path), clusters=clusters,
                     options=suite.SuiteOptions(repeats=2))

    expected_round = [("single", frozenset()), ("dist-1", frozenset({1})), ("dist-1", frozenset({1})),
                      ("dist-2", frozenset({2})), ("dist-2", frozenset({2}))]
    assert runs == expected_round * 2  # each cluster's row runs once untimed, then timed
    assert {row: len(result.times) for (_, row), result in rows.items()} == \
        {"dist-2": 2, "single": 2, "dist-1": 2, "numpy": 0}
    assert clusters.running == set()


def test_split_bound_programs_agree():
    from benchmarks import split_bound

    results = split_bound.measure(runs=1, minutes=2 / 60)
    frames = int(round(2 * suite.RATE))
    assert results["rows"] == suite.stft_frame_count(frames)
    section = split_bound.format_section(results, runs=1, minutes=2 / 60)
    assert "| two processes |" in section
    assert "Speed-up of two processes over one" in section


@pytest.mark.parametrize("script, arguments", [
    ("sample_pipeline", ["--minutes", "0.05", "--runs", "1"]),
    ("stft", ["--minutes", "0.05", "--runs", "1"]),
    ("partitions", ["--minutes", "0.05", "--runs", "1"]),
    ("transfer", ["--seconds", "2", "--repeats", "1"]),
], ids=["sample_pipeline", "stft", "partitions", "transfer"])
def test_section_scripts_print_a_table(script, arguments, capsys):
    import importlib

    module = importlib.import_module(f"benchmarks.{script}")
    assert module.main(arguments + ["--no-write"]) == 0
    printed = capsys.readouterr().out
    assert printed.startswith("## "), printed[:200]
    assert "| median" in printed or "median (s)" in printed, printed[:400]
