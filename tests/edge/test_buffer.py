from __future__ import annotations

import logging
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from edge.buffer import (
    KIND_EVENT,
    KIND_READING,
    SEQ_BLOCK,
    Buffer,
    BufferFullError,
    NewRecord,
)

T0_US = 1_790_000_000_000_000


def reading(i: int, *, ts_us: int | None = None) -> NewRecord:
    return NewRecord(
        KIND_READING,
        0,
        "meter-1",
        "voltage",
        ts_us if ts_us is not None else T0_US + i,
        f"230.{i % 10}",
        None,
        "V",
        "good",
        None,
        None,
        i,
        1,
    )


def event(i: int, *, alarm: bool = False) -> NewRecord:
    return NewRecord(
        KIND_EVENT,
        2 if alarm else 1,
        "door-1",
        "card_read",
        T0_US + i,
        None,
        None,
        None,
        None,
        None,
        '{"bits": 26}',
        i,
        1,
    )


def open_buffer(path: Path, **kwargs: object) -> Buffer:
    return Buffer(path / "buffer.db", boot_id="boot-a", **kwargs)  # type: ignore[arg-type]


def drain(buffer: Buffer, limit: int = 7) -> list[int]:
    """Send everything, acknowledging every batch; returns every seq accounted for."""
    seen: list[int] = []
    while (batch := buffer.next_batch(limit)) is not None:
        covered = [r.seq for r in batch.records]
        for gap in batch.gaps:
            covered.extend(range(gap.first_seq, gap.last_seq + 1))
        assert sorted(covered) == list(range(batch.first_seq, batch.last_seq + 1))
        seen.extend(covered)
        buffer.ack(batch.first_seq, batch.last_seq)
    return seen


def test_append_assigns_contiguous_sequence_numbers(tmp_path: Path) -> None:
    buffer = open_buffer(tmp_path)

    first = buffer.append([reading(i) for i in range(3)])
    second = buffer.append([event(1)])

    assert first == (1, 3)
    assert second == (4, 4)


def test_restart_resumes_the_sequence(tmp_path: Path) -> None:
    buffer = open_buffer(tmp_path)
    buffer.append([reading(i) for i in range(5)])
    buffer.ack(1, 5)
    buffer.close()

    again = open_buffer(tmp_path)

    assert again.append([reading(9)]) == (6, 6)


