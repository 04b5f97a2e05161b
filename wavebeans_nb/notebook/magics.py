"""The ``%wavebeans`` line magic and the ``%%wavebeans`` cell magic.

Load them with ``%load_ext wavebeans_nb``. Subcommands of the line magic:

* ``%wavebeans cluster [ADDRESS] [--workers N] [--threads N] [--close]``
* ``%wavebeans run [OUTPUTS ...] [--mode M] [--partitions N] [--threads N] [--sample-rate HZ] [--no-wait]``
* ``%wavebeans draw topology|pods|plan [OUTPUTS ...] [--partitions N] [--workers N]``
* ``%wavebeans jobs``
* ``%wavebeans stop JOB``

Every subcommand takes ``--help``. The cell magic runs its cell, then
evaluates the outputs the cell defined or replaced.
"""

from __future__ import annotations

import html
import logging
from typing import Any, Sequence

from IPython.core.error import UsageError
from IPython.core.magic import Magics, line_cell_magic, magics_class, output_can_be_silenced
from IPython.core.magic_arguments import argument, magic_arguments

from ..beans.outputs.base import Output
from ..errors import WaveBeansError
from .jobs import MODES, PLANNERS, Job, JobRegistry, make_planner, start_job

__all__ = ["WaveBeansMagics", "load_ipython_extension", "unload_ipython_extension"]

logger = logging.getLogger(__name__)

_HELP = argument("-h", "--help", action="store_true", help="Show this help and do nothing else.")


def _positive(text: str) -> int:
    value = int(text)
    if value < 1:
        raise ValueError(text)
    return value


def _rate(text: str) -> float:
    value = float(text)
    if not value > 0:
        raise ValueError(text)
    return value


_positive.__name__ = "whole number >= 1"
_rate.__name__ = "positive number of Hz"


# Parsers of the subcommands. The functions only carry the argparse definitions.

@magic_arguments(name="wavebeans cluster")
@_HELP
@argument("address", nargs="?", help="Address of a running Dask scheduler to connect to, "
          "such as tcp://127.0.0.1:8786. Without it, a local cluster of worker processes starts.")
@argument("--workers", type=_positive, default=2, help="Worker processes of a local cluster (default 2).")
@argument("--threads", type=_positive, default=1, help="Threads per worker of a local cluster (default 1).")
@argument("--close", action="store_true", help="Close the cluster this kernel started, or disconnect.")
def _cluster_args(line: str) -> None:
    """Start or connect to a Dask cluster whose workers act as Facilitators, and list them."""


@magic_arguments(name="wavebeans run")
@_HELP
@argument("outputs", nargs="*", metavar="OUTPUT",
          help="Names of notebook variables that contain outputs (or lists of outputs). "
               "Without names, every output variable of the notebook is run.")
@argument("--mode", choices=MODES, default="multi", help="Evaluation mode (default multi).")
@argument("--partitions", type=_positive, default=1, help="Copies of every partitionable bean (default 1).")
@argument("--threads", type=_positive, default=None,
          help="Pods computing at once in multi mode (default: the number of CPUs).")
@argument("--sample-rate", type=_rate, default=None, dest="sample_rate",
          help="Sample rate in Hz. Default: the rate of the input files, or 44100.")
@argument("--no-wait", action="store_true", dest="no_wait",
          help="Return at once and let the job run while other cells execute.")
@argument("--planner", choices=PLANNERS, default="even",
          help="How a distributed job spreads pods over workers: even slices of the pod list, or "
               "affinity (each partition's chain on one worker, weighed by threads). Default even.")
def _run_args(line: str) -> None:
    """Evaluate outputs and show a live status widget; return the job handle."""


@magic_arguments(name="wavebeans draw")
@_HELP
@argument("what", choices=("topology", "pods", "plan"), nargs="?", help="What to draw.")
@argument("outputs", nargs="*", metavar="OUTPUT",
          help="Names of notebook variables that contain outputs; without names, every output variable.")
@argument("--partitions", type=_positive, default=1, help="Partitions of the graph (default 1).")
@argument("--workers", type=_positive, default=2,
          help="For a plan without a connected cluster: how many imagined workers to plan on (default 2).")
@argument("--planner", choices=PLANNERS, default="even",
          help="How a distributed job spreads pods over workers: even slices of the pod list, or "
               "affinity (each partition's chain on one worker, weighed by threads). Default even.")
def _draw_args(line: str) -> None:
    """Draw the topology, the pods or the distribution plan of outputs."""


@magic_arguments(name="wavebeans jobs")
@_HELP
def _jobs_args(line: str) -> None:
    """List the jobs started from this kernel with their state."""


@magic_arguments(name="wavebeans stop")
@_HELP
@argument("job", nargs="?", help="Job number (as listed by %%wavebeans jobs) or job id.")
def _stop_args(line: str) -> None:
    """Cancel a running job; unfinished outputs keep their previous content."""


