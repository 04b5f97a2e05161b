"""Helpers shared by the benchmarks: timing, machine description, test recordings, results page."""

from __future__ import annotations

import argparse
import os
import platform
import re
import statistics
import time
from typing import Callable

import numpy as np
import soundfile as sf

#: The page every benchmark writes its section into.
RESULTS_PAGE = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "docs", "benchmarks.md")


def time_runs(fn: Callable[[], object], runs: int) -> list[float]:
    """Call ``fn`` ``runs`` times and return each wall-clock time in seconds."""
    times = []
    for _ in range(runs):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return times


def median(times: list[float]) -> float:
    return statistics.median(times)


def _cpu_model() -> str:
    try:
        with open("/proc/cpuinfo") as cpuinfo:
            for line in cpuinfo:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def machine_description() -> str:
    """Return one line naming the CPU, core count, OS and the versions that matter for speed."""
    import scipy

    return (
        f"{_cpu_model()}, {os.cpu_count()} logical CPUs, {platform.system()} {platform.release()}; "
        f"Python {platform.python_version()}, numpy {np.__version__}, scipy {scipy.__version__}, "
        f"soundfile {sf.__version__} (libsndfile {sf.__libsndfile_version__})"
    )


def write_looped_recording(source: str, target: str, seconds: float, block_frames: int = 65536) -> int:
    """Write ``source`` repeated end to end until ``seconds`` long, in blocks; return the frame count.

    The copy keeps the source's sample rate, channels and subtype.
    """
    info = sf.info(source)
    total = int(round(seconds * info.samplerate))
    written = 0
    with sf.SoundFile(target, "w", info.samplerate, info.channels, info.subtype, format="WAV") as out:
        while written < total:
            with sf.SoundFile(source) as loop:
                for block in loop.blocks(blocksize=block_frames, dtype="int32"):
                    block = block[: total - written]
                    out.write(block)
                    written += len(block)
                    if written >= total:
                        break
    return written


def replace_section(name: str, markdown: str, page: str = RESULTS_PAGE) -> None:
    """Put ``markdown`` between the ``<!-- name:start -->`` and ``<!-- name:end -->`` markers of ``page``.

    The section is appended when the markers are not there yet.
    """
    start, end = f"<!-- {name}:start -->", f"<!-- {name}:end -->"
    block = f"{start}\n{markdown.rstrip()}\n{end}"
    text = open(page, encoding="utf-8").read() if os.path.exists(page) else "# Benchmarks\n"
    pattern = re.compile(re.escape(start) + r".*?" + re.escape(end), re.DOTALL)
    if pattern.search(text):
        text = pattern.sub(lambda _: block, text)
    else:
        text = text.rstrip() + "\n\n" + block + "\n"
    with open(page, "w", encoding="utf-8") as file:
        file.write(text)


def run_section_script(section: str, parser: argparse.ArgumentParser, argv: list[str] | None,
                       make_section: Callable[[argparse.Namespace], str]) -> int:
    """Run a benchmark script: parse ``argv``, print the section it measures, and write it to the results page.

    ``parser`` gets a ``--no-write`` option, which skips the writing.
    ``make_section`` measures with the parsed arguments and returns the
    section's markdown. Returns the exit status, 0.
    """
    parser.add_argument("--no-write", action="store_true", help="print the results without updating the docs")
    args = parser.parse_args(argv)
    markdown = make_section(args)
    print(markdown)
    if not args.no_write:
        replace_section(section, markdown)
    return 0
