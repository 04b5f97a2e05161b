"""Command line of the benchmark suite: ``python -m benchmarks [options]`` from the repository root.

The full run (``python -m benchmarks``) takes 10 minutes of audio per scenario and 5 repeats;
see docs/benchmarks.md for the results and how long a run takes.
"""

from __future__ import annotations

import argparse
import logging
import shlex
import sys

from .common import RESULTS_PAGE
from .suite import MODES, SCENARIOS, SuiteOptions, run_suite


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m benchmarks",
        description="Run every benchmark scenario in every execution mode against baselines and write a table.")
    parser.add_argument("--minutes", type=float, default=10.0,
                        help="length of every scenario's input in minutes of 44.1 kHz audio (default: %(default)s)")
    parser.add_argument("--repeats", type=int, default=5,
                        help="timed runs of every row; the table gives their median (default: %(default)s)")
    parser.add_argument("--scenarios", nargs="+", choices=list(SCENARIOS), default=list(SCENARIOS),
                        help="scenarios to run (default: all)")
    parser.add_argument("--modes", nargs="+", choices=list(MODES), default=list(MODES),
                        help="engine modes to run (default: all); baselines always run")
    parser.add_argument("--memory-minutes", nargs="*", type=float, default=[1.0, 60.0],
                        help="input lengths in minutes of the memory scenario; none skips it (default: 1 60)")
    parser.add_argument("--no-row-memory", action="store_true",
                        help="skip the extra untimed run per row that measures its peak memory")
    parser.add_argument("--output", default=RESULTS_PAGE,
                        help="markdown page whose suite section is replaced (default: docs/benchmarks.md)")
    parser.add_argument("--no-write", action="store_true", help="print the report without writing a page")
    parser.add_argument("--workdir", help="directory for the temporary input and output files (default: system temp)")
    parser.add_argument("--verbose", action="store_true", help="log every check and every timed run")
    parser.add_argument("--transfer-seconds", type=float, default=600.0,
                        help="seconds of 48 kHz audio in the chunk transfer table; 0 skips it (default: %(default)s)")
    return parser


def main(argv: list[str] | None = None) -> int:
    arguments = sys.argv[1:] if argv is None else list(argv)
    args = _parser().parse_args(arguments)
    if args.repeats < 1:
        _parser().error(f"--repeats {args.repeats} is invalid; pass 1 or more")
    if args.minutes <= 0:
        _parser().error(f"--minutes {args.minutes} is invalid; pass a positive length")
    logging.basicConfig(level=logging.INFO if args.verbose else logging.WARNING,
                        format="%(asctime)s %(name)s %(levelname)s %(message)s")
    if not args.verbose:
        # Dask configures its own loggers at INFO, and every round starts and closes clusters.
        logging.getLogger("distributed").setLevel(logging.WARNING)
    options = SuiteOptions(
        minutes=args.minutes, repeats=args.repeats, scenarios=tuple(args.scenarios), modes=tuple(args.modes),
        output=None if args.no_write else args.output, memory_minutes=tuple(args.memory_minutes),
        row_memory=not args.no_row_memory, workdir=args.workdir,
        command=" ".join(["python -m benchmarks", *map(shlex.quote, arguments)]).strip(),
    )
    results = run_suite(options)

    from .suite_report import format_report

    print(format_report(results))
    if args.transfer_seconds > 0:
        from .common import replace_section
        from .transfer import measure_transfer

        table = measure_transfer(args.transfer_seconds, args.repeats)
        print(table)
        if not args.no_write:
            replace_section("transfer", table, args.output)
    failed = [f"{scenario}/{row}" for (scenario, row), result in results.rows.items() if result.failed]
    if failed:
        print(f"failed rows: {', '.join(failed)}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
