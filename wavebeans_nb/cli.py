"""The ``wavebeans`` command line.

Each subcommand is a pair of functions: ``add_<name>_command(subcommands)``
declares its arguments and sets ``handler``, and the handler runs it and
returns the exit status. Register new subcommands in :data:`SUBCOMMANDS`.
"""

from __future__ import annotations

import argparse
import logging
import os
import signal
import sys
import threading
from typing import Callable, Sequence

__all__ = ["main", "build_parser", "SUBCOMMANDS"]

#: Gain applied to the speech in the demo; the recording peaks at 0.65, so the mix stays below 1.
DEMO_GAIN = 1.2
#: Frequency (Hz) and amplitude of the quiet tone mixed under the speech in the demo.
DEMO_TONE = (440.0, 0.05)
#: Length of the demo result.
DEMO_LENGTH = "3s"


def add_demo_command(subcommands: argparse._SubParsersAction) -> None:
    parser = subcommands.add_parser(
        "demo",
        help="process a bundled speech recording and write a WAV and a CSV",
        description=(
            "Read the bundled recording arctic_a0007.wav (16 kHz speech), raise its gain, mix in a quiet "
            f"{DEMO_TONE[0]:g} Hz tone, keep the first {DEMO_LENGTH} and write the result as a 16-bit WAV "
            "and as a CSV of time (microseconds) and value."
        ),
    )
    parser.add_argument("--output-dir", default="out", metavar="DIR",
                        help="directory for demo.wav and demo.csv; created if missing (default: %(default)s)")
    _add_mode_arguments(parser, default_mode="distributed")
    parser.set_defaults(handler=run_demo)


def _add_mode_arguments(parser: argparse.ArgumentParser, default_mode: str) -> None:
    parser.add_argument("--mode", choices=["single", "multi", "distributed"], default=default_mode,
                        help="overseer: single-threaded, multi-threaded, or distributed on a Dask cluster "
                             "(default: %(default)s)")
    parser.add_argument("--partitions", type=int, default=2, metavar="N",
                        help="copies of each partitionable bean in multi and distributed mode (default: %(default)s)")
    parser.add_argument("--threads", type=int, default=None, metavar="N",
                        help="threads of the multi-threaded mode (default: one per CPU)")
    parser.add_argument("--scheduler", default=None, metavar="ADDRESS",
                        help="Dask scheduler address for distributed mode, such as tcp://10.0.0.5:8786; "
                             "without it an embedded cluster of 2 worker processes is started")


def make_overseer(args: argparse.Namespace, outputs: list):
    """Return the overseer that ``--mode`` (with ``--partitions``, ``--threads``, ``--scheduler``) selects."""
    import wavebeans_nb as wb

    if args.mode == "single":
        return wb.SingleThreadedOverseer(outputs)
    if args.mode == "multi":
        return wb.MultiThreadedOverseer(outputs, threads=args.threads, partitions=args.partitions)
    from wavebeans_nb.distributed import DistributedOverseer

    return DistributedOverseer(outputs, partitions=args.partitions, client=args.scheduler)


def run_demo(args: argparse.Namespace) -> int:
    """Run the demo graph in the chosen mode and print where its outputs went."""
    import wavebeans_nb as wb
    from wavebeans_nb.data import ARCTIC_A0007

    os.makedirs(args.output_dir, exist_ok=True)
    wav_path = os.path.abspath(os.path.join(args.output_dir, "demo.wav"))
    csv_path = os.path.abspath(os.path.join(args.output_dir, "demo.csv"))

    speech = wb.wave(ARCTIC_A0007)
    frequency, amplitude = DEMO_TONE
    mixed = (speech * DEMO_GAIN + wb.sine(frequency, amplitude)).trim(DEMO_LENGTH)
    outputs = [mixed.to_wav(wav_path, bit_depth=16), mixed.to_csv(csv_path, time_unit="us")]

    rate = wb.audio_info(ARCTIC_A0007).sample_rate
    with make_overseer(args, outputs) as overseer:
        results = [future.result() for future in overseer.eval(rate)]

    status = 0
    for path, result in zip((wav_path, csv_path), results):
        if result.finished:
            print(f"wrote {path}")
        else:
            print(f"failed to write {path}: {result.exception!r}", file=sys.stderr)
            status = 1
    if status == 0:
        print(f"{DEMO_LENGTH} of arctic_a0007.wav at {rate:g} Hz, gain {DEMO_GAIN:g}, "
              f"plus a {frequency:g} Hz tone at amplitude {amplitude:g}")
        where = f"on the cluster at {args.scheduler}" if args.scheduler else "on an embedded local cluster"
        mode = {"single": "single-threaded", "multi": f"multi-threaded, {args.partitions} partitions",
                "distributed": f"distributed {where}, {args.partitions} partitions"}[args.mode]
        print(f"evaluated {mode}")
    return status


def add_run_command(subcommands: argparse._SubParsersAction) -> None:
    parser = subcommands.add_parser(
        "run",
        help="evaluate the outputs a Python script defines",
        description=(
            "Execute SCRIPT as a module, then evaluate its outputs: the module-level variable `outputs` "
            "(an output or a list of outputs) if the script defines it, otherwise every Output object "
            "bound to a module-level name, in definition order."
        ),
    )
    parser.add_argument("script", metavar="SCRIPT", help="path of the Python script")
    parser.add_argument("--sample-rate", type=float, default=44100.0, metavar="HZ",
                        help="evaluation sample rate in Hz (default: %(default)g)")
    _add_mode_arguments(parser, default_mode="single")
    parser.set_defaults(handler=run_script)


