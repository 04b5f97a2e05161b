"""Start or connect to a Dask cluster whose workers are Facilitators."""

from __future__ import annotations

import logging
from typing import Any, Iterable

from distributed import Client, LocalCluster

from .errors import FacilitatorNotFoundError
from .facilitator import PLUGIN_NAME, Facilitator
from .planner import FacilitatorInfo

__all__ = [
    "start_local_cluster", "connect", "call_worker", "cluster_workers", "facilitators_of", "install_facilitators",
    "scheduler_of",
]

logger = logging.getLogger(__name__)


def start_local_cluster(n_workers: int = 2, threads_per_worker: int = 1, **kwargs: Any) -> tuple[LocalCluster, Client]:
    """Start a LocalCluster of worker processes with the Facilitator registered; return it and a client.

    The scheduler's HTTP server takes a free port, and worker logs below ERROR
    are silenced unless ``kwargs`` set other values; other ``kwargs`` go to
    :class:`distributed.LocalCluster`. Close the client, then the cluster.
    """
    # dashboard_address=None still binds port 8787 in distributed 2026.8 and warns on stderr when
    # that port is taken (two clusters at once); ":0" picks a free port instead.
    options = {"processes": True, "dashboard_address": ":0", "silence_logs": logging.ERROR}
    options.update(kwargs)
    cluster = LocalCluster(n_workers=n_workers, threads_per_worker=threads_per_worker, **options)
    client = Client(cluster, set_as_default=False)
    try:
        # Registered with the scheduler, the plugin also reaches workers that restart or join
        # later. The cluster is new, so no running Facilitator gets replaced.
        client.register_plugin(Facilitator())
    except BaseException:
        client.close()
        cluster.close()
        raise
    return cluster, client


def connect(address: str, timeout: float = 30.0) -> Client:
    """Connect to the scheduler at ``address`` and make sure every worker is a Facilitator."""
    client = Client(address, set_as_default=False, timeout=timeout)
    try:
        install_facilitators(client)
    except BaseException:
        client.close()
        raise
    return client


def call_worker(client: Client, address: str, op: str, timeout: float | None = 30.0, **kwargs: Any) -> Any:
    """Send comm message ``op`` with ``kwargs`` to the worker at ``address`` and return its reply.

    Raises whatever the handler raised on the worker (for example
    :class:`~wavebeans_nb.distributed.errors.JobNotFoundError`), or an
    ``OSError`` when the worker cannot be reached.
    """
    async def send() -> Any:
        return await getattr(client.rpc(address), op)(**kwargs)

    return client.sync(send, callback_timeout=timeout)


def cluster_workers(client: Client) -> dict[str, dict]:
    """Return the scheduler's current workers: address to Dask's worker info (``nthreads``, ``name``, ...).

    ``Client.scheduler_info`` is not used. It returns a cache that the
    client's own periodic refresh overwrites with an empty worker list, so a
    caller that reads the cache in between gets no workers at all (about 1
    read in 15,000 in a tight loop, measured).
    """
    return client.sync(client.scheduler.identity, n_workers=-1)["workers"]


async def _add_facilitator(dask_worker) -> dict:
    """Start a Facilitator on this worker unless it runs one; return Dask's reply to the plugin request."""
    # The check and plugin_add's own registration run without an await between them, so two
    # clients installing at once cannot both add one.
    if PLUGIN_NAME in dask_worker.plugins:
        return {"status": "OK"}
    return await dask_worker.plugin_add(plugin=Facilitator(), name=PLUGIN_NAME)


def install_facilitators(client: Client, addresses: Iterable[str] | None = None) -> None:
    """Start a Facilitator on every worker (or every one of ``addresses``) that does not run one yet.

    Workers that run one keep it, with its jobs. ``client.register_plugin``
    is not used here: it sends the plugin to every worker of the cluster, and
    a worker replaces a plugin of the same name, which stops the jobs of the
    Facilitator it had.

    Raises
    ------
    RuntimeError
        If a worker cannot start the Facilitator.
    """
    targets = list(addresses) if addresses is not None else list(cluster_workers(client))
    if not targets:
        return
    replies = client.run(_add_facilitator, workers=targets, on_error="return")
    failed = {address: reply for address, reply in replies.items()
              if not (isinstance(reply, dict) and reply.get("status") == "OK")}
    if failed:
        for address, reply in failed.items():
            logger.warning("the wavebeans facilitator did not start on %s: %s", address, reply)
        raise RuntimeError(f"the wavebeans facilitator did not start on workers {sorted(failed)}: {failed}; "
                           "check that wavebeans-nb is installed on them and read their logs")


def facilitators_of(client: Client, addresses: Iterable[str] | None = None) -> list[FacilitatorInfo]:
    """Return the cluster's workers (or the given ones) as :class:`FacilitatorInfo`, sorted by address.

    Raises
    ------
    FacilitatorNotFoundError
        If the cluster has no workers, or an address is not one of its workers.
    """
    workers = cluster_workers(client)
    if addresses is None:
        chosen = sorted(workers)
    else:
        chosen = list(dict.fromkeys(addresses))
        unknown = [address for address in chosen if address not in workers]
        if unknown:
            raise FacilitatorNotFoundError(
                f"facilitators {unknown} are not workers of the cluster at {client.scheduler.address}; "
                f"its workers are {sorted(workers)}"
            )
    if not chosen:
        raise FacilitatorNotFoundError(
            f"the cluster at {client.scheduler.address} has no workers; start some with "
            "`wavebeans facilitator <scheduler-address>`"
        )
    return [FacilitatorInfo(address, int(workers[address].get("nthreads", 1)), str(workers[address].get("name", "")))
            for address in chosen]


def scheduler_of(worker_address: str, timeout: float = 10.0) -> str:
    """Return the scheduler address a worker is connected to (asked through the worker's ``identity``)."""
    from distributed.core import rpc
    from distributed.utils import LoopRunner, sync

    async def ask() -> str:
        async with rpc(worker_address) as worker:
            identity = await worker.identity()
        return identity["scheduler"]

    runner = LoopRunner(asynchronous=False)
    runner.start()
    try:
        return sync(runner.loop, ask, callback_timeout=timeout)
    finally:
        runner.stop()
