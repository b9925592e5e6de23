from collections.abc import Iterator

import pytest
import sqlalchemy as sa
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext

from cloud.db import create_db_engine
from cloud.main import create_app
from cloud.models import Base
from cloud.services import migrations
from cloud.settings import Settings

TABLES = {
    "organizations",
    "users",
    "refresh_tokens",
    "gateways",
    "readings",
    "events",
    "gaps",
    "devices",
    "device_points",
    "role_grants",
    "properties",
    "buildings",
    "units",
    "unit_status_changes",
    "people",
    "contacts",
    "ownership_shares",
    "leases",
    "lease_units",
    "equipment",
    "inspections",
    "attachments",
    "meter_points",
    "meters",
    "audit_entries",
}


@pytest.fixture
def engine(settings: Settings) -> Iterator[sa.Engine]:
    engine = create_db_engine(settings.resolved_database_url)
    yield engine
    migrations.upgrade(engine)  # the PostgreSQL database is shared: leave it at head
    engine.dispose()


def test_upgrade_creates_and_downgrade_removes_every_table(engine: sa.Engine) -> None:
    migrations.upgrade(engine)
    assert set(sa.inspect(engine).get_table_names()) >= TABLES
    assert migrations.current_revision(engine) == migrations.head_revision()

    migrations.downgrade(engine, "base")
    assert not TABLES & set(sa.inspect(engine).get_table_names())
    assert migrations.current_revision(engine) is None

    migrations.upgrade(engine)
    assert set(sa.inspect(engine).get_table_names()) >= TABLES


def test_migrations_build_exactly_the_models(engine: sa.Engine) -> None:
    migrations.upgrade(engine)

    with engine.connect() as connection:
        context = MigrationContext.configure(connection, opts={"compare_type": True})
        differences = compare_metadata(context, Base.metadata)

    assert differences == []


def test_app_refuses_an_outdated_schema(engine: sa.Engine, settings: Settings) -> None:
    migrations.downgrade(engine, "base")

    with pytest.raises(migrations.SchemaOutdatedError, match="pams-cloud migrate"):
        create_app(settings)


def test_app_migrates_when_asked(engine: sa.Engine, settings: Settings) -> None:
    migrations.downgrade(engine, "base")

    app = create_app(settings.model_copy(update={"migrate_on_start": True}))
    app.state.pams.engine.dispose()

    assert migrations.current_revision(engine) == migrations.head_revision()