def test_a_lost_database_resumes_past_every_reserved_number(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    buffer = open_buffer(tmp_path)
    buffer.append([reading(i) for i in range(5)])
    buffer.close()
    for name in ("buffer.db", "buffer.db-wal", "buffer.db-shm"):
        (tmp_path / name).unlink(missing_ok=True)

    fresh = open_buffer(tmp_path)

    first, _ = fresh.append([reading(1)])
    assert first == SEQ_BLOCK + 1


def test_a_corrupt_database_is_moved_aside_and_a_fresh_one_started(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    buffer = open_buffer(tmp_path)
    buffer.append([reading(i) for i in range(5)])
    buffer.close()
    (tmp_path / "buffer.db").write_bytes(b"this is not a database" * 100)

    with caplog.at_level(logging.ERROR):
        fresh = open_buffer(tmp_path)

    assert "is corrupt" in caplog.text
    assert list(tmp_path.glob("buffer.db.corrupt-*"))
    first, _ = fresh.append([reading(1)])
    assert first > 5


def test_batches_cover_every_sequence_number_once_and_ack_forgets_them(
    tmp_path: Path,
) -> None:
    buffer = open_buffer(tmp_path)
    buffer.append([reading(i) for i in range(20)])
    buffer.append([event(1)])

    seen = drain(buffer)

    assert seen == list(range(1, 22))
    assert buffer.next_batch(10) is None
    assert buffer.stats().depth == 0


def test_eviction_takes_oldest_telemetry_never_events_and_reports_gaps(
    tmp_path: Path,
) -> None:
    buffer = open_buffer(tmp_path, max_age_s=60)
    old = T0_US
    buffer.append([reading(1, ts_us=old), event(2), reading(3, ts_us=old)])
    buffer.append([reading(4, ts_us=old + 120_000_000)])

    evicted = buffer.enforce_bounds(now_us=old + 120_000_000)

    assert evicted == 2
    batch = buffer.next_batch(100)
    assert batch is not None
    assert [r.seq for r in batch.records] == [2, 4]
    assert [(g.first_seq, g.last_seq) for g in batch.gaps] == [(1, 1), (3, 3)]
    assert all("older than the age bound" in g.reason for g in batch.gaps)
    assert buffer.stats().evicted_total == 2


def test_size_bound_evicts_telemetry_until_under(tmp_path: Path) -> None:
    buffer = open_buffer(tmp_path, max_bytes=64 * 1024)
    buffer.append([reading(i) for i in range(5000)])
    buffer.append([event(1, alarm=True)])

    buffer.enforce_bounds(now_us=T0_US)

    assert buffer.used_bytes() <= 64 * 1024
    assert buffer.stats().evicted_total > 0
    seen = drain(buffer, limit=500)
    assert sorted(seen) == list(range(1, 5002))


def test_set_aside_moves_a_refused_record_out_and_reports_it(tmp_path: Path) -> None:
    buffer = open_buffer(tmp_path)
    buffer.append([reading(i) for i in range(3)])

    buffer.set_aside([2], "value 'abc' is not a decimal")

    batch = buffer.next_batch(10)
    assert batch is not None
    assert [r.seq for r in batch.records] == [1, 3]
    assert batch.gaps[0].first_seq == 2
    assert "value 'abc' is not a decimal" in batch.gaps[0].reason
    assert buffer.stats().set_aside_total == 1


operations = st.lists(
    st.one_of(
        st.tuples(st.just("readings"), st.integers(1, 30)),
        st.tuples(st.just("event"), st.integers(1, 3)),
        st.tuples(st.just("evict"), st.integers(1, 20)),
        st.tuples(st.just("send"), st.integers(1, 15)),
    ),
    max_size=40,
)


@settings(max_examples=60, deadline=None)
@given(ops=operations)
def test_every_committed_sequence_is_sent_or_reported_exactly_once(
    tmp_path_factory: pytest.TempPathFactory, ops: list[tuple[str, int]]
) -> None:
    buffer = open_buffer(tmp_path_factory.mktemp("prop"))
    accounted: list[int] = []
    for op, n in ops:
        if op == "readings":
            buffer.append([reading(i) for i in range(n)])
        elif op == "event":
            buffer.append([event(i) for i in range(n)])
        elif op == "evict":
            buffer._evict_oldest_telemetry(n, "test")
        elif (batch := buffer.next_batch(n)) is not None:
            accounted.extend(r.seq for r in batch.records)
            for gap in batch.gaps:
                accounted.extend(range(gap.first_seq, gap.last_seq + 1))
            buffer.ack(batch.first_seq, batch.last_seq)

    accounted.extend(drain(buffer))

    assert sorted(accounted) == list(range(1, buffer.last_seq + 1))
    assert len(accounted) == len(set(accounted))
    buffer.close()


def test_a_full_disk_evicts_telemetry_and_keeps_events(tmp_path: Path) -> None:
    buffer = open_buffer(tmp_path)
    buffer.append([event(i) for i in range(50)])
    buffer.append([reading(i) for i in range(2000)])
    pages = buffer._db.execute("PRAGMA page_count").fetchone()[0]
    buffer._db.execute(f"PRAGMA max_page_count = {pages}")  # the disk is now full

    first, last = buffer.append([event(i, alarm=True) for i in range(200)])

    assert last - first == 199
    assert buffer.stats().evicted_total >= 200
    kept = buffer._db.execute("SELECT count(*) FROM records WHERE priority > 0")
    assert kept.fetchone()[0] == 250  # no event or alarm was evicted


def test_a_full_disk_with_nothing_left_to_evict_is_an_error_not_a_loss(
    tmp_path: Path,
) -> None:
    buffer = open_buffer(tmp_path)
    buffer.append([event(i) for i in range(50)])
    pages = buffer._db.execute("PRAGMA page_count").fetchone()[0]
    buffer._db.execute(f"PRAGMA max_page_count = {pages}")

    with pytest.raises(BufferFullError, match="nothing left to evict"):
        buffer.append([event(i) for i in range(5000)])
    assert buffer.stats().depth == 50
