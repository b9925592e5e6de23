"""Fixtures of the cloud tests: a migrated database, the app, an admin, a gateway.

Every fixture that reaches the database depends on ``database_url`` (tests/conftest.py),
so each test runs on SQLite and again on PostgreSQL. The PostgreSQL database is shared
by the test session: ids and emails are fresh per test (see helpers.fresh_id).
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient

from cloud.db import create_db_engine
from cloud.main import create_app
from cloud.services import migrations
from cloud.settings import Settings
from tests.cloud.helpers import Login, RegisteredGateway, create_admin, register_gateway


@pytest.fixture
def settings(database_url: str, tmp_path: Path) -> Settings:
    return Settings(
        data_dir=tmp_path / "data", database_url=database_url, argon2_profile="cheapest"
    )


@pytest.fixture
def migrated(settings: Settings) -> Settings:
    engine = create_db_engine(settings.resolved_database_url)
    try:
        migrations.upgrade(engine)
    finally:
        engine.dispose()
    return settings


@pytest.fixture
def app(migrated: Settings) -> FastAPI:
    return create_app(migrated)


@pytest.fixture
def client(app: FastAPI) -> Iterator[TestClient]:
    with TestClient(app) as test_client:
        yield test_client


@pytest.fixture
def admin(app: FastAPI, client: TestClient) -> Login:
    return create_admin(app, client)


@pytest.fixture
def gateway(client: TestClient, admin: Login) -> RegisteredGateway:
    return register_gateway(client, admin)
