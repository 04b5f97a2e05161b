"""Distributed jobs on a cluster whose scheduler, workers and client talk only over TLS."""

from __future__ import annotations

import datetime
import ipaddress
import os
import signal
import subprocess
import sys
import time

import numpy as np
import pytest
import soundfile as sf

import wavebeans_nb as wb
from wavebeans_nb.distributed import DistributedOverseer, start_local_cluster
from wavebeans_nb.distributed.cluster import cluster_workers
from wavebeans_nb.execution import ExecutionConfig

from distributed_support import RATE, assert_same_files, engine_graphs

cryptography = pytest.importorskip("cryptography")

from cryptography import x509  # noqa: E402
from cryptography.hazmat.primitives import hashes, serialization  # noqa: E402
from cryptography.hazmat.primitives.asymmetric import ec  # noqa: E402
from cryptography.x509.oid import NameOID  # noqa: E402

CONFIG = ExecutionConfig(chunk_size=64)


def _write_key(key, path) -> None:
    path.write_bytes(key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                       serialization.NoEncryption()))


def _certificate(subject: str, issuer: str, public_key, signing_key, ca: bool) -> x509.Certificate:
    now = datetime.datetime.now(datetime.timezone.utc)
    builder = (
        x509.CertificateBuilder()
        .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, subject)]))
        .issuer_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, issuer)]))
        .public_key(public_key)
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=5))
        .not_valid_after(now + datetime.timedelta(days=1))
        .add_extension(x509.BasicConstraints(ca=ca, path_length=None), critical=True)
    )
    if not ca:
        names = [x509.DNSName("localhost"), x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]
        builder = builder.add_extension(x509.SubjectAlternativeName(names), critical=False)
    return builder.sign(signing_key, hashes.SHA256())


def make_certificates(directory) -> dict[str, str]:
    """Write a CA, and a certificate and key signed by it, to ``directory`` and return the three paths."""
    ca_key = ec.generate_private_key(ec.SECP256R1())
    ca_cert = _certificate("wavebeans test CA", "wavebeans test CA", ca_key.public_key(), ca_key, ca=True)
    key = ec.generate_private_key(ec.SECP256R1())
    cert = _certificate("localhost", "wavebeans test CA", key.public_key(), ca_key, ca=False)
    paths = {"ca": directory / "ca.pem", "cert": directory / "cert.pem", "key": directory / "key.pem"}
    paths["ca"].write_bytes(ca_cert.public_bytes(serialization.Encoding.PEM))
    paths["cert"].write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    _write_key(key, paths["key"])
    return {name: str(path) for name, path in paths.items()}


def _security(paths: dict[str, str]):
    from distributed import Security

    return Security(
        tls_ca_file=paths["ca"], require_encryption=True,
        tls_client_cert=paths["cert"], tls_client_key=paths["key"],
        tls_scheduler_cert=paths["cert"], tls_scheduler_key=paths["key"],
        tls_worker_cert=paths["cert"], tls_worker_key=paths["key"],
    )


@pytest.fixture(scope="module")
def tls_cluster(tmp_path_factory):
    paths = make_certificates(tmp_path_factory.mktemp("certificates"))
    security = _security(paths)
    local, cluster_client = start_local_cluster(n_workers=2, threads_per_worker=1, security=security,
                                                protocol="tls")
    cluster_client.close()  # the tests connect their own client with the same Security, as a user would
    from distributed import Client

    client = Client(local.scheduler_address, security=security, set_as_default=False, timeout=30)
    try:
        yield local, client, paths
    finally:
        client.close()
        local.close()


def _assert_finished(results):
    for result in results:
        assert result.exception is None, f"output failed: {result.exception}"
        assert result.finished


def test_cluster_uses_tls_only(tls_cluster):
    local, client, _ = tls_cluster
    workers = cluster_workers(client)
    assert local.scheduler_address.startswith("tls://")
    assert len(workers) == 2
    assert all(address.startswith("tls://") for address in workers)


def test_tls_job_matches_single(tls_cluster, tmp_path):
    _, client, _ = tls_cluster
    single, distributed = tmp_path / "single", tmp_path / "distributed"
    single.mkdir()
    distributed.mkdir()
    with wb.SingleThreadedOverseer(engine_graphs(str(single))) as overseer:
        _assert_finished([future.result(timeout=60) for future in overseer.eval(RATE)])

    with DistributedOverseer(engine_graphs(str(distributed)), client=client, partitions=2,
                             config=CONFIG) as overseer:
        _assert_finished([future.result(timeout=60) for future in overseer.eval(RATE)])
    assert_same_files(str(single), str(distributed))


def test_tls_pods_call_each_other(tls_cluster, tmp_path):
    _, client, _ = tls_cluster
    workers = sorted(cluster_workers(client))
    target = tmp_path / "remote.wav"
    output = (wb.sine(300).trim(200) * 0.5).map(lambda x: x + 0.1).to_wav(str(target), bit_depth="float")
    with DistributedOverseer([output], client=client, partitions=2, config=CONFIG) as overseer:
        _assert_finished([future.result(timeout=60) for future in overseer.eval(RATE)])
        status = overseer.status()

    used = {address for address, pods in overseer.plan.items() if pods}
    assert used == set(workers), "the job should have pods on both workers"
    remote = [entry for facilitator in status["facilitators"] for entry in facilitator["remote_bushes"]]
    sent = sum(entry["calls"] for entry in remote)
    served = sum(pod.get("remote_calls_served", 0) for pod in status["pods"])
    assert sent > 0, "no pod called a pod on the other worker"
    assert served == sent
    assert sum(entry["failures"] for entry in remote) == 0
    assert all(entry["address"].startswith("tls://") for entry in remote)

    written, _ = sf.read(str(target))
    expected = 0.5 * np.sin(2 * np.pi * 300 * np.arange(3200) / RATE) + 0.1
    assert np.allclose(written, expected, atol=1e-6)


def test_facilitator_command_joins_over_tls(tls_cluster, tmp_path):
    local, client, paths = tls_cluster
    before = set(cluster_workers(client))
    command = [sys.executable, "-m", "wavebeans_nb.cli", "facilitator", local.scheduler_address,
               "--name", "cli-tls", "--tls-ca-file", paths["ca"], "--tls-cert", paths["cert"],
               "--tls-key", paths["key"]]
    # A new session, so that the worker and its nanny can be stopped as one process group.
    process = subprocess.Popen(command, start_new_session=True, stdout=subprocess.DEVNULL,
                               stderr=subprocess.DEVNULL)
    try:
        client.wait_for_workers(len(before) + 1, timeout=60)
        added = sorted(set(cluster_workers(client)) - before)
        assert len(added) == 1
        assert added[0].startswith("tls://")

        target = tmp_path / "cli.wav"
        output = wb.sine(250, 0.5).trim(50).map(lambda x: x * 2.0).to_wav(str(target), bit_depth="float")
        with DistributedOverseer([output], client=client, facilitators=added, config=CONFIG) as overseer:
            _assert_finished([future.result(timeout=60) for future in overseer.eval(RATE)])
        written, _ = sf.read(str(target))
        expected = np.sin(2 * np.pi * 250 * np.arange(800) / RATE)
        assert np.allclose(written, expected, atol=1e-6)
    finally:
        os.killpg(process.pid, signal.SIGTERM)
        try:
            process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait()
        deadline = time.monotonic() + 20
        while len(cluster_workers(client)) > len(before) and time.monotonic() < deadline:
            time.sleep(0.2)
