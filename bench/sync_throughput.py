"""Readings per second from a full gateway buffer into the cloud, beside a raw COPY.

A gateway buffer is filled with N readings while the cloud is out of reach; then the
real gateway uplink (``edge.agent.Gateway``: read the oldest range, encode, gzip, post,
wait for the ack, forget the range) drains it into the real cloud served by
``pams-cloud serve``. Timed from the start of the drain until the buffer is empty and
every reading is stored. Runs against SQLite and PostgreSQL, and in the same run writes
the same rows with a psycopg COPY into a twin of the cloud's readings table.

    .venv/bin/python bench/sync_throughput.py [--readings 200000] [--batch 5000]
        [--backend sqlite|postgres|both]

PostgreSQL: PAMS_BENCH_DATABASE_URL or PAMS_TEST_DATABASE_URL names a server database;
a throw-away database is created beside it and dropped at the end.
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import os
import sys
import tempfile
import time
from dataclasses import asdict
from datetime import datetime
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

from cloud_ingest import (
    GATEWAY_ID,
    ROOT,
    build_readings,
    raw_postgres,
    raw_rows,
    served,
    stored_readings,
    throwaway_postgres,
)

from edge.agent import Gateway
from edge.buffer import KIND_READING, Buffer, NewRecord
from edge.config import SiteConfig


def fill_buffer(path: Path, readings: list[dict[str, Any]]) -> None:
    buffer = Buffer(path, boot_id="3f6c0b9e")
    for start in range(0, len(readings), 10_000):
        buffer.append(
            [
                NewRecord(
                    KIND_READING,
                    0,
                    r["device_id"],
                    r["point"],
                    int(datetime.fromisoformat(r["ts"]).timestamp() * 1_000_000),
                    r["value"],
                    None,
                    r["unit"],
                    "good",
                    None,
                    None,
                    r["mono_ns"],
                    1,
                )
                for r in readings[start : start + 10_000]
            ]
        )
    buffer.close()


async def drain(config: SiteConfig) -> tuple[float, dict[str, Any]]:
    gateway = Gateway(config)
    stop = asyncio.Event()
    stop.set()  # no devices: the run goes straight to draining the full buffer
    started = time.perf_counter()
    summary = await gateway.run(stop, drain_timeout_s=3600)
    return time.perf_counter() - started, asdict(summary)


def sync_seconds(
    url: str, folder: Path, readings: list[dict[str, Any]], args: argparse.Namespace
) -> float:
    batch = args.batch
    with served(url, folder / "cloud", args.workers) as (base_url, token):
        edge_dir = folder / "edge"
        fill_buffer(edge_dir / "buffer.db", readings)
        os.environ["PAMS_EDGE_TOKEN"] = token
        config = SiteConfig.model_validate(
            {
                "gateway": {"id": GATEWAY_ID, "data_dir": str(edge_dir)},
                "cloud": {"url": base_url, "batch_max_records": batch},
            }
        )
        seconds, summary = asyncio.run(drain(config))
    if not summary["drained"] or summary["readings_synced"] != len(readings):
        raise RuntimeError(f"the buffer did not drain completely: {summary}")
    stored = stored_readings(url)
    if stored != len(readings):
        raise RuntimeError(f"the cloud stored {stored} of {len(readings)} readings")
    return seconds


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--readings", type=int, default=200_000)
    parser.add_argument("--batch", type=int, default=5_000)
    parser.add_argument(
        "--backend", choices=["sqlite", "postgres", "both"], default="both"
    )
    parser.add_argument("--workers", type=int, default=2, help="cloud server processes")
    args = parser.parse_args()
    logging.basicConfig(level=logging.WARNING)
    os.chdir(ROOT)
    readings = build_readings(args.readings)
    n = len(readings)
    print(f"readings: {n}, batch: {args.batch}, cloud workers: {args.workers}")

    if args.backend in ("sqlite", "both"):
        with tempfile.TemporaryDirectory(prefix="pams-sync-") as folder:
            url = f"sqlite:///{Path(folder) / 'cloud.db'}"
            seconds = sync_seconds(url, Path(folder), readings, args)
        print(f"gateway buffer -> cloud (SQLite):     {n / seconds:,.0f} readings/s")

    if args.backend in ("postgres", "both"):
        base = os.environ.get("PAMS_BENCH_DATABASE_URL") or os.environ.get(
            "PAMS_TEST_DATABASE_URL"
        )
        if not base:
            raise SystemExit("Set PAMS_BENCH_DATABASE_URL or PAMS_TEST_DATABASE_URL.")
        with (
            tempfile.TemporaryDirectory(prefix="pams-sync-") as folder,
            throwaway_postgres(base) as url,
        ):
            seconds = sync_seconds(url, Path(folder), readings, args)
            copy_seconds = raw_postgres(url, raw_rows(readings), args.batch)
        sync_rate, copy_rate = n / seconds, n / copy_seconds
        print(f"gateway buffer -> cloud (PostgreSQL): {sync_rate:,.0f} readings/s")
        print(f"raw PostgreSQL COPY, same rows:       {copy_rate:,.0f} readings/s")
        print(f"ratio sync/COPY: {sync_rate / copy_rate:.2f}")


if __name__ == "__main__":
    main()
