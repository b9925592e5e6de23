"""Records taken before a gateway's clock was trusted are re-dated or quarantined."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from fastapi.testclient import TestClient

from tests.cloud.helpers import Login, RegisteredGateway, batch, reading

TRUE_BOOT = datetime(2026, 12, 3, 8, 0, tzinfo=UTC)  # when the gateway really booted
PI_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)  # what its clock said at boot


def untrusted(seq: int, after_boot_s: float, boot: str = "boot-a") -> dict[str, object]:
    return reading(
        seq,
        ts=(PI_EPOCH + timedelta(seconds=after_boot_s)).isoformat(),
        boot_id=boot,
        mono_ns=int(after_boot_s * 1e9),
        clock_trusted=False,
    )


def trusted(seq: int, after_boot_s: float, boot: str = "boot-a") -> dict[str, object]:
    return reading(
        seq,
        ts=(TRUE_BOOT + timedelta(seconds=after_boot_s)).isoformat(),
        boot_id=boot,
        mono_ns=int(after_boot_s * 1e9),
        clock_trusted=True,
    )


def post(
    client: TestClient, gateway: RegisteredGateway, first: int, rows: list
) -> None:
    body = batch(gateway.id, first, first + len(rows) - 1, readings=rows)
    answer = client.post("/api/v1/ingest", json=body, headers=gateway.headers)
    assert answer.status_code == 200, answer.text


def series(
    client: TestClient, admin: Login, gateway_id: str, **params: object
) -> list[dict]:
    answer = client.get(
        "/api/v1/readings",
        params={
            "gateway_id": gateway_id,
            "device_id": "meter-1",
            "point": "import_energy",
            **params,
        },
        headers=admin.headers,
    )
    assert answer.status_code == 200, answer.text
    return list(answer.json()["data"])


def test_records_before_the_clock_was_trusted_are_quarantined_then_redated(
    client: TestClient, admin: Login, gateway: RegisteredGateway
) -> None:
    post(client, gateway, 1, [untrusted(1, 10.0), untrusted(2, 20.0)])

    assert series(client, admin, gateway.id) == []  # undated: off the time axis
    held = series(client, admin, gateway.id, include_quarantined=True)
    assert [r["clock"] for r in held] == ["quarantined", "quarantined"]

    post(client, gateway, 3, [trusted(3, 30.0)])  # NTP answered: the clock is right

    dated = series(client, admin, gateway.id)
    assert [(r["seq"], r["clock"]) for r in dated] == [
        (1, "corrected"),
        (2, "corrected"),
        (3, "trusted"),
    ]
    assert datetime.fromisoformat(dated[0]["ts"]) == TRUE_BOOT + timedelta(seconds=10)
    assert datetime.fromisoformat(dated[0]["reported_ts"]) == PI_EPOCH + timedelta(
        seconds=10
    )


def test_a_boot_whose_offset_is_known_is_redated_on_arrival(
    client: TestClient, admin: Login, gateway: RegisteredGateway
) -> None:
    post(client, gateway, 1, [trusted(1, 5.0)])
    # the clock jumps back later in the same boot: the gateway flags, the cloud fixes
    post(client, gateway, 2, [untrusted(2, 60.0)])

    dated = series(client, admin, gateway.id)

    assert [r["clock"] for r in dated] == ["trusted", "corrected"]
    assert datetime.fromisoformat(dated[1]["ts"]) == TRUE_BOOT + timedelta(seconds=60)


def test_another_boot_is_not_dated_by_this_one(
    client: TestClient, admin: Login, gateway: RegisteredGateway
) -> None:
    post(client, gateway, 1, [trusted(1, 5.0, boot="boot-a")])
    post(client, gateway, 2, [untrusted(2, 3.0, boot="boot-b")])

    held = series(client, admin, gateway.id, include_quarantined=True)

    assert {r["seq"]: r["clock"] for r in held} == {1: "trusted", 2: "quarantined"}
