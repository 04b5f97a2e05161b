"""The ``wavebeans`` command line.

Each subcommand is a pair of functions: ``add_<name>_command(subcommands)``
declares its arguments and sets ``handler``, and the handler runs it and
returns the exit status. Register new subcommands in :data:`SUBCOMMANDS`.
"""

from __future__ import annotations

import argparse
import logging
import os
import sys
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
    parser.set_defaults(handler=run_demo)


def run_demo(args: argparse.Namespace) -> int:
    """Run the demo graph single-threaded and print where its outputs went."""
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
    with wb.SingleThreadedOverseer(outputs) as overseer:
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
    return status


#: Functions that add one subcommand each to the ``wavebeans`` parser.
SUBCOMMANDS: list[Callable[[argparse._SubParsersAction], None]] = [add_demo_command]


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
    return handler(args)


if __name__ == "__main__":
    sys.exit(main())
