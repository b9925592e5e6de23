"""Ingest throughput of the cloud API, against a raw COPY of the same rows.

Builds N readings, registers a gateway with the real CLI, serves the real app with
``pams-cloud serve`` (uvicorn) on a free port, and posts the readings in gzip batches
through httpx; then writes the same rows straight into an equivalent table (psycopg
COPY on PostgreSQL, executemany on SQLite) as the ceiling. Prints readings/s for both.

    .venv/bin/python bench/cloud_ingest.py [--readings 200000] [--batch 5000]
        [--concurrency 2] [--backend sqlite|postgres|both]

PostgreSQL: PAMS_BENCH_DATABASE_URL or PAMS_TEST_DATABASE_URL names a server database;
a throw-away database is created beside it and dropped at the end.
"""

from __future__ import annotations

import argparse
import gzip
import json
import os
import socket
import sqlite3
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

import httpx
import psycopg
import sqlalchemy as sa

ROOT = Path(__file__).resolve().parents[1]
GATEWAY_ID = "bench-gw"
T0 = datetime(2026, 1, 1, tzinfo=UTC)
POINTS = ("voltage", "current", "power", "import_energy", "export_energy", "frequency")


@dataclass(frozen=True)
class Result:
    backend: str
    api_per_s: float
    raw_per_s: float
    stored: int


def build_readings(count: int) -> list[dict[str, Any]]:
    """Meter-like readings: 50 devices, 6 points each, 3-decimal values."""
    readings = []
    for index in range(count):
        seq = index + 1
        readings.append(
            {
                "seq": seq,
                "device_id": f"meter-{index % 50:02d}",
                "point": POINTS[index % len(POINTS)],
                "ts": (T0 + timedelta(milliseconds=100 * index)).isoformat(),
                "value": str(Decimal(seq * 7919 % 1_000_000) / 1000),
                "unit": "kWh",
                "boot_id": "3f6c0b9e",
                "mono_ns": 1_000_000 * index,
            }
        )
    return readings


def build_bodies(readings: list[dict[str, Any]], size: int) -> list[bytes]:
    bodies = []
    for start in range(0, len(readings), size):
        chunk = readings[start : start + size]
        batch = {
            "gateway_id": GATEWAY_ID,
            "batch_id": f"bench-{start}",
            "first_seq": chunk[0]["seq"],
            "last_seq": chunk[-1]["seq"],
            "sent_at": T0.isoformat(),
            "readings": chunk,
        }
        bodies.append(gzip.compress(json.dumps(batch).encode(), compresslevel=6))
    return bodies


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def wait_for_port(port: int, timeout_s: float = 30.0) -> None:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.2):
                return
        except OSError:
            time.sleep(0.05)
    raise TimeoutError(f"the server did not listen on port {port}")


def cli(*args: str) -> str:
    command = [sys.executable, "-m", "cloud.cli", *args]
    done = subprocess.run(command, capture_output=True, text=True, check=False)
    if done.returncode != 0:
        raise RuntimeError(f"{' '.join(args[:2])} failed: {done.stderr or done.stdout}")
    return done.stdout


@contextmanager
def served(
    database_url: str, data_dir: Path, workers: int = 1
) -> Iterator[tuple[str, str]]:
    """A migrated database with one gateway, served by uvicorn: (base URL, token)."""
    common = ["--data-dir", str(data_dir), "--database-url", database_url]
    cli("migrate", *common)
    cli(
        "admin",
        "create",
        "--email",
        "bench@example.org",
        "--password",
        "x" * 12,
        *common,
    )
    token_file = data_dir / "gateway.token"
    cli("gateway", "add", GATEWAY_ID, "--token-file", str(token_file), *common)
    port = free_port()
    serve = ["serve", "--port", str(port), "--workers", str(workers)]
    server = subprocess.Popen(
        [sys.executable, "-m", "cloud.cli", *serve, "--log-level", "warning", *common]
    )
    try:
        wait_for_port(port)
        yield f"http://127.0.0.1:{port}", token_file.read_text(encoding="utf-8").strip()
    finally:
        server.terminate()
        server.wait(timeout=30)