@magic_arguments(name="wavebeans")
@_HELP
@argument("--mode", choices=MODES, default="multi", help="Evaluation mode (default multi).")
@argument("--partitions", type=_positive, default=1, help="Copies of every partitionable bean (default 1).")
@argument("--threads", type=_positive, default=None, help="Pods computing at once in multi mode.")
@argument("--sample-rate", type=_rate, default=None, dest="sample_rate",
          help="Sample rate in Hz. Default: the rate of the input files, or 44100.")
@argument("--no-wait", action="store_true", dest="no_wait", help="Return at once; the job runs on.")
@argument("--planner", choices=PLANNERS, default="even",
          help="How a distributed job spreads pods over workers: even slices of the pod list, or "
               "affinity (each partition's chain on one worker, weighed by threads). Default even.")
def _cell_args(line: str) -> None:
    """Run the cell, then evaluate the outputs it defined or replaced (shown with a status widget)."""


SUBCOMMANDS = {"cluster": _cluster_args, "run": _run_args, "draw": _draw_args, "jobs": _jobs_args,
               "stop": _stop_args}


def _overview() -> str:
    lines = ["%wavebeans SUBCOMMAND [options]   (add --help after a subcommand for its options)", ""]
    for name, function in SUBCOMMANDS.items():
        lines.append(f"  {name:8} {function.parser.description.strip()}")
    lines += ["", "%%wavebeans [options] runs its cell, then evaluates the outputs the cell defined."]
    return "\n".join(lines)


class _Text:
    """A result shown as text, and as an HTML table where one is given."""

    def __init__(self, text: str, html_text: str | None = None) -> None:
        self.text = text
        self.html_text = html_text

    def _repr_pretty_(self, printer: Any, cycle: bool) -> None:
        printer.text(self.text)

    def _repr_html_(self) -> str | None:
        return self.html_text

    def __repr__(self) -> str:
        return self.text


def _table(header: Sequence[str], rows: Sequence[Sequence[Any]]) -> tuple[str, str]:
    """Return rows as aligned text and as an HTML table."""
    cells = [[str(value) for value in row] for row in [header, *rows]]
    widths = [max(len(row[i]) for row in cells) for i in range(len(header))]
    text = "\n".join("  ".join(value.ljust(width) for value, width in zip(row, widths)).rstrip() for row in cells)
    head = "".join(f"<th>{html.escape(value)}</th>" for value in cells[0])
    body = "".join("<tr>" + "".join(f"<td>{html.escape(value)}</td>" for value in row) + "</tr>"
                   for row in cells[1:])
    return text, f"<table><tr>{head}</tr>{body}</table>"


