"""The gateway's store-and-forward against the real cloud, outages included."""

from __future__ import annotations

import asyncio
import time
from pathlib import Path

import pytest

from edge.agent import Gateway
from edge.buffer import KIND_READING, Buffer, NewRecord
from edge.config import SiteConfig
from tests.edge.conftest import GATEWAY, CloudProcess

T0_US = 1_790_000_000_000_000


def readings(count: int, *, bad_at: int | None = None) -> list[NewRecord]:
    rows = []
    for i in range(count):
        device = "bad device!" if i == bad_at else f"meter-{i % 7}"
        rows.append(
            NewRecord(
                KIND_READING,
                0,
                device,
                "voltage",
                T0_US + i * 1000,
                f"230.{i % 10}",
                None,
                "V",
                "good",
                None,
                None,
                i,
                1,
            )
        )
    return rows


def site(tmp_path: Path, cloud: CloudProcess, **cloud_options: object) -> SiteConfig:
    return SiteConfig.model_validate(
        {
            "gateway": {"id": GATEWAY, "data_dir": str(tmp_path / "edge")},
            "cloud": {"url": cloud.url, "backoff_max_s": 1.0, **cloud_options},
            "health": {"port": 0},
        }
    )


def prefill(config: SiteConfig, rows: list[NewRecord]) -> None:
    buffer = Buffer(config.gateway.data_dir / "buffer.db", boot_id="test-boot")
    buffer.append(rows)
    buffer.close()


async def drain(config: SiteConfig) -> dict[str, object]:
    stop = asyncio.Event()
    stop.set()
    summary = await Gateway(config).run(stop, drain_timeout_s=60)
    return {
        "drained": summary.drained,
        "readings_synced": summary.readings_synced,
        "set_aside": summary.records_set_aside,
        "depth": summary.buffer_depth,
    }


async def test_a_full_buffer_drains_into_the_cloud(
    tmp_path: Path, cloud: CloudProcess, token: str
) -> None:
    cloud.start()
    config = site(tmp_path, cloud, batch_max_records=2000)
    prefill(config, readings(9000))

    summary = await drain(config)

    assert summary == {
        "drained": True,
        "readings_synced": 9000,
        "set_aside": 0,
        "depth": 0,
    }
    stats = cloud.stats(GATEWAY)
    assert stats["readings"] == 9000
    assert stats["max_seq"] == 9000


async def test_a_refused_record_is_set_aside_and_never_blocks_the_queue(
    tmp_path: Path, cloud: CloudProcess, token: str
) -> None:
    cloud.start()
    config = site(tmp_path, cloud, batch_max_records=64)
    prefill(config, readings(200, bad_at=137))

    summary = await drain(config)

    assert summary["drained"] is True
    assert summary["set_aside"] == 1
    stats = cloud.stats(GATEWAY)
    assert stats["readings"] == 199
    assert stats["gaps_records"] == 1  # the cloud knows seq 138 is missing, and why
    assert stats["rejected_batches"] >= 1
    assert "device_id" in stats["last_rejection"]


async def test_a_batch_too_large_for_the_cloud_is_split(
    tmp_path: Path, cloud: CloudProcess, token: str
) -> None:
    cloud.start(PAMS_CLOUD_MAX_BODY_BYTES="60000")
    config = site(tmp_path, cloud, batch_max_records=5000)
    prefill(config, readings(5000))

    summary = await drain(config)

    assert summary["drained"] is True
    assert cloud.stats(GATEWAY)["readings"] == 5000


async def test_sending_resumes_within_seconds_of_the_cloud_coming_back(
    tmp_path: Path, cloud: CloudProcess, token: str
) -> None:
    config = site(tmp_path, cloud, backoff_max_s=1.0, sync_interval_s=0.2)
    prefill(config, readings(500))
    stop = asyncio.Event()
    gateway = Gateway(config)
    running = asyncio.create_task(gateway.run(stop, drain_timeout_s=30))
    await asyncio.sleep(2.0)  # the gateway retries against a cloud that is down
    assert gateway.uplink.synced == 0

    await asyncio.to_thread(cloud.start)
    back = time.monotonic()
    while gateway.uplink.synced < 500:
        assert time.monotonic() - back < 5.0, "sending did not resume within 5 s"
        await asyncio.sleep(0.05)

    stop.set()
    summary = await running
    assert summary.drained is True
    assert cloud.stats(GATEWAY)["readings"] == 500


async def test_an_idle_uplink_stops_when_cancelled_as_new_data_arrives(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A cancel landing in the same tick as the new-data wake-up is not lost."""
    monkeypatch.setenv("PAMS_EDGE_TOKEN", "t" * 43)
    config = SiteConfig.model_validate(
        {
            "gateway": {"id": GATEWAY, "data_dir": str(tmp_path / "edge")},
            "cloud": {"url": "http://127.0.0.1:9", "sync_interval_s": 30},
            "health": {"port": 0},
        }
    )
    gateway = Gateway(config)
    uplink = asyncio.create_task(gateway.uplink.run())
    await asyncio.sleep(0.3)  # the buffer is empty: the uplink waits for data

    gateway.uplink.new_data.set()
    uplink.cancel()
    await asyncio.wait([uplink], timeout=3)
    gateway.buffer.close()

    assert uplink.cancelled()
