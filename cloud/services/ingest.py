"""Taking a gateway's batch: decode, check, store once, acknowledge.

Storage is idempotent on (gateway_id, seq): the primary keys of the readings and events
tables, and (gateway_id, first_seq) for gaps, turn a re-sent batch into no new rows.
On PostgreSQL the rows go in by binary COPY (see ``_PostgresWriter``); on SQLite by
one executemany of ``INSERT … ON CONFLICT DO NOTHING``. One transaction per batch.
"""

from __future__ import annotations

import logging
import zlib
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime
from operator import attrgetter
from typing import Any, Protocol

import sqlalchemy as sa
from cryptography.fernet import Fernet
from psycopg.errors import UniqueViolation
from psycopg.types.json import Jsonb
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session

from cloud.db import is_postgresql
from cloud.models import (
    Base,
    Device,
    DevicePoint,
    EventRow,
    GapRow,
    Gateway,
    ReadingRow,
    UtcDateTime,
)
from cloud.services import clock, commands, events
from cloud.services.errors import (
    BatchRejectedError,
    PayloadTooLargeError,
    PermissionDeniedError,
    UnsupportedEncodingError,
)
from sync.schema import SCHEMA_VERSION, Batch, BatchAck

logger = logging.getLogger(__name__)

_GZIP_WBITS = 16 + zlib.MAX_WBITS
_RECORD_KINDS = ("readings", "events", "gaps")


def decode_body(body: bytes, content_encoding: str | None, limit: int) -> bytes:
    """The JSON of a request body, gunzipped when it says so, at most ``limit``."""
    encoding = (content_encoding or "identity").strip().lower()
    if encoding == "identity":
        if len(body) > limit:
            raise PayloadTooLargeError(
                f"The body has {len(body)} bytes; the limit is {limit}."
            )
        return body
    if encoding not in ("gzip", "x-gzip"):
        raise UnsupportedEncodingError(
            f"Content-Encoding {content_encoding!r} is not supported; use gzip."
        )
    return _gunzip(body, limit)


def _gunzip(body: bytes, limit: int) -> bytes:
    decompressor = zlib.decompressobj(_GZIP_WBITS)
    try:
        # One byte more than the limit tells "exactly at the limit" from "above it",
        # without ever inflating a gzip bomb past that.
        data = decompressor.decompress(body, limit + 1)
    except zlib.error as exc:
        raise BatchRejectedError(f"The gzip body is corrupt: {exc}.") from exc
    if len(data) > limit or decompressor.unconsumed_tail:
        raise PayloadTooLargeError(
            f"The gzip body inflates to more than {limit} bytes, the limit."
        )
    if not decompressor.eof:
        raise BatchRejectedError("The gzip body is truncated.")
    return data


def check_sequence(batch: Batch) -> None:
    """Every seq in [first_seq, last_seq] must be in exactly one record of the batch."""
    if batch.first_seq > batch.last_seq:
        raise BatchRejectedError(
            f"first_seq {batch.first_seq} is greater than last_seq {batch.last_seq}."
        )
    if not batch.gaps and _covers_exactly(batch):
        return
    spans: list[tuple[int, int, int, int]] = [
        (reading.seq, reading.seq, 0, index)
        for index, reading in enumerate(batch.readings)
    ]
    spans += [(event.seq, event.seq, 1, i) for i, event in enumerate(batch.events)]
    for index, gap in enumerate(batch.gaps):
        if gap.first_seq > gap.last_seq:
            raise BatchRejectedError(
                f"gaps[{index}] has first_seq {gap.first_seq} greater than "
                f"last_seq {gap.last_seq}."
            )
        spans.append((gap.first_seq, gap.last_seq, 2, index))
    spans.sort()
    _check_spans(batch, spans)


def _covers_exactly(batch: Batch) -> bool:
    """The common case, checked without sorting: as many distinct seqs as the range
    holds, none outside it."""
    seqs = [reading.seq for reading in batch.readings]
    seqs += [event.seq for event in batch.events]
    return (
        len(seqs) == batch.last_seq - batch.first_seq + 1
        and min(seqs) == batch.first_seq
        and max(seqs) == batch.last_seq
        and len(set(seqs)) == len(seqs)
    )