@magics_class
class WaveBeansMagics(Magics):
    """The ``%wavebeans`` magics; one instance per kernel keeps its jobs and cluster."""

    def __init__(self, shell: Any = None) -> None:
        super().__init__(shell)
        self.jobs = JobRegistry()
        self.client: Any = None
        self._cluster_session: Any = None
        self.status_interval = 0.5

    @output_can_be_silenced
    @line_cell_magic
    def wavebeans(self, line: str, cell: str | None = None) -> Any:
        if cell is not None:
            return self._cell(line, cell)
        command, _, rest = line.strip().partition(" ")
        if command in ("", "-h", "--help", "help"):
            print(_overview())
            return None
        if command not in SUBCOMMANDS:
            raise UsageError(f"unknown subcommand {command!r}; use one of {', '.join(SUBCOMMANDS)} "
                             "(%wavebeans --help lists them)")
        function = SUBCOMMANDS[command]
        args = function.parser.parse_argstring(rest)
        if args.help:
            print(function.parser.format_help())
            return None
        return getattr(self, f"_{command}")(args)

    # -- outputs from the namespace ----------------------------------------------------------------

    def _namespace(self) -> dict:
        return self.shell.user_ns if self.shell is not None else {}

    def resolve_outputs(self, names: Sequence[str]) -> tuple[list[str], list[Output]]:
        """Return the names and outputs for variable ``names``, or every output variable when empty.

        A variable that contains a list or tuple of outputs gives ``name[0]``,
        ``name[1]``, ... An output bound to several names is run once.

        Raises
        ------
        UsageError
            If a name is not defined, does not hold outputs, or nothing was found.
        """
        namespace = self._namespace()
        found: list[tuple[str, Output]] = []
        if not names:
            found = [(name, value) for name, value in namespace.items()
                     if isinstance(value, Output) and not name.startswith("_")]
            if not found:
                raise UsageError("no output variables in the notebook; end a stream with .to_wav(...), "
                                 ".to_csv(...) or .to_dev_null() and assign it to a variable")
        for name in names:
            if name not in namespace:
                raise UsageError(f"name {name!r} is not defined in the notebook; define it in a cell first")
            value = namespace[name]
            if isinstance(value, Output):
                found.append((name, value))
            elif isinstance(value, (list, tuple)) and value and all(isinstance(v, Output) for v in value):
                found.extend((f"{name}[{i}]", item) for i, item in enumerate(value))
            else:
                raise UsageError(
                    f"{name!r} is a {type(value).__name__}, not an output; end the stream with "
                    ".to_wav(...), .to_csv(...) or .to_dev_null(), or pass a list of outputs"
                )
        unique: dict[int, tuple[str, Output]] = {}
        for name, output in found:
            unique.setdefault(id(output), (name, output))
        return [name for name, _ in unique.values()], [output for _, output in unique.values()]

    # -- subcommands -----------------------------------------------------------------------------------

    def _run(self, args: Any) -> Job:
        names, outputs = self.resolve_outputs(args.outputs)
        return self._start(names, outputs, args)

    def _start(self, names: list[str], outputs: list[Output], args: Any) -> Job:
        from IPython.display import display

        client = self.client if args.mode == "distributed" else None
        try:
            job = start_job(self.jobs, names, outputs, args.mode, args.sample_rate, args.partitions,
                            args.threads, client, self.status_interval, args.planner)
        except WaveBeansError as error:
            raise UsageError(str(error)) from error
        display(job.widget())
        if not args.no_wait:
            try:
                job.monitor.wait()
            except KeyboardInterrupt:
                logger.info("interrupted: cancelling job #%d", job.number)
                job.cancel()
                job.monitor.wait(10.0)
        return job

    def _draw(self, args: Any) -> Any:
        from ..execution.podref import build_pods
        from ..execution.topology import build_topology
        from .drawing import draw_plan, draw_pods, draw_topology

        if args.what is None:
            raise UsageError("say what to draw: %wavebeans draw topology|pods|plan [OUTPUTS ...]")
        _, outputs = self.resolve_outputs(args.outputs)
        topology = build_topology(outputs).partition(args.partitions)
        if args.what == "topology":
            return draw_topology(topology)
        pods = build_pods(topology)
        if args.what == "pods":
            return draw_pods(pods)
        return draw_plan(self._plan(pods, args.workers, args.planner))

    def _plan(self, pods: list, workers: int, planner: str) -> dict:
        try:
            from ..distributed.cluster import cluster_workers
            from ..distributed.planner import FacilitatorInfo
            chosen = make_planner(planner)
        except (ImportError, WaveBeansError) as error:
            raise UsageError(f"drawing a plan needs the distributed package: {error}") from error
        if self.client is not None:
            info = cluster_workers(self.client)
            facilitators = [FacilitatorInfo(address, entry.get("nthreads", 1), str(entry.get("name", "")))
                            for address, entry in sorted(info.items())]
        else:
            facilitators = [FacilitatorInfo(f"worker-{i}", 1, f"worker-{i}") for i in range(workers)]
        return chosen.distribute(pods, facilitators)

    def _jobs(self, args: Any) -> _Text:
        rows = [(f"#{job.number}", job.job_id, job.mode, job.state, ", ".join(job.names)) for job in self.jobs]
        if not rows:
            return _Text("no jobs started in this kernel yet")
        text, table = _table(("job", "id", "mode", "state", "outputs"), rows)
        return _Text(text, table)

    def _stop(self, args: Any) -> Job:
        if args.job is None:
            raise UsageError("say which job to stop: %wavebeans stop JOB (see %wavebeans jobs)")
        try:
            job = self.jobs.get(args.job)
        except WaveBeansError as error:
            raise UsageError(str(error)) from error
        job.cancel()
        job.monitor.wait(10.0)
        return job

    def _cluster(self, args: Any) -> _Text:
        from . import cluster_session

        if args.close:
            closed = cluster_session.close_cluster(self)
            return _Text("closed the cluster" if closed else "no cluster to close")
        cluster_session.close_cluster(self)
        try:
            cluster_session.open_cluster(self, args.address, args.workers, args.threads)
        except WaveBeansError as error:
            raise UsageError(str(error)) from error
        return cluster_session.describe_cluster(self)

    # -- the cell magic --------------------------------------------------------------------------------

    def _cell(self, line: str, cell: str) -> Job | None:
        args = _cell_args.parser.parse_argstring(line)
        if args.help:
            print(_cell_args.parser.format_help())
            return None
        before = {name: id(value) for name, value in self._namespace().items() if isinstance(value, Output)}
        result = self.shell.run_cell(cell)
        if not result.success:
            return None
        changed = [(name, value) for name, value in self._namespace().items()
                   if isinstance(value, Output) and not name.startswith("_") and before.get(name) != id(value)]
        if not changed:
            raise UsageError("the cell defined no new outputs; assign an output (stream.to_wav(...)) to a variable")
        return self._start([name for name, _ in changed], [value for _, value in changed], args)


_cell_args.parser.prog = "%wavebeans"
WaveBeansMagics.wavebeans.__doc__ = "\n\n".join(
    [_overview()] + [function.parser.format_help() for function in (*SUBCOMMANDS.values(), _cell_args)]
)


def load_ipython_extension(ipython: Any) -> None:
    """Register the magics with ``ipython`` (called by ``%load_ext wavebeans_nb``)."""
    ipython.register_magics(WaveBeansMagics)


def unload_ipython_extension(ipython: Any) -> None:
    """Close a cluster the magics started, and leave the jobs running."""
    magics = ipython.magics_manager.registry.get("WaveBeansMagics")
    if magics is not None:
        from . import cluster_session

        cluster_session.close_cluster(magics)
