"""Shared fixtures and helpers: paths to the bundled recordings, WAV makers, evaluation shortcuts."""

from __future__ import annotations

import os
from typing import Callable

import numpy as np
import pytest
import soundfile as sf

from wavebeans_nb.beans.base import Stream
from wavebeans_nb.beans.outputs.base import Output
from wavebeans_nb.data import ARCTIC_A0007, ARCTIC_A0009

#: Block sizes every block-size-independence check runs with (None is the default size).
BLOCK_SIZES = [1, 3, 1000, None]


@pytest.fixture
def tmp_dir(tmp_path) -> str:
    """A fresh directory for files a test writes, as a string path."""
    return str(tmp_path)


@pytest.fixture
def arctic_a0007() -> str:
    """Path of the 4 s, 16 kHz, 16-bit mono speech recording arctic_a0007.wav."""
    return ARCTIC_A0007


@pytest.fixture
def arctic_a0009() -> str:
    """Path of the 16 kHz, 16-bit mono speech recording arctic_a0009.wav."""
    return ARCTIC_A0009


@pytest.fixture(params=[ARCTIC_A0007, ARCTIC_A0009], ids=["a0007", "a0009"])
def recording(request) -> str:
    """Each bundled recording in turn."""
    return request.param


def write_wav(path: str, data: np.ndarray, sample_rate: int = 8000, subtype: str = "PCM_16",
              format: str = "WAV") -> str:
    """Write ``data`` (samples, or frames of shape (n, channels)) with soundfile and return ``path``."""
    sf.write(path, data, sample_rate, subtype=subtype, format=format)
    return path


@pytest.fixture
def make_wav(tmp_dir) -> Callable[..., str]:
    """Return a function ``make_wav(name, data, sample_rate=8000, subtype="PCM_16", format="WAV")``."""

    def make(name: str, data: np.ndarray, sample_rate: int = 8000, subtype: str = "PCM_16",
             format: str = "WAV") -> str:
        return write_wav(os.path.join(tmp_dir, name), data, sample_rate, subtype, format)

    return make


def collect(stream: Stream, sample_rate: float, block_size: int | None = None) -> np.ndarray:
    """Evaluate a sample (or frame) stream and return all its blocks joined."""
    blocks = list(stream.iter_blocks(sample_rate, block_size))
    if not blocks:
        return np.empty(0)
    return np.concatenate(blocks)


def elements(stream: Stream, sample_rate: float, block_size: int | None = None) -> list:
    """Evaluate a stream and return its elements as a list."""
    return list(stream.elements(sample_rate, block_size))


def run_output(output: Output, sample_rate: float, block_size: int | None = None) -> int:
    """Drive an output's writer to the end and close it; return the number of elements written.

    On an exception the writer is aborted, as an overseer would do, and the exception propagates.
    """
    writer = output.writer(sample_rate, block_size)
    try:
        while writer.write():
            pass
    except BaseException:
        writer.abort()
        raise
    writer.close()
    return writer.elements_written


@pytest.fixture(scope="module")
def cluster():
    """A LocalCluster of two worker processes (one thread each) with Facilitators, shared by a test module.

    Yields ``(cluster, client)``; both are closed after the module's last test.
    """
    from wavebeans_nb.distributed import start_local_cluster

    local, client = start_local_cluster(n_workers=2, threads_per_worker=1)
    try:
        yield local, client
    finally:
        client.close()
        local.close()


@pytest.fixture(scope="module")
def workers(cluster) -> list[str]:
    """Addresses of the workers of :func:`cluster`, sorted."""
    from wavebeans_nb.distributed.cluster import cluster_workers

    return sorted(cluster_workers(cluster[1]))
