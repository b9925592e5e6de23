"""Commands and token rotation from the real cloud to a real gateway, and back."""

from __future__ import annotations

import asyncio
from typing import Any

import httpx
import pytest

from edge.agent import Gateway
from edge.config import load_config
from tests.edge.conftest import ADMIN, CloudProcess
from tests.edge.test_commands import Site, site, until

__all__ = ["site"]  # the fixture, used by name

GATEWAY = "gw-cmd"


def admin_headers(cloud: CloudProcess) -> dict[str, str]:
    login = httpx.post(
        f"{cloud.url}/api/v1/auth/token",
        data={"username": ADMIN[0], "password": ADMIN[1]},
    )
    login.raise_for_status()
    return {"Authorization": f"Bearer {login.json()['access_token']}"}


def commands(cloud: CloudProcess, headers: dict[str, str]) -> list[dict[str, Any]]:
    answer = httpx.get(
        f"{cloud.url}/api/v1/gateways/{GATEWAY}/commands", headers=headers
    )
    answer.raise_for_status()
    return list(answer.json()["data"])


@pytest.fixture
def connected(site: Site, cloud: CloudProcess) -> Site:
    site.token_file.write_text(cloud.add_gateway(GATEWAY), encoding="utf-8")
    cloud.start()
    site.path.write_text(
        site.text(cloud_url=cloud.url).replace(
            "config_trial_s = 2", "config_trial_s = 2\nhealth_interval_s = 0.5"
        ),
        encoding="utf-8",
    )
    return site


async def test_a_queued_command_reaches_the_gateway_and_its_outcome_comes_back(
    connected: Site, cloud: CloudProcess
) -> None:
    headers = admin_headers(cloud)
    queued = httpx.post(
        f"{cloud.url}/api/v1/gateways/{GATEWAY}/commands",
        json={
            "kind": "write_point",
            "device_id": "water-main",
            "args": {"point": "valve", "value": "closed"},
        },
        headers=headers,
    )
    assert queued.status_code == 201, queued.text
    gateway = Gateway(load_config(connected.path), site_path=connected.path)
    stop = asyncio.Event()
    running = asyncio.create_task(gateway.run(stop, drain_timeout_s=10))

    await until(lambda: commands(cloud, headers)[0]["status"] == "succeeded", 20)
    stop.set()
    await running

    (done,) = commands(cloud, headers)
    assert done["deliveries"] >= 1
    assert "valve reads back 'closed'" in done["detail"]
    assert connected.meter.value("valve") == 2  # closed, on the simulated meter


async def test_a_token_rotated_through_the_gateway_replaces_the_old_one(
    connected: Site, cloud: CloudProcess
) -> None:
    headers = admin_headers(cloud)
    old_token = connected.token_file.read_text(encoding="utf-8")
    rotation = httpx.post(
        f"{cloud.url}/api/v1/gateways/{GATEWAY}/rotate-token/deliver", headers=headers
    )
    assert rotation.status_code == 201, rotation.text
    assert old_token not in rotation.text  # no token is ever shown
    gateway = Gateway(load_config(connected.path), site_path=connected.path)
    stop = asyncio.Event()
    running = asyncio.create_task(gateway.run(stop, drain_timeout_s=10))

    await until(lambda: commands(cloud, headers)[0]["status"] == "succeeded", 20)
    await until(lambda: gateway.uplink.synced > 0, 10)
    stop.set()
    await running

    new_token = connected.token_file.read_text(encoding="utf-8")
    assert new_token != old_token
    health = {"Authorization": f"Bearer {old_token}"}
    refused = httpx.post(f"{cloud.url}/api/v1/ingest", content=b"{}", headers=health)
    assert refused.status_code == 401  # the old token ended once the new one was used
