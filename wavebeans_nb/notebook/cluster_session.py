"""The Dask cluster of a notebook session, as used by ``%wavebeans cluster`` and ``%wavebeans run --mode distributed``.

The session object (the magics instance) carries ``client`` and the cluster it
started, if any. The distributed package is imported only here and only when
a cluster is requested, so the other magics work without it.
"""

from __future__ import annotations

import logging
from typing import Any

from ..errors import WaveBeansError

__all__ = ["open_cluster", "close_cluster", "describe_cluster", "ClusterView"]

logger = logging.getLogger(__name__)


def open_cluster(session: Any, address: str | None, workers: int, threads: int) -> None:
    """Connect ``session`` to the scheduler at ``address``, or start a local cluster of worker processes.

    Every worker gets the Facilitator plugin.

    Raises
    ------
    WaveBeansError
        If the distributed package cannot be imported or the cluster cannot be reached.
    """
    try:
        from ..distributed.cluster import connect, start_local_cluster
    except ImportError as error:
        raise WaveBeansError(f"the distributed mode is not available: {error}") from error
    try:
        if address:
            session.client, session._cluster_session = connect(address), None
            logger.info("connected to the cluster at %s", address)
        else:
            cluster, client = start_local_cluster(n_workers=workers, threads_per_worker=threads)
            session.client, session._cluster_session = client, cluster
            logger.info("started a local cluster of %d workers at %s", workers, cluster.scheduler_address)
    except (OSError, TimeoutError) as error:
        raise WaveBeansError(f"cannot reach the cluster at {address}: {error}; check the address") from error


def close_cluster(session: Any) -> bool:
    """Close the session's client and the cluster it started; return False when there was none."""
    client, cluster = session.client, session._cluster_session
    session.client, session._cluster_session = None, None
    if client is None and cluster is None:
        return False
    try:
        if client is not None:
            client.close()
    finally:
        if cluster is not None:
            cluster.close()
    logger.info("closed the notebook's cluster")
    return True


class ClusterView:
    """The Facilitators of the session's cluster, as a text table and an HTML table."""

    def __init__(self, scheduler: str, rows: list[tuple[str, str, int]], local: bool) -> None:
        self.scheduler = scheduler
        self.rows = rows
        self.local = local

    def _head(self) -> str:
        kind = "local cluster" if self.local else "cluster"
        return f"{kind} at {self.scheduler}: {len(self.rows)} facilitator(s)"

    def _repr_pretty_(self, printer: Any, cycle: bool) -> None:
        lines = [self._head()] + [f"  {address}  name={name}  threads={threads}" for address, name, threads in self.rows]
        printer.text("\n".join(lines))

    def _repr_html_(self) -> str:
        import html

        body = "".join(f"<tr><td>{html.escape(a)}</td><td>{html.escape(n)}</td><td>{t}</td></tr>"
                       for a, n, t in self.rows)
        return (f"<b>{html.escape(self._head())}</b><table><tr><th>address</th><th>name</th>"
                f"<th>threads</th></tr>{body}</table>")


def describe_cluster(session: Any) -> ClusterView:
    """Return the Facilitators of the session's cluster."""
    from ..distributed.cluster import facilitators_of

    infos = facilitators_of(session.client)
    rows = [(info.address, info.name, info.threads) for info in infos]
    return ClusterView(session.client.scheduler.address, rows, session._cluster_session is not None)
