from fastapi import FastAPI
from fastapi.testclient import TestClient

from tests.cloud.helpers import (
    Login,
    RegisteredGateway,
    batch,
    create_admin,
    register_gateway,
)


def _ingest(client: TestClient, gateway_id: str, token: str, seq: int = 1) -> int:
    answer = client.post(
        "/api/v1/ingest",
        json=batch(gateway_id, seq),
        headers={"Authorization": f"Bearer {token}"},
    )
    return answer.status_code


def test_token_is_shown_once_and_works(
    client: TestClient, admin: Login, gateway: RegisteredGateway
) -> None:
    listed = client.get("/api/v1/gateways", headers=admin.headers).json()["data"]

    assert [g["id"] for g in listed] == [gateway.id]
    assert "token" not in listed[0]
    assert listed[0]["health"] == "never_seen"
    assert gateway.token.startswith(listed[0]["token_prefix"])
    assert _ingest(client, gateway.id, gateway.token) == 200


def test_duplicate_gateway_id_is_409(
    client: TestClient, admin: Login, gateway: RegisteredGateway
) -> None:
    answer = client.post(
        "/api/v1/gateways", json={"id": gateway.id}, headers=admin.headers
    )

    assert answer.status_code == 409
    assert (
        answer.json()["detail"] == f"A gateway with id {gateway.id!r} already exists."
    )


def test_invalid_gateway_id_is_422_naming_the_field(
    client: TestClient, admin: Login
) -> None:
    answer = client.post(
        "/api/v1/gateways", json={"id": "has spaces"}, headers=admin.headers
    )

    assert answer.status_code == 422
    assert answer.json()["detail"][0]["loc"] == ["body", "id"]


def test_revoked_token_is_401(
    client: TestClient, admin: Login, gateway: RegisteredGateway
) -> None:
    revoked = client.post(
        f"/api/v1/gateways/{gateway.id}/revoke", headers=admin.headers
    )

    answer = client.post(
        "/api/v1/ingest", json=batch(gateway.id), headers=gateway.headers
    )

    assert revoked.status_code == 200
    assert revoked.json()["revoked_at"] is not None
    assert answer.status_code == 401
    assert answer.json()["detail"] == f"The token of gateway {gateway.id!r} is revoked."


def test_rotated_token_replaces_the_old_one(
    client: TestClient, admin: Login, gateway: RegisteredGateway
) -> None:
    rotated = client.post(
        f"/api/v1/gateways/{gateway.id}/rotate-token", headers=admin.headers
    )
    new_token = rotated.json()["token"]

    old = client.post("/api/v1/ingest", json=batch(gateway.id), headers=gateway.headers)

    assert rotated.status_code == 200
    assert new_token != gateway.token
    assert old.status_code == 401
    assert old.json()["detail"] == "The gateway token is not known."
    assert _ingest(client, gateway.id, new_token) == 200


def test_unknown_token_is_401(client: TestClient, gateway: RegisteredGateway) -> None:
    assert _ingest(client, gateway.id, "pgw_not-a-real-token") == 401


def test_user_token_is_not_a_gateway_token(
    client: TestClient, admin: Login, gateway: RegisteredGateway
) -> None:
    answer = client.post(
        "/api/v1/ingest", json=batch(gateway.id), headers=admin.headers
    )

    assert answer.status_code == 401


def test_other_organization_sees_no_gateway(
    app: FastAPI, client: TestClient, gateway: RegisteredGateway
) -> None:
    stranger = create_admin(app, client)

    listed = client.get("/api/v1/gateways", headers=stranger.headers)
    revoke = client.post(
        f"/api/v1/gateways/{gateway.id}/revoke", headers=stranger.headers
    )
    stats = client.get(f"/api/v1/gateways/{gateway.id}/stats", headers=stranger.headers)

    assert listed.json() == {"data": [], "count": 0}
    assert revoke.status_code == 404
    assert revoke.json()["detail"] == f"Gateway {gateway.id!r} not found."
    assert stats.status_code == 404


def test_second_gateway_of_same_org_is_listed(client: TestClient, admin: Login) -> None:
    first = register_gateway(client, admin)
    second = register_gateway(client, admin)

    listed = client.get("/api/v1/gateways", headers=admin.headers).json()

    assert [g["id"] for g in listed["data"]] == sorted([first.id, second.id])
    assert listed["count"] == 2
