"""The gateway's store-and-forward buffer: SQLite in WAL mode.

Every reading and event gets a gateway-wide sequence number when it is committed. A
record leaves the buffer in one of two ways only: the cloud acknowledged the exact batch
that carried it, or the buffer evicted it (telemetry only, oldest first) and recorded
the evicted range as a gap that is itself sent to the cloud. So every sequence number
ever committed is, at any moment, in exactly one of three places: the ``records``
table, the ``gaps`` table, or the cloud.

Sequence numbers must never be reused, even when the database file is lost: a reused
number would be taken by the cloud as a duplicate and silently dropped. The buffer
therefore reserves numbers in blocks and records the end of the reserved block in a
small side file (written with fsync and rename); a fresh database resumes after it.
"""

from __future__ import annotations

import logging
import os
import shutil
import sqlite3
import time
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import NamedTuple

from sqlite_utils import Database, Migrations

logger = logging.getLogger(__name__)

SEQ_BLOCK = 100_000
SQLITE_MAX_VARIABLES = 32_766


class BufferError(Exception):
    """Base of the buffer's errors."""


class BufferFullError(BufferError):
    """Raised when a record cannot be stored even after evicting telemetry."""


KIND_READING = 0
KIND_EVENT = 1


class NewRecord(NamedTuple):
    """A record as the poll loop hands it to the buffer (no sequence number yet).

    ``ts_us`` is wall-clock microseconds since the Unix epoch, UTC; ``value`` is the
    exact decimal as text; ``name`` is the point of a reading or the kind of an event.
    """

    kind: int
    priority: int
    device_id: str
    name: str
    ts_us: int
    value: str | None
    text: str | None
    unit: str | None
    quality: str | None
    reason: str | None
    data: str | None
    mono_ns: int
    clock_trusted: int


class StoredRecord(NamedTuple):
    seq: int
    kind: int
    priority: int
    device_id: str
    name: str
    ts_us: int
    value: str | None
    text: str | None
    unit: str | None
    quality: str | None
    reason: str | None
    data: str | None
    boot_id: str
    mono_ns: int
    clock_trusted: int


@dataclass(frozen=True, slots=True)
class GapRange:
    first_seq: int
    last_seq: int
    reason: str


@dataclass(frozen=True, slots=True)
class Batch:
    """A contiguous range of sequence numbers, each either a record or in a gap."""

    first_seq: int
    last_seq: int
    records: list[StoredRecord]
    gaps: list[GapRange]


@dataclass(frozen=True, slots=True)
class BufferStats:
    depth: int
    oldest_ts_us: int | None
    last_seq: int
    evicted_total: int
    set_aside_total: int
    used_bytes: int


_migrations = Migrations("pams_edge_buffer")


@_migrations(name="001_records")
def _create_records(db: Database) -> None:
    db.executescript(
        """
        CREATE TABLE records (
            seq INTEGER PRIMARY KEY,
            kind INTEGER NOT NULL,
            priority INTEGER NOT NULL,
            device_id TEXT NOT NULL,
            name TEXT NOT NULL,
            ts_us INTEGER NOT NULL,
            value TEXT,
            text TEXT,
            unit TEXT,
            quality TEXT,
            reason TEXT,
            data TEXT,
            boot_no INTEGER NOT NULL,
            mono_ns INTEGER NOT NULL,
            clock_trusted INTEGER NOT NULL
        );
        CREATE INDEX records_priority_seq ON records (priority, seq);
        CREATE TABLE gaps (
            first_seq INTEGER PRIMARY KEY,
            last_seq INTEGER NOT NULL,
            reason TEXT NOT NULL
        );
        CREATE TABLE set_aside (
            seq INTEGER PRIMARY KEY,
            record TEXT NOT NULL,
            reason TEXT NOT NULL,
            set_aside_at TEXT NOT NULL
        );
        CREATE TABLE boots (
            boot_no INTEGER PRIMARY KEY,
            boot_id TEXT NOT NULL,
            started_at TEXT NOT NULL
        );
        CREATE TABLE meta (key TEXT PRIMARY KEY, value INTEGER NOT NULL);
        """
    )


@_migrations(name="002_commands")
def _create_commands(db: Database) -> None:
    db.executescript(
        """
        CREATE TABLE commands (
            id TEXT PRIMARY KEY,
            kind TEXT NOT NULL,
            status TEXT NOT NULL,
            received_at TEXT NOT NULL,
            finished_at TEXT
        );
        """
    )


