"""Fixtures of the cloud tests: a migrated database, the app, an admin, a gateway.

Every fixture that reaches the database depends on ``database_url`` (tests/conftest.py),
so each test runs on SQLite and again on PostgreSQL. The PostgreSQL database is shared
by the test session: ids and emails are fresh per test (see helpers.fresh_id).
"""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest
import sqlalchemy as sa
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


def migrate(url: str) -> None:
    engine = create_db_engine(url)
    try:
        migrations.upgrade(engine)
    finally:
        engine.dispose()


@pytest.fixture(scope="session")
def migrated_sqlite_template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A SQLite database at the head schema, migrated once per session; each test
    starts from a copy instead of running every migration again."""
    path = tmp_path_factory.mktemp("template") / "cloud.db"
    migrate(f"sqlite:///{path}")
    return path


@pytest.fixture
def migrated(settings: Settings, request: pytest.FixtureRequest) -> Settings:
    url = sa.make_url(settings.resolved_database_url)
    if url.get_backend_name() == "sqlite" and url.database:
        template: Path = request.getfixturevalue("migrated_sqlite_template")
        Path(url.database).parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(template, url.database)
    else:
        migrate(settings.resolved_database_url)
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
