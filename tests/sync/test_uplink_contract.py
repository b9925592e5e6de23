"""What the gateway's encoder produces is exactly what the cloud's model accepts."""

from __future__ import annotations

import gzip
from decimal import Decimal
from pathlib import Path

from drivers.types import DeviceEvent, Quality, Reading
from edge.buffer import Buffer
from edge.clock import WallClockGuard
from edge.records import event_row, reading_row, wire_record
from sync import Batch
from sync.uplink import encode_batch


def test_encoded_buffer_batch_parses_as_the_contract_batch(tmp_path: Path) -> None:
    buffer = Buffer(tmp_path / "b.db", boot_id="boot-1")
    clock = WallClockGuard().sample()
    buffer.append(
        [
            reading_row(
                Reading("meter-1", "import_energy", Decimal("12345.678"), "kWh"), clock
            ),
            reading_row(
                Reading(
                    "meter-1",
                    "frequency",
                    None,
                    "Hz",
                    Quality.UNAVAILABLE,
                    "exception 2 (illegal data address)",
                ),
                clock,
            ),
            reading_row(Reading("water-1", "pipe", "full"), clock),
            event_row(DeviceEvent("door-1", "card_read", {"bits": 26}), clock),
        ]
    )
    batch = buffer.next_batch(100)
    assert batch is not None
    readings, events = [], []
    for record in batch.records:
        is_reading, wire = wire_record(record)
        (readings if is_reading else events).append(wire)

    body = encode_batch(
        gateway_id="gw-1",
        batch_id="gw-1:1-4",
        first_seq=batch.first_seq,
        last_seq=batch.last_seq,
        readings=readings,
        events=events,
        gaps=[],
    )

    parsed = Batch.model_validate_json(gzip.decompress(body))
    assert [r.seq for r in parsed.readings] == [1, 2, 3]
    assert parsed.readings[0].value == Decimal("12345.678")
    assert parsed.readings[1].quality == Quality.UNAVAILABLE
    assert parsed.readings[1].reason == "exception 2 (illegal data address)"
    assert parsed.readings[2].text == "full"
    assert parsed.events[0].kind == "card_read"
    assert parsed.events[0].data == {"bits": 26}
    assert parsed.readings[0].boot_id == "boot-1"
