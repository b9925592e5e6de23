import re
from datetime import timedelta

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient

from cloud.services import accounts
from cloud.services.audit import Actor, act_as
from cloud.services.security import create_access_token, password_hasher
from tests.cloud.helpers import PASSWORD, Login, create_admin, fresh_id, login

OPEN_ROUTES = {"/api/v1/auth/token", "/api/v1/auth/refresh", "/health"}


def _token(client: TestClient, email: str, password: str = PASSWORD) -> dict[str, str]:
    answer = client.post(
        "/api/v1/auth/token", data={"username": email, "password": password}
    )
    return dict(answer.json(), status=answer.status_code)


def test_login_returns_access_and_refresh_tokens(
    client: TestClient, admin: Login
) -> None:
    answer = client.get("/api/v1/users/me", headers=admin.headers)

    assert answer.status_code == 200
    assert answer.json()["email"] == admin.email
    assert answer.json()["is_org_admin"] is True
    assert answer.json()["grants"] == []


def test_wrong_password_is_401_with_reason(client: TestClient, admin: Login) -> None:
    answer = client.post(
        "/api/v1/auth/token", data={"username": admin.email, "password": "wrong"}
    )

    assert answer.status_code == 401
    assert answer.json()["detail"] == "Incorrect email or password."
    assert answer.headers["www-authenticate"] == "Bearer"


def test_unknown_email_gets_the_same_answer(client: TestClient) -> None:
    answer = client.post(
        "/api/v1/auth/token",
        data={"username": "nobody@example.org", "password": PASSWORD},
    )

    assert answer.status_code == 401
    assert answer.json()["detail"] == "Incorrect email or password."


def test_email_is_matched_case_insensitively(client: TestClient, admin: Login) -> None:
    assert _token(client, admin.email.upper())["status"] == 200


def test_no_token_is_401(client: TestClient) -> None:
    answer = client.get("/api/v1/users/me")

    assert answer.status_code == 401
    assert answer.json()["detail"].startswith("Not authenticated")


def test_expired_token_is_401_with_reason(
    app: FastAPI, client: TestClient, admin: Login
) -> None:
    expired = create_access_token(
        user_id=admin.user_id,
        organization_id=admin.organization_id,
        key=app.state.pams.token_policy.signing_key,
        lifetime=timedelta(seconds=-1),
    )

    answer = client.get(
        "/api/v1/users/me", headers={"Authorization": f"Bearer {expired}"}
    )

    assert answer.status_code == 401
    assert "expired" in answer.json()["detail"]


def test_token_signed_with_another_key_is_401(client: TestClient, admin: Login) -> None:
    forged = create_access_token(
        user_id=admin.user_id,
        organization_id=admin.organization_id,
        key="another key that is long enough to sign things",
        lifetime=timedelta(minutes=5),
    )

    answer = client.get(
        "/api/v1/users/me", headers={"Authorization": f"Bearer {forged}"}
    )

    assert answer.status_code == 401
    assert "Signature verification failed" in answer.json()["detail"]


def test_disabled_user_cannot_log_in(app: FastAPI, client: TestClient) -> None:
    email = f"{fresh_id('member')}@example.org"
    admin = create_admin(app, client)
    with app.state.pams.session_factory() as session:
        act_as(session, Actor(label="test setup"))
        user = accounts.create_user(
            session,
            password_hasher("cheapest"),
            organization_id=admin.organization_id,
            email=email,
            password=PASSWORD,
        )
        user.is_active = False
        session.commit()

    answer = _token(client, email)

    assert answer["status"] == 401
    assert answer["detail"] == "This user account is disabled."


def test_refresh_token_works_once(client: TestClient, admin: Login) -> None:
    first = _token(client, admin.email)

    renewed = client.post(
        "/api/v1/auth/refresh", json={"refresh_token": first["refresh_token"]}
    )
    replayed = client.post(
        "/api/v1/auth/refresh", json={"refresh_token": first["refresh_token"]}
    )

    assert renewed.status_code == 200
    new_access = renewed.json()["access_token"]
    me = client.get(
        "/api/v1/users/me", headers={"Authorization": f"Bearer {new_access}"}
    )
    assert me.status_code == 200
    assert replayed.status_code == 401
    assert replayed.json()["detail"] == "The refresh token has already been used."


def test_unknown_refresh_token_is_401(client: TestClient) -> None:
    answer = client.post("/api/v1/auth/refresh", json={"refresh_token": "prt_nope"})

    assert answer.status_code == 401
    assert answer.json()["detail"] == "The refresh token is not known."


def test_access_token_is_not_a_refresh_token(client: TestClient, admin: Login) -> None:
    access = admin.headers["Authorization"].removeprefix("Bearer ")

    answer = client.post("/api/v1/auth/refresh", json={"refresh_token": access})

    assert answer.status_code == 401


def _concrete_path(path: str) -> str:
    path = path.replace("{gateway_id}", "gw-x").replace("{device_id}", "dev-x")
    path = path.replace("{kind}", "units")
    return re.sub(r"\{[a-z_]+_id\}", "1", path)


@pytest.mark.parametrize("with_user_token", [False, True], ids=["anonymous", "user"])
def test_every_route_but_the_open_ones_needs_authentication(
    app: FastAPI, client: TestClient, with_user_token: bool
) -> None:
    """Deny by default: a route added without a router's auth dependency fails here.

    With a user token, the gateway-only ingest route must still refuse.
    """
    headers = login(client, create_admin(app, client).email) if with_user_token else {}
    checked = 0
    for path, operations in app.openapi()["paths"].items():
        if path in OPEN_ROUTES or (with_user_token and path != "/api/v1/ingest"):
            continue
        for method in operations:
            answer = client.request(method, _concrete_path(path), headers=headers)
            assert answer.status_code == 401, (method, path, answer.text)
            checked += 1
    assert checked >= (1 if with_user_token else 8)