def _check_spans(batch: Batch, spans: list[tuple[int, int, int, int]]) -> None:
    expected = batch.first_seq
    previous = ""
    for start, end, kind, index in spans:
        where = f"{_RECORD_KINDS[kind]}[{index}]"
        if start < batch.first_seq:
            raise BatchRejectedError(
                f"{where} has seq {start}, below first_seq {batch.first_seq}."
            )
        if start < expected:
            raise BatchRejectedError(
                f"seq {start} appears more than once: in {previous} and in {where}."
            )
        if start > expected:
            raise BatchRejectedError(_missing(expected, start - 1))
        if end > batch.last_seq:
            raise BatchRejectedError(
                f"{where} has seq {end}, above last_seq {batch.last_seq}."
            )
        expected, previous = end + 1, where
    if expected <= batch.last_seq:
        raise BatchRejectedError(_missing(expected, batch.last_seq))


def _missing(first: int, last: int) -> str:
    seqs = f"seq {first} is" if first == last else f"seqs {first} to {last} are"
    return (
        f"{seqs} missing: every seq in [first_seq, last_seq] must be in readings, "
        "events or gaps."
    )


@dataclass(frozen=True)
class StoreResult:
    accepted: int
    duplicates: int


def ingest_batch(
    session: Session,
    gateway: Gateway,
    batch: Batch,
    *,
    received_at: datetime,
    tokens: Fernet | None = None,
) -> BatchAck:
    """Check and store one batch in one transaction, and say what was new."""
    if batch.gateway_id != gateway.id:
        raise PermissionDeniedError(
            f"The batch is for gateway {batch.gateway_id!r}, but the token belongs "
            f"to gateway {gateway.id!r}."
        )
    if batch.schema_version > SCHEMA_VERSION:
        raise BatchRejectedError(
            f"schema_version {batch.schema_version} is newer than this server, which "
            f"reads version {SCHEMA_VERSION}; upgrade the cloud service first."
        )
    check_sequence(batch)

    result = _store(session, batch, received_at)
    clock.reconcile(session, batch)
    gateway.last_seen_at = received_at
    events.dispatch(session, gateway, batch.events)
    queued = commands.deliverable(session, gateway, tokens=tokens)
    session.commit()
    events.committed(batch.events)

    logger.debug(
        "%s batch %s seq %d..%d: %d new, %d duplicate",
        gateway.id,
        batch.batch_id,
        batch.first_seq,
        batch.last_seq,
        result.accepted,
        result.duplicates,
    )
    return BatchAck(
        batch_id=batch.batch_id,
        first_seq=batch.first_seq,
        last_seq=batch.last_seq,
        accepted=result.accepted,
        duplicates=result.duplicates,
        commands=queued,
    )


def _store(session: Session, batch: Batch, received_at: datetime) -> StoreResult:
    if is_postgresql(session):
        writer: _Writer = _PostgresWriter(session)
    else:
        writer = _SqliteWriter(session)
    gateway_id = batch.gateway_id
    accepted = writer.insert(_table(ReadingRow), _reading_rows(batch, received_at))
    accepted += writer.insert(_table(EventRow), _event_rows(batch, received_at))
    accepted += writer.insert(
        _table(GapRow),
        [
            (gateway_id, gap.first_seq, gap.last_seq, gap.reason, received_at)
            for gap in batch.gaps
        ],
    )
    total = len(batch.readings) + len(batch.events) + len(batch.gaps)
    if accepted:
        _upsert_devices(session, batch, received_at)
        if batch.readings:
            _upsert_device_points(session, batch)
    return StoreResult(accepted=accepted, duplicates=total - accepted)


def _table(model: type[Base]) -> sa.Table:
    return Base.metadata.tables[model.__tablename__]


READING_COLUMNS = (
    "gateway_id",
    "seq",
    "device_id",
    "point",
    "ts",
    "value",
    "text",
    "unit",
    "quality",
    "reason",
    "boot_id",
    "mono_ns",
    "clock_trusted",
    "received_at",
)
EVENT_COLUMNS = (
    "gateway_id",
    "seq",
    "device_id",
    "kind",
    "priority",
    "data",
    "ts",
    "boot_id",
    "mono_ns",
    "clock_trusted",
    "received_at",
)
GAP_COLUMNS = ("gateway_id", "first_seq", "last_seq", "reason", "received_at")
_COLUMNS = {"readings": READING_COLUMNS, "events": EVENT_COLUMNS, "gaps": GAP_COLUMNS}