def script_outputs(namespace: dict) -> list:
    """Return the outputs of an executed script's namespace (see the ``run`` command's description)."""
    import wavebeans_nb as wb

    if "outputs" in namespace:
        value = namespace["outputs"]
        return [value] if isinstance(value, wb.Output) else list(value)
    return [value for name, value in namespace.items() if not name.startswith("_") and isinstance(value, wb.Output)]


def run_script(args: argparse.Namespace) -> int:
    """Execute the script, evaluate its outputs in the chosen mode and print each result."""
    import runpy

    if not os.path.isfile(args.script):
        print(f"script {args.script!r} not found; pass the path of a Python file", file=sys.stderr)
        return 2
    # The script runs as a module named after its file (not __main__), so its code travels to workers by value.
    name = os.path.splitext(os.path.basename(args.script))[0]
    namespace = runpy.run_path(args.script, run_name=f"wavebeans_script_{name}")
    outputs = script_outputs(namespace)
    if not outputs:
        print(f"{args.script} defines no outputs; set `outputs = [...]` or bind outputs to module-level names",
              file=sys.stderr)
        return 2
    with make_overseer(args, outputs) as overseer:
        results = [future.result() for future in overseer.eval(args.sample_rate)]
    status = 0
    for output, result in zip(outputs, results):
        if result.finished:
            print(f"done: {output.label()}")
        else:
            print(f"failed: {output.label()}: {result.exception}", file=sys.stderr)
            status = 1
    return status


def add_facilitator_command(subcommands: argparse._SubParsersAction) -> None:
    parser = subcommands.add_parser(
        "facilitator",
        help="start a Dask worker that runs wavebeans pods",
        description="Start `dask worker SCHEDULER --preload wavebeans_nb.distributed.facilitator` "
                    "and wait until it exits.",
    )
    parser.add_argument("scheduler", metavar="SCHEDULER", help="scheduler address, such as tcp://10.0.0.5:8786")
    parser.add_argument("--nthreads", type=int, default=1, metavar="N",
                        help="threads of the worker (default: %(default)s)")
    parser.add_argument("--name", default=None, help="worker name shown by the scheduler")
    parser.add_argument("--host", default=None, help="address the worker listens on (default: chosen by Dask)")
    parser.add_argument("--tls-ca-file", default=None, metavar="PATH",
                        help="PEM file of the CA that signed the cluster's certificates (passed to dask worker)")
    parser.add_argument("--tls-cert", default=None, metavar="PATH",
                        help="PEM certificate of this worker (passed to dask worker)")
    parser.add_argument("--tls-key", default=None, metavar="PATH",
                        help="PEM private key of this worker (passed to dask worker)")
    parser.set_defaults(handler=run_facilitator)


def run_facilitator(args: argparse.Namespace) -> int:
    """Run a Dask worker with the Facilitator preloaded; return its exit status."""
    import subprocess

    command = [sys.executable, "-m", "distributed.cli.dask_worker", args.scheduler,
               "--nthreads", str(args.nthreads), "--preload", "wavebeans_nb.distributed.facilitator"]
    if args.name:
        command += ["--name", args.name]
    if args.host:
        command += ["--host", args.host]
    for option in ("tls_ca_file", "tls_cert", "tls_key"):
        value = getattr(args, option, None)
        if value:
            command += ["--" + option.replace("_", "-"), value]
    logging.getLogger(__name__).info("starting %s", " ".join(command))
    try:
        return subprocess.call(command)
    except KeyboardInterrupt:
        return 130


#: Functions that add one subcommand each to the ``wavebeans`` parser.
SUBCOMMANDS: list[Callable[[argparse._SubParsersAction], None]] = [
    add_demo_command, add_run_command, add_facilitator_command,
]


def build_parser() -> argparse.ArgumentParser:
    """Build the ``wavebeans`` argument parser with every registered subcommand."""
    parser = argparse.ArgumentParser(
        prog="wavebeans",
        description="Audio stream processing graphs: run the demo or other wavebeans-nb commands.",
    )
    parser.add_argument("--log-level", default="WARNING",
                        choices=["DEBUG", "INFO", "WARNING", "ERROR"],
                        help="level of log messages printed to stderr (default: %(default)s)")
    subcommands = parser.add_subparsers(title="commands", metavar="COMMAND")
    for add_command in SUBCOMMANDS:
        add_command(subcommands)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Parse ``argv`` (default: ``sys.argv[1:]``), run the subcommand and return its exit status."""
    parser = build_parser()
    args = parser.parse_args(argv)
    logging.basicConfig(level=args.log_level, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    handler = getattr(args, "handler", None)
    if handler is None:
        parser.print_help(sys.stderr)
        return 2
    from wavebeans_nb.errors import WaveBeansError

    # SIGTERM (kill, timeout) would end the process at once. As SystemExit, it lets the running
    # overseer close, so unfinished outputs are aborted and their temporary files removed.
    # The facilitator command leaves SIGTERM to the Dask worker it runs.
    catch_sigterm = handler is not run_facilitator and threading.current_thread() is threading.main_thread()
    previous = signal.signal(signal.SIGTERM, _exit_on_sigterm) if catch_sigterm else None
    try:
        return handler(args)
    except (WaveBeansError, OSError) as error:
        print(f"wavebeans: error: {error}", file=sys.stderr)
        return 2 if isinstance(error, WaveBeansError) else 1
    except KeyboardInterrupt:
        print("wavebeans: interrupted", file=sys.stderr)
        return 130
    finally:
        if catch_sigterm:
            signal.signal(signal.SIGTERM, previous)


def _exit_on_sigterm(signum: int, frame) -> None:
    raise SystemExit(128 + signum)


if __name__ == "__main__":
    sys.exit(main())
