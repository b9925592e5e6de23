"""Gateways report their health; the answer carries their queued commands."""

from __future__ import annotations

from fastapi.testclient import TestClient

from tests.cloud.helpers import Login, RegisteredGateway, health_report


def test_a_health_report_is_kept_and_answered_with_commands_and_the_time(
    client: TestClient, admin: Login, gateway: RegisteredGateway
) -> None:
    queued = client.post(
        f"/api/v1/gateways/{gateway.id}/commands",
        json={"kind": "unlock", "device_id": "door-1", "args": {"seconds": 5}},
        headers=admin.headers,
    )
    assert queued.status_code == 201, queued.text

    answer = client.post(
        "/api/v1/gateway/health",
        json=health_report(gateway.id),
        headers=gateway.headers,
    )

    assert answer.status_code == 200, answer.text
    body = answer.json()
    assert [c["kind"] for c in body["commands"]] == ["unlock"]
    assert body["commands"][0]["id"] == queued.json()["id"]
    assert "server_time" in body
    shown = client.get(f"/api/v1/gateways/{gateway.id}", headers=admin.headers).json()
    assert shown["reported_health"]["devices"][0]["device_id"] == "door-1"
    listed = client.get(
        f"/api/v1/gateways/{gateway.id}/commands", headers=admin.headers
    ).json()
    assert (listed["data"][0]["status"], listed["data"][0]["deliveries"]) == (
        "delivered",
        1,
    )


def test_a_report_for_another_gateway_is_refused(
    client: TestClient, gateway: RegisteredGateway
) -> None:
    answer = client.post(
        "/api/v1/gateway/health",
        json=health_report("someone-else"),
        headers=gateway.headers,
    )

    assert answer.status_code == 403
    assert "someone-else" in answer.json()["detail"]


def test_an_unknown_command_kind_is_refused_naming_the_field(
    client: TestClient, admin: Login, gateway: RegisteredGateway
) -> None:
    answer = client.post(
        f"/api/v1/gateways/{gateway.id}/commands",
        json={"kind": "self_destruct"},
        headers=admin.headers,
    )

    assert answer.status_code == 422
    assert "kind" in answer.text