_INSERT = (
    "INSERT INTO records (seq, kind, priority, device_id, name, ts_us, value, text,"
    " unit, quality, reason, data, boot_no, mono_ns, clock_trusted)"
    " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)"
)
_SELECT = (
    "SELECT r.seq, r.kind, r.priority, r.device_id, r.name, r.ts_us, r.value, r.text,"
    " r.unit, r.quality, r.reason, r.data, b.boot_id, r.mono_ns, r.clock_trusted"
    " FROM records r JOIN boots b ON b.boot_no = r.boot_no"
)


class Buffer:
    """The SQLite buffer. One instance per process; not shared between threads."""

    def __init__(
        self,
        path: Path,
        *,
        boot_id: str,
        max_bytes: int = 512 * 1024 * 1024,
        max_age_s: float = 30 * 86400,
        synchronous: str = "NORMAL",
    ) -> None:
        self.path = path
        self.max_bytes = max_bytes
        self.max_age_s = max_age_s
        self._seq_file = path.with_name(path.name + ".seq")
        path.parent.mkdir(parents=True, exist_ok=True)
        self._db = self._open(path, synchronous)
        self._boot_no = self._register_boot(boot_id)
        self._last_seq = self._meta("last_seq")
        self._reserved_to = max(self._meta("reserved_to"), self._read_seq_file())
        if self._reserved_to > self._last_seq and self._meta("reserved_to") == 0:
            # A fresh database after a lost one: resume past everything ever reserved.
            self._last_seq = self._reserved_to
        self.evicted_total = self._meta("evicted_total")
        # Records up to here are in a batch on its way to the cloud: not evictable.
        self.protected_upto = 0
        self.set_aside_total = self._meta("set_aside_total")

    # --- opening ---------------------------------------------------------------

    def _open(self, path: Path, synchronous: str) -> Database:
        try:
            return self._connect(path, synchronous)
        except sqlite3.DatabaseError as exc:
            aside = path.with_name(f"{path.name}.corrupt-{int(time.time())}")
            logger.error(
                "buffer %s is corrupt (%s); moved aside to %s, starting a fresh buffer",
                path,
                exc,
                aside,
            )
            for suffix in ("", "-wal", "-shm"):
                src = Path(str(path) + suffix)
                if src.exists():
                    shutil.move(src, Path(str(aside) + suffix))
            return self._connect(path, synchronous)

    @staticmethod
    def _connect(path: Path, synchronous: str) -> Database:
        conn = sqlite3.connect(path, isolation_level=None, check_same_thread=False)
        try:
            conn.execute("PRAGMA journal_mode=WAL")
            conn.execute(f"PRAGMA synchronous={synchronous}")
            check = conn.execute("PRAGMA quick_check").fetchone()[0]
            if check != "ok":
                raise sqlite3.DatabaseError(f"quick_check says {check}")
            db = Database(conn)
            _migrations.apply(db)
        except sqlite3.DatabaseError:
            conn.close()
            raise
        return db

    def _register_boot(self, boot_id: str) -> int:
        with self._db.atomic():
            cur = self._db.execute(
                "INSERT INTO boots (boot_id, started_at) VALUES (?, ?)",
                [boot_id, datetime.now(UTC).isoformat()],
            )
        return int(cur.lastrowid or 0)

    def _meta(self, key: str) -> int:
        row = self._db.execute("SELECT value FROM meta WHERE key = ?", [key]).fetchone()
        return int(row[0]) if row else 0

    def _set_meta(self, key: str, value: int) -> None:
        self._db.execute(
            "INSERT INTO meta (key, value) VALUES (?, ?)"
            " ON CONFLICT (key) DO UPDATE SET value = excluded.value",
            [key, value],
        )

    def _read_seq_file(self) -> int:
        try:
            return int(self._seq_file.read_text(encoding="ascii").strip() or 0)
        except FileNotFoundError:
            return 0
        except ValueError:
            logger.error("sequence file %s is unreadable; ignoring it", self._seq_file)
            return 0

    def _reserve(self, upto: int) -> None:
        """Make sure sequence numbers up to ``upto`` are reserved on disk."""
        if upto <= self._reserved_to:
            return
        reserved = (upto // SEQ_BLOCK + 1) * SEQ_BLOCK
        tmp = self._seq_file.with_suffix(".tmp")
        with tmp.open("w", encoding="ascii") as fh:
            fh.write(str(reserved))
            fh.flush()
            os.fsync(fh.fileno())
        tmp.replace(self._seq_file)
        self._set_meta("reserved_to", reserved)
        self._reserved_to = reserved

    # --- writing ---------------------------------------------------------------

    def append(self, records: Sequence[NewRecord]) -> tuple[int, int]:
        """Commit records in one transaction; returns the first and last sequence."""
        if not records:
            return (self._last_seq + 1, self._last_seq)
        first = self._last_seq + 1
        last = self._last_seq + len(records)
        boot = self._boot_no
        rows = [
            (first + i, *r[:11], boot, r.mono_ns, r.clock_trusted)
            for i, r in enumerate(records)
        ]
        try:
            self._write(rows, last)
        except sqlite3.OperationalError as exc:
            if "full" not in str(exc).lower():
                raise
            logger.error("buffer %s: disk full; evicting telemetry", self.path)
            if not self._evict_oldest_telemetry(max(len(rows), 1000), "disk full"):
                raise BufferFullError(
                    f"disk full and nothing left to evict: {exc}"
                ) from exc
            self._write(rows, last)
        self._last_seq = last
        return (first, last)

    def _write(self, rows: Sequence[tuple[object, ...]], last: int) -> None:
        with self._db.atomic():
            self._reserve(last)
            self._db.conn.executemany(_INSERT, rows)
            self._set_meta("last_seq", last)

    # --- reading for the uplink ------------------------------------------------

    def next_batch(self, limit: int, *, after_seq: int = 0) -> Batch | None:
        """The oldest unsent records and gaps past ``after_seq``, as one contiguous
        sequence range (``after_seq`` skips ranges already in flight)."""
        lo_row = self._db.execute(
            "SELECT min(s) FROM (SELECT min(seq) AS s FROM records WHERE seq > ?"
            " UNION ALL SELECT min(first_seq) FROM gaps WHERE first_seq > ?)",
            [after_seq, after_seq],
        ).fetchone()
        if lo_row is None or lo_row[0] is None:
            return None
        lo = int(lo_row[0])
        records = [
            StoredRecord(*row)
            for row in self._db.execute(
                f"{_SELECT} WHERE r.seq >= ? ORDER BY r.seq LIMIT ?", [lo, limit]
            )
        ]
        hi = records[-1].seq if records else lo
        gaps = [
            GapRange(int(a), int(b), str(reason))
            for a, b, reason in self._db.execute(
                "SELECT first_seq, last_seq, reason FROM gaps"
                " WHERE first_seq >= ? AND first_seq <= ? ORDER BY first_seq",
                [lo, max(hi, lo)],
            )
        ]
        if gaps:
            # A gap holds no records, so one that starts before the last record
            # also ends before it; only a batch of gaps alone extends past ``hi``.
            hi = max(hi, gaps[-1].last_seq)
        return Batch(first_seq=lo, last_seq=hi, records=records, gaps=gaps)

    def ack(self, first_seq: int, last_seq: int) -> int:
        """Forget a range the cloud acknowledged; returns how many records left."""
        with self._db.atomic():
            cur = self._db.execute(
                "DELETE FROM records WHERE seq BETWEEN ? AND ?", [first_seq, last_seq]
            )
            self._db.execute(
                "DELETE FROM gaps WHERE first_seq BETWEEN ? AND ?",
                [first_seq, last_seq],
            )
        return int(cur.rowcount)

    def set_aside(self, seqs: Iterable[int], reason: str) -> None:
        """Move records the cloud refused out of the queue, and report them as a gap."""
        now = datetime.now(UTC).isoformat()
        with self._db.atomic():
            for seq in sorted(seqs):
                row = self._db.execute(f"{_SELECT} WHERE r.seq = ?", [seq]).fetchone()
                if row is None:
                    continue
                self._db.execute(
                    "INSERT OR REPLACE INTO set_aside"
                    " (seq, record, reason, set_aside_at) VALUES (?, ?, ?, ?)",
                    [seq, repr(tuple(row)), reason, now],
                )
                self._db.execute("DELETE FROM records WHERE seq = ?", [seq])
                self._db.execute(
                    "INSERT INTO gaps (first_seq, last_seq, reason) VALUES (?, ?, ?)",
                    [seq, seq, f"set aside: {reason}"[:256]],
                )
                self.set_aside_total += 1
            self._set_meta("set_aside_total", self.set_aside_total)
        logger.error(
            "buffer %s: set aside records refused by the cloud: %s", self.path, reason
        )

    # --- commands from the cloud ---------------------------------------------------

    def claim_command(self, command_id: str, kind: str) -> bool:
        """Record a command as started; False if its id was seen before."""
        with self._db.atomic():
            cur = self._db.execute(
                "INSERT OR IGNORE INTO commands (id, kind, status, received_at)"
                " VALUES (?, ?, 'running', ?)",
                [command_id, kind, datetime.now(UTC).isoformat()],
            )
        return cur.rowcount == 1

    def finish_command(self, command_id: str, status: str) -> None:
        with self._db.atomic():
            self._db.execute(
                "UPDATE commands SET status = ?, finished_at = ? WHERE id = ?",
                [status, datetime.now(UTC).isoformat(), command_id],
            )

    def unfinished_commands(self) -> list[str]:
        """Commands started but never finished: the gateway died while running them."""
        rows = self._db.execute("SELECT id FROM commands WHERE status = 'running'")
        return [str(row[0]) for row in rows]

    # --- bounds ----------------------------------------------------------------

    def enforce_bounds(self, now_us: int | None = None) -> int:
        """Evict telemetry past the age or size bound; returns how many went."""
        now_us = now_us if now_us is not None else time.time_ns() // 1000
        evicted = 0
        cutoff = now_us - int(self.max_age_s * 1_000_000)
        old = self._db.execute(
            "SELECT count(*) FROM records WHERE priority = 0 AND ts_us < ? AND seq > ?",
            [cutoff, self.protected_upto],
        ).fetchone()[0]
        if old:
            evicted += self._evict_oldest_telemetry(
                int(old), "older than the age bound"
            )
        while self.used_bytes() > self.max_bytes:
            went = self._evict_oldest_telemetry(1000, "over the size bound")
            if not went:
                logger.error(
                    "buffer %s over its size bound with no telemetry left", self.path
                )
                break
            evicted += went
        return evicted

    def _evict_oldest_telemetry(self, count: int, reason: str) -> int:
        """Delete the oldest telemetry and record the deleted seqs as gap ranges."""
        with self._db.atomic():
            seqs = [
                int(r[0])
                for r in self._db.execute(
                    "SELECT seq FROM records WHERE priority = 0 AND seq > ?"
                    " ORDER BY seq LIMIT ?",
                    [self.protected_upto, count],
                )
            ]
            if not seqs:
                return 0
            ranges = _runs(seqs)
            for first, last in ranges:
                self._db.execute(
                    "DELETE FROM records WHERE priority = 0 AND seq BETWEEN ? AND ?",
                    [first, last],
                )
            self._db.conn.executemany(
                "INSERT INTO gaps (first_seq, last_seq, reason) VALUES (?, ?, ?)",
                [(first, last, f"evicted: {reason}") for first, last in ranges],
            )
            self.evicted_total += len(seqs)
            self._set_meta("evicted_total", self.evicted_total)
        logger.warning(
            "buffer %s: evicted %d telemetry records (%s)", self.path, len(seqs), reason
        )
        return len(seqs)

    # --- health ----------------------------------------------------------------

    def used_bytes(self) -> int:
        page_size = self._db.execute("PRAGMA page_size").fetchone()[0]
        pages = self._db.execute("PRAGMA page_count").fetchone()[0]
        free = self._db.execute("PRAGMA freelist_count").fetchone()[0]
        return int((pages - free) * page_size)

    def stats(self) -> BufferStats:
        depth, oldest = self._db.execute(
            "SELECT count(*), min(ts_us) FROM records"
        ).fetchone()
        return BufferStats(
            depth=int(depth),
            oldest_ts_us=int(oldest) if oldest is not None else None,
            last_seq=self._last_seq,
            evicted_total=self.evicted_total,
            set_aside_total=self.set_aside_total,
            used_bytes=self.used_bytes(),
        )

    @property
    def last_seq(self) -> int:
        return self._last_seq

    def close(self) -> None:
        self._db.close()


def _runs(seqs: list[int]) -> list[tuple[int, int]]:
    """Consecutive runs of sorted integers: [1, 2, 3, 7, 8] -> [(1, 3), (7, 8)]."""
    ranges: list[tuple[int, int]] = []
    start = prev = seqs[0]
    for seq in seqs[1:]:
        if seq != prev + 1:
            ranges.append((start, prev))
            start = seq
        prev = seq
    ranges.append((start, prev))
    return ranges


def disk_free_bytes(path: Path) -> int:
    return shutil.disk_usage(path.parent).free
