"""Readings per second into the gateway buffer, beside raw ``sqlite3.executemany``.

The buffer path is the whole of what the gateway does per reading: a driver's
``Reading`` is stamped with both clocks, turned into a row, and committed with its
sequence number in a transaction of ``--commit`` rows. The raw path inserts the very
same rows (already built) with ``executemany`` into an identical table, in
transactions of the same size, with the same WAL and synchronous settings.

    .venv/bin/python bench/edge_buffer.py [--readings 200000] [--commit 500]
"""

from __future__ import annotations

import argparse
import sqlite3
import tempfile
import time
from decimal import Decimal
from pathlib import Path

from drivers.types import Reading
from edge.buffer import Buffer
from edge.clock import WallClockGuard
from edge.records import reading_row


def make_readings(n: int) -> list[Reading]:
    points = ["voltage", "current", "active_power", "frequency", "import_energy"]
    return [
        Reading(
            device_id=f"meter-{i % 40}",
            point=points[i % len(points)],
            value=Decimal(f"{230 + (i % 100) / 10:.1f}"),
            unit="V",
        )
        for i in range(n)
    ]


def bench_buffer(readings: list[Reading], commit: int, directory: Path) -> float:
    buffer = Buffer(directory / "buffer.db", boot_id="bench")
    clock = WallClockGuard()
    start = time.perf_counter()
    for i in range(0, len(readings), commit):
        sample = clock.sample()
        buffer.append([reading_row(r, sample) for r in readings[i : i + commit]])
    elapsed = time.perf_counter() - start
    buffer.close()
    return len(readings) / elapsed


def bench_raw(readings: list[Reading], commit: int, directory: Path) -> float:
    clock = WallClockGuard().sample()
    rows = [
        (seq, *reading_row(r, clock)[:11], 1, clock.mono_ns, 1)
        for seq, r in enumerate(readings, start=1)
    ]
    conn = sqlite3.connect(directory / "raw.db", isolation_level=None)
    conn.execute("PRAGMA journal_mode=WAL")
    conn.execute("PRAGMA synchronous=NORMAL")
    conn.execute(
        "CREATE TABLE records (seq INTEGER PRIMARY KEY, kind INTEGER NOT NULL,"
        " priority INTEGER NOT NULL, device_id TEXT NOT NULL, name TEXT NOT NULL,"
        " ts_us INTEGER NOT NULL, value TEXT, text TEXT, unit TEXT, quality TEXT,"
        " reason TEXT, data TEXT, boot_no INTEGER NOT NULL, mono_ns INTEGER NOT NULL,"
        " clock_trusted INTEGER NOT NULL)"
    )
    conn.execute("CREATE INDEX records_priority_seq ON records (priority, seq)")
    sql = "INSERT INTO records VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)"
    start = time.perf_counter()
    for i in range(0, len(rows), commit):
        conn.execute("BEGIN")
        conn.executemany(sql, rows[i : i + commit])
        conn.execute("COMMIT")
    elapsed = time.perf_counter() - start
    conn.close()
    return len(rows) / elapsed


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--readings", type=int, default=200_000)
    parser.add_argument("--commit", type=int, default=500, help="rows per transaction")
    args = parser.parse_args()

    readings = make_readings(args.readings)
    with tempfile.TemporaryDirectory() as tmp:
        directory = Path(tmp)
        raw = bench_raw(readings, args.commit, directory)
        ours = bench_buffer(readings, args.commit, directory)

    print(f"readings: {args.readings}, rows per transaction: {args.commit}")
    print(f"gateway buffer (Reading -> row -> commit): {ours:,.0f} readings/s")
    print(f"raw sqlite3.executemany (prebuilt rows):   {raw:,.0f} readings/s")
    print(f"ratio buffer/raw: {ours / raw:.2f}")


if __name__ == "__main__":
    main()