def post_all(base_url: str, token: str, bodies: list[bytes], concurrency: int) -> float:
    """Seconds to post every body; each answer must be a full accept."""
    headers = {
        "Authorization": f"Bearer {token}",
        "Content-Type": "application/json",
        "Content-Encoding": "gzip",
    }
    with httpx.Client(base_url=base_url, headers=headers, timeout=120) as client:

        def post(body: bytes) -> int:
            answer = client.post("/api/v1/ingest", content=body)
            answer.raise_for_status()
            return int(answer.json()["accepted"])

        post_warmup = client.get("/health")
        post_warmup.raise_for_status()
        started = time.perf_counter()
        with ThreadPoolExecutor(concurrency) as pool:
            accepted = sum(pool.map(post, bodies))
        elapsed = time.perf_counter() - started
    expected = sum(len(json.loads(gzip.decompress(b))["readings"]) for b in bodies)
    if accepted != expected:
        raise RuntimeError(f"the server accepted {accepted} of {expected} readings")
    return elapsed


def raw_rows(readings: list[dict[str, Any]]) -> list[tuple[Any, ...]]:
    received = datetime.now(UTC)
    return [
        (
            GATEWAY_ID,
            r["seq"],
            r["device_id"],
            r["point"],
            datetime.fromisoformat(r["ts"]),
            Decimal(r["value"]),
            None,
            r["unit"],
            "good",
            None,
            r["boot_id"],
            r["mono_ns"],
            True,
            received,
        )
        for r in readings
    ]


COLUMNS = (
    "gateway_id, seq, device_id, point, ts, value, text, unit, quality, reason, "
    "boot_id, mono_ns, clock_trusted, received_at"
)
COPY_TYPES = ["text", "int8", "text", "text", "timestamptz", "numeric"]
COPY_TYPES += ["text", "text", "text", "text", "text", "int8", "bool", "timestamptz"]


def raw_postgres(url: str, rows: list[tuple[Any, ...]], size: int) -> float:
    """Seconds to COPY the rows, batch by batch, into a twin of the readings table."""
    dsn = sa.make_url(url).set(drivername="postgresql").render_as_string(False)
    with psycopg.connect(dsn) as conn:
        conn.execute(
            # Same columns, primary key and series index; LIKE never copies the
            # foreign key to gateways, which the ingest path does check.
            "CREATE TABLE raw_readings (LIKE readings INCLUDING ALL)"
        )
        conn.commit()
        started = time.perf_counter()
        for start in range(0, len(rows), size):
            with conn.cursor() as cursor:
                sql = f"COPY raw_readings ({COLUMNS}) FROM STDIN (FORMAT BINARY)"
                with cursor.copy(sql) as copy:
                    copy.set_types(COPY_TYPES)
                    for row in rows[start : start + size]:
                        copy.write_row(row)
            conn.commit()
        return time.perf_counter() - started


def raw_sqlite(path: Path, rows: list[tuple[Any, ...]], size: int) -> float:
    conn = sqlite3.connect(path)
    conn.execute("PRAGMA journal_mode=WAL")
    conn.execute("PRAGMA synchronous=NORMAL")
    conn.execute(
        f"CREATE TABLE raw_readings ({COLUMNS}, PRIMARY KEY (gateway_id, seq))"
    )
    conn.execute(
        "CREATE INDEX raw_series ON raw_readings (gateway_id, device_id, point, ts)"
    )
    texts = [
        (
            *row[:4],
            row[4].strftime("%Y-%m-%d %H:%M:%S.%f"),
            str(row[5]),
            *row[6:13],
            row[13].strftime("%Y-%m-%d %H:%M:%S.%f"),
        )
        for row in rows
    ]
    marks = ", ".join("?" * 14)
    started = time.perf_counter()
    for start in range(0, len(texts), size):
        with conn:
            conn.executemany(
                f"INSERT OR IGNORE INTO raw_readings VALUES ({marks})",  # noqa: S608
                texts[start : start + size],
            )
    elapsed = time.perf_counter() - started
    conn.close()
    return elapsed


