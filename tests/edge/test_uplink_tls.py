"""TLS on the uplink: the gateway trusts the cloud's CA from its configuration."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest
import trustme

from edge.agent import Gateway
from tests.edge.conftest import GATEWAY, CloudProcess
from tests.edge.test_uplink_cloud import prefill, readings, site


@pytest.fixture
def tls_cloud(cloud: CloudProcess, tmp_path: Path) -> tuple[CloudProcess, Path]:
    authority = trustme.CA()
    server = authority.issue_cert("127.0.0.1", "localhost")
    cert, key, ca = tmp_path / "cert.pem", tmp_path / "key.pem", tmp_path / "ca.pem"
    server.private_key_pem.write_to_path(str(key))
    server.cert_chain_pems[0].write_to_path(str(cert))
    authority.cert_pem.write_to_path(str(ca))
    cloud.serve_tls(cert, key, ca)
    return cloud, ca


async def test_the_gateway_syncs_over_tls_trusting_the_configured_ca(
    tmp_path: Path, tls_cloud: tuple[CloudProcess, Path], token: str
) -> None:
    cloud, ca = tls_cloud
    cloud.start()
    config = site(tmp_path, cloud, ca_file=str(ca))
    prefill(config, readings(300))
    stop = asyncio.Event()
    stop.set()

    summary = await Gateway(config).run(stop, drain_timeout_s=30)

    assert summary.drained is True
    assert cloud.stats(GATEWAY)["readings"] == 300


async def test_a_cloud_whose_certificate_is_not_trusted_gets_nothing(
    tmp_path: Path, tls_cloud: tuple[CloudProcess, Path], token: str
) -> None:
    cloud, _ = tls_cloud
    cloud.start()
    config = site(tmp_path, cloud)  # no ca_file: the system's CAs do not know it
    prefill(config, readings(300))
    stop = asyncio.Event()
    stop.set()
    gateway = Gateway(config)

    summary = await gateway.run(stop, drain_timeout_s=3)

    assert summary.drained is False
    assert summary.buffer_depth == 300  # kept for when the trust is fixed
    failures = gateway.metrics.uplink_failures.labels("TransientError")._value.get()
    assert failures >= 1
    assert cloud.stats(GATEWAY)["readings"] == 0