# Binary COPY needs each column's PostgreSQL type, in COPY column order.
_COPY_TYPES = {
    "readings": (
        "text",
        "int8",
        "text",
        "text",
        "timestamptz",
        "numeric",
        "text",
        "text",
        "text",
        "text",
        "text",
        "int8",
        "bool",
        "timestamptz",
    ),
    "events": (
        "text",
        "int8",
        "text",
        "text",
        "int2",
        "jsonb",
        "timestamptz",
        "text",
        "int8",
        "bool",
        "timestamptz",
    ),
    "gaps": ("text", "int8", "int8", "text", "timestamptz"),
}


_READING_FIELDS = attrgetter(*READING_COLUMNS[1:-1])


def _reading_rows(batch: Batch, received_at: datetime) -> list[tuple[Any, ...]]:
    # attrgetter runs in C; quality stays a StrEnum, which every driver binds as str.
    gateway_id = batch.gateway_id
    fields = _READING_FIELDS
    return [(gateway_id, *fields(r), received_at) for r in batch.readings]


def _event_rows(batch: Batch, received_at: datetime) -> list[tuple[Any, ...]]:
    gateway_id = batch.gateway_id
    return [
        (
            gateway_id,
            e.seq,
            e.device_id,
            e.kind,
            int(e.priority),
            e.data,
            e.ts,
            e.boot_id,
            e.mono_ns,
            e.clock_trusted,
            received_at,
        )
        for e in batch.events
    ]


class _Writer(Protocol):
    def insert(self, table: sa.Table, rows: Sequence[tuple[Any, ...]]) -> int:
        """Insert the rows that are new; return how many were."""


class _SqliteWriter:
    def __init__(self, session: Session) -> None:
        self._session = session

    def insert(self, table: sa.Table, rows: Sequence[tuple[Any, ...]]) -> int:
        if not rows:
            return 0
        columns = _COLUMNS[table.name]
        statement = sqlite.insert(table).on_conflict_do_nothing()
        result = self._session.execute(
            statement, [dict(zip(columns, row, strict=True)) for row in rows]
        )
        return int(result.rowcount)  # type: ignore[attr-defined]


class _PostgresWriter:
    """COPY straight into the table; on a duplicate, stage and merge instead.

    Most batches are new, and a plain COPY costs a fraction of an ``INSERT … ON
    CONFLICT`` (which inserts each row speculatively). A batch the gateway re-sends
    after a lost answer makes that COPY fail on the primary key: it is rolled back to
    its savepoint, and the rows go through a temporary twin of the table and one
    ``INSERT … SELECT … ON CONFLICT DO NOTHING``, which counts what was new.
    """

    def __init__(self, session: Session) -> None:
        driver = session.connection().connection.driver_connection
        assert driver is not None
        self._driver: Any = driver

    def insert(self, table: sa.Table, rows: Sequence[tuple[Any, ...]]) -> int:
        if not rows:
            return 0
        with self._driver.cursor() as cursor:
            cursor.execute("SAVEPOINT pams_copy")
            try:
                self._copy(table.name, table.name, rows)
            except UniqueViolation:
                cursor.execute("ROLLBACK TO SAVEPOINT pams_copy")
                return self._merge(table.name, rows)
            cursor.execute("RELEASE SAVEPOINT pams_copy")
        return len(rows)

    def _merge(self, name: str, rows: Sequence[tuple[Any, ...]]) -> int:
        staging = f"pams_ingest_{name}"
        columns = ", ".join(_COLUMNS[name])
        with self._driver.cursor() as cursor:
            # Kept by the pooled connection; ON COMMIT DELETE ROWS empties it for the
            # next batch, and a rollback takes its rows (or its creation) with it.
            cursor.execute(
                f"CREATE TEMPORARY TABLE IF NOT EXISTS {staging} "
                f"(LIKE {name}) ON COMMIT DELETE ROWS"
            )
            self._copy(staging, name, rows)
            cursor.execute(
                f"INSERT INTO {name} ({columns}) "  # noqa: S608
                f"SELECT {columns} FROM {staging} ON CONFLICT DO NOTHING"
            )
            return int(cursor.rowcount)

    def _copy(self, target: str, name: str, rows: Sequence[tuple[Any, ...]]) -> None:
        columns = ", ".join(_COLUMNS[name])
        with (
            self._driver.cursor() as cursor,
            cursor.copy(
                f"COPY {target} ({columns}) FROM STDIN (FORMAT BINARY)"
            ) as copy,
        ):
            copy.set_types(_COPY_TYPES[name])
            write_row = copy.write_row
            for row in _jsonb_wrapped(name, rows):
                write_row(row)


