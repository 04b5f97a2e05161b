"""The magics and the status widget in a real IPython kernel, driven over the Jupyter protocol.

Each test starts a kernel of this interpreter, runs a job without waiting,
runs other cells while the job still runs, reads the widget's comm messages
and cancels the job from the kernel.
"""

from __future__ import annotations

import importlib.util
import queue
import sys
import time

import pytest

jupyter_client = pytest.importorskip("jupyter_client")

STARTUP = """
import numpy as np
import wavebeans_nb as wb
%load_ext wavebeans_nb
endless = wb.sine(440.0).map_blocks(np.tanh).to_dev_null()
"""


class Kernel:
    """A started kernel, its client and every iopub message read so far."""

    def __init__(self) -> None:
        self.manager = jupyter_client.KernelManager(kernel_name="python3")
        self.manager.kernel_spec.argv[0] = sys.executable  # this interpreter, with wavebeans_nb installed
        self.manager.start_kernel()
        self.client = self.manager.client()
        self.client.start_channels()
        self.client.wait_for_ready(timeout=60)
        self.messages: list[dict] = []

    def execute(self, code: str, timeout: float = 60.0) -> dict:
        """Run ``code`` and return its reply plus the iopub messages of that cell (key ``outputs``)."""
        msg_id = self.client.execute(code)
        reply = self.client.get_shell_msg(timeout=timeout)
        while reply["parent_header"].get("msg_id") != msg_id:
            reply = self.client.get_shell_msg(timeout=timeout)
        outputs = []
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            message = self.client.get_iopub_msg(timeout=timeout)
            self.messages.append(message)
            if message["parent_header"].get("msg_id") != msg_id:
                continue
            if message["msg_type"] == "status" and message["content"]["execution_state"] == "idle":
                break
            outputs.append(message)
        return {"reply": reply, "outputs": outputs}

    def drain(self, seconds: float) -> None:
        """Read iopub messages for ``seconds`` seconds."""
        deadline = time.monotonic() + seconds
        while time.monotonic() < deadline:
            try:
                self.messages.append(self.client.get_iopub_msg(timeout=0.1))
            except queue.Empty:
                pass

    def value(self, expression: str, timeout: float = 60.0) -> str:
        """Return the ``text/plain`` result of ``expression``, failing on an error."""
        result = self.execute(expression, timeout)
        assert result["reply"]["content"]["status"] == "ok", result["reply"]["content"]
        for message in result["outputs"]:
            if message["msg_type"] == "execute_result":
                return message["content"]["data"]["text/plain"]
        raise AssertionError(f"{expression!r} gave no result: {[m['msg_type'] for m in result['outputs']]}")

    def updates(self) -> list[dict]:
        """Return the state of every widget ``update`` comm message read so far, in order."""
        return [m["content"]["data"]["state"] for m in self.messages
                if m["msg_type"] == "comm_msg" and m["content"]["data"].get("method") == "update"]

    def close(self) -> None:
        self.client.stop_channels()
        self.manager.shutdown_kernel(now=True)


@pytest.fixture
def kernel():
    started = Kernel()
    try:
        result = started.execute(STARTUP)
        assert result["reply"]["content"]["status"] == "ok", result["reply"]["content"]
        yield started
    finally:
        started.close()


def _html_values(updates: list[dict]) -> list[str]:
    return [state["value"] for state in updates if isinstance(state.get("value"), str)]


def check_job_in_background(kernel: Kernel, run_line: str) -> None:
    started = kernel.execute(f"job = {run_line}")
    assert started["reply"]["content"]["status"] == "ok", started["reply"]["content"]
    displays = [m for m in started["outputs"] if m["msg_type"] == "display_data"]
    assert displays, "the run magic displayed no status widget"
    assert "application/vnd.jupyter.widget-view+json" in displays[0]["content"]["data"]

    # Another cell runs while the job (on an endless stream) is still running.
    assert kernel.value("6 * 7", timeout=10.0) == "42"
    assert kernel.value("job.state", timeout=10.0) == "'running'"

    # The widget's model changes over the comm as the job progresses.
    kernel.drain(2.0)
    numbers = [value for value in _html_values(kernel.updates()) if "elements" in value]
    assert len(set(numbers)) >= 2, f"the progress text did not change: {numbers[-3:]}"

    # Cancelling from the kernel ends the job, and the view shows it.
    assert kernel.value("%wavebeans stop 1\njob.state", timeout=30.0) == "'cancelled'"
    kernel.drain(1.0)
    states = [value for value in _html_values(kernel.updates()) if "cancelled" in value]
    assert states, "the widget never showed the cancelled state"
    assert kernel.value("job.monitor.finished") == "True"


def test_kernel_multi_threaded_job_runs_in_background(kernel):
    check_job_in_background(kernel, "%wavebeans run endless --mode multi --partitions 2 --sample-rate 8000 --no-wait")


def test_kernel_jobs_lists_states(kernel):
    kernel.execute("finite = wb.sine(10.0).trim(50).to_dev_null()")
    kernel.execute("%wavebeans run finite --mode single --sample-rate 8000")
    listing = kernel.value("%wavebeans jobs")
    assert "#1" in listing
    assert "done" in listing
    assert "finite" in listing


@pytest.mark.skipif(importlib.util.find_spec("wavebeans_nb.distributed.overseer") is None,
                    reason="the distributed overseer is not available")
def test_kernel_distributed_job_runs_in_background(kernel):
    setup = kernel.execute("import logging\nlogging.getLogger('distributed').setLevel(logging.ERROR)\n"
                           "%wavebeans cluster --workers 2 --threads 1")
    assert setup["reply"]["content"]["status"] == "ok", setup["reply"]["content"]
    try:
        check_job_in_background(kernel, "%wavebeans run endless --mode distributed --partitions 2 "
                                        "--sample-rate 8000 --no-wait")
        facilitators = kernel.value("len(job.monitor.snapshot.facilitators)")
        assert facilitators == "2"
    finally:
        kernel.execute("%wavebeans cluster --close", timeout=60.0)
