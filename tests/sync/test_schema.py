from datetime import UTC, datetime, timedelta, timezone
from decimal import Decimal

import pytest
from pydantic import ValidationError

from sync import Batch, Reading


def _reading(**overrides: object) -> Reading:
    fields: dict[str, object] = {
        "seq": 1,
        "device_id": "meter-1",
        "point": "import_energy",
        "ts": datetime(2026, 1, 1, tzinfo=UTC),
        "value": Decimal("12345.678"),
        "unit": "kWh",
    }
    fields.update(overrides)
    return Reading.model_validate(fields)


def test_decimal_value_round_trips_exactly_through_json() -> None:
    big = Decimal("18446744073709551.615")  # a uint64 Wh counter in kWh
    reading = _reading(value=big)

    again = Reading.model_validate_json(reading.model_dump_json())

    assert again.value == big


def test_timestamps_are_normalised_to_utc() -> None:
    shanghai = timezone(timedelta(hours=8))

    reading = _reading(ts=datetime(2026, 1, 1, 8, 0, tzinfo=shanghai))

    assert reading.ts == datetime(2026, 1, 1, 0, 0, tzinfo=UTC)
    assert reading.ts.utcoffset() == timedelta(0)


def test_naive_timestamp_is_refused() -> None:
    with pytest.raises(ValidationError, match="timezone"):
        _reading(ts=datetime(2026, 1, 1))


def test_unknown_field_is_refused_by_name() -> None:
    with pytest.raises(ValidationError, match="colour"):
        Batch.model_validate(
            {
                "gateway_id": "gw-1",
                "batch_id": "1-1",
                "first_seq": 1,
                "last_seq": 1,
                "sent_at": "2026-01-01T00:00:00Z",
                "colour": "red",
            }
        )