def _jsonb_wrapped(
    table_name: str, rows: Sequence[tuple[Any, ...]]
) -> Iterable[tuple[Any, ...]]:
    if table_name != "events":
        return rows
    data_index = EVENT_COLUMNS.index("data")
    return [
        (*row[:data_index], Jsonb(row[data_index]), *row[data_index + 1 :])
        for row in rows
    ]


def _upsert_devices(session: Session, batch: Batch, received_at: datetime) -> None:
    """Record each device of the batch as seen, with its newest sample time.

    The newest times come from the rows just stored, aggregated by the database,
    which costs less there than a Python loop over every record here.
    """
    records = sa.union_all(
        *(
            sa.select(row.device_id, row.ts).where(
                row.gateway_id == batch.gateway_id,
                row.seq.between(batch.first_seq, batch.last_seq),
            )
            for row in (ReadingRow, EventRow)
        )
    ).subquery()
    seen_at = sa.literal(received_at, UtcDateTime())
    latest = sa.select(
        sa.literal(batch.gateway_id, sa.String()),
        records.c.device_id,
        seen_at,
        seen_at,
        sa.func.max(records.c.ts),
    ).group_by(records.c.device_id)

    dialect = postgresql if is_postgresql(session) else sqlite
    table = _table(Device)
    statement = dialect.insert(table).from_select(
        ["gateway_id", "device_id", "first_seen_at", "last_seen_at", "last_ts"], latest
    )
    excluded = statement.excluded
    session.execute(
        statement.on_conflict_do_update(
            index_elements=[table.c.gateway_id, table.c.device_id],
            set_={
                "last_seen_at": excluded.last_seen_at,
                "last_ts": sa.case(
                    (excluded.last_ts > table.c.last_ts, excluded.last_ts),
                    else_=table.c.last_ts,
                ),
            },
        )
    )


def _upsert_device_points(session: Session, batch: Batch) -> None:
    """Point each (device, point) of the batch at its newest reading, unless a newer
    one (by sample time, then seq) is already known."""
    rank = (
        sa.func.row_number()
        .over(
            partition_by=(ReadingRow.device_id, ReadingRow.point),
            order_by=(ReadingRow.ts.desc(), ReadingRow.seq.desc()),
        )
        .label("rank")
    )
    ranked = (
        sa.select(
            ReadingRow.gateway_id,
            ReadingRow.device_id,
            ReadingRow.point,
            ReadingRow.ts,
            ReadingRow.seq,
            rank,
        )
        .where(
            ReadingRow.gateway_id == batch.gateway_id,
            ReadingRow.seq.between(batch.first_seq, batch.last_seq),
        )
        .subquery()
    )
    newest = sa.select(
        ranked.c.gateway_id,
        ranked.c.device_id,
        ranked.c.point,
        ranked.c.ts,
        ranked.c.seq,
    ).where(ranked.c.rank == 1)

    dialect = postgresql if is_postgresql(session) else sqlite
    table = _table(DevicePoint)
    statement = dialect.insert(table).from_select(
        ["gateway_id", "device_id", "point", "last_ts", "last_seq"], newest
    )
    excluded = statement.excluded
    is_newer = sa.or_(
        excluded.last_ts > table.c.last_ts,
        sa.and_(
            excluded.last_ts == table.c.last_ts, excluded.last_seq > table.c.last_seq
        ),
    )
    session.execute(
        statement.on_conflict_do_update(
            index_elements=[table.c.gateway_id, table.c.device_id, table.c.point],
            set_={"last_ts": excluded.last_ts, "last_seq": excluded.last_seq},
            where=is_newer,
        )
    )