def stored_readings(url: str) -> int:
    engine = sa.create_engine(url)
    with engine.connect() as conn:
        count = conn.execute(sa.text("SELECT count(*) FROM readings")).scalar_one()
    engine.dispose()
    return int(count)


@contextmanager
def throwaway_postgres(base: str) -> Iterator[str]:
    name = f"pams_bench_{uuid.uuid4().hex[:10]}"
    admin = sa.create_engine(base, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(sa.text(f'CREATE DATABASE "{name}"'))
    try:
        yield sa.make_url(base).set(database=name).render_as_string(False)
    finally:
        with admin.connect() as conn:
            conn.execute(sa.text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


def run_backend(
    backend: str, readings: list[dict[str, Any]], args: argparse.Namespace
) -> Result:
    bodies = build_bodies(readings, args.batch)
    rows = raw_rows(readings)
    with tempfile.TemporaryDirectory(prefix="pams-bench-") as folder:
        data_dir = Path(folder)
        if backend == "sqlite":
            url = f"sqlite:///{data_dir / 'cloud.db'}"
            api_s = _api_seconds(url, data_dir, bodies, args)
            raw_s = raw_sqlite(data_dir / "raw.db", rows, args.batch)
            return Result(
                backend, len(rows) / api_s, len(rows) / raw_s, stored_readings(url)
            )
        base = os.environ.get("PAMS_BENCH_DATABASE_URL") or os.environ.get(
            "PAMS_TEST_DATABASE_URL"
        )
        if not base:
            raise SystemExit(
                "Set PAMS_BENCH_DATABASE_URL or PAMS_TEST_DATABASE_URL for PostgreSQL."
            )
        with throwaway_postgres(base) as url:
            api_s = _api_seconds(url, data_dir, bodies, args)
            raw_s = raw_postgres(url, rows, args.batch)
            return Result(
                backend, len(rows) / api_s, len(rows) / raw_s, stored_readings(url)
            )


def _api_seconds(
    url: str, data_dir: Path, bodies: list[bytes], args: argparse.Namespace
) -> float:
    with served(url, data_dir, args.workers) as (base_url, token):
        return post_all(base_url, token, bodies, args.concurrency)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--readings", type=int, default=200_000)
    parser.add_argument("--batch", type=int, default=5_000)
    parser.add_argument("--concurrency", type=int, default=2)
    parser.add_argument("--workers", type=int, default=1, help="server processes")
    parser.add_argument(
        "--backend", choices=["sqlite", "postgres", "both"], default="both"
    )
    args = parser.parse_args()

    os.chdir(ROOT)
    readings = build_readings(args.readings)
    backends = ["sqlite", "postgres"] if args.backend == "both" else [args.backend]
    print(
        f"{args.readings} readings in batches of {args.batch}, gzip, "
        f"{args.concurrency} client connection(s), {args.workers} server worker(s)"
    )
    print(
        f"{'backend':<10} {'API readings/s':>15} {'raw readings/s':>15} {'API/raw':>8}"
    )
    for backend in backends:
        result = run_backend(backend, readings, args)
        if result.stored != args.readings:
            raise SystemExit(
                f"{backend}: {result.stored} readings stored, not {args.readings}"
            )
        ratio = result.api_per_s / result.raw_per_s
        print(
            f"{result.backend:<10} {result.api_per_s:>15,.0f} "
            f"{result.raw_per_s:>15,.0f} {ratio:>8.2f}"
        )


if __name__ == "__main__":
    main()
