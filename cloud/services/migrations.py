"""Schema migrations: Alembic is the only way the cloud's tables are created."""

from __future__ import annotations

import logging
from collections.abc import Callable
from pathlib import Path

import sqlalchemy as sa
from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory

logger = logging.getLogger(__name__)

MIGRATIONS_DIR = Path(__file__).resolve().parent.parent / "migrations"


class SchemaOutdatedError(Exception):
    """Raised when the database schema is not the one this code was written for."""


def alembic_config(engine: sa.Engine) -> Config:
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS_DIR))
    url = engine.url.render_as_string(hide_password=False).replace("%", "%%")
    config.set_main_option("sqlalchemy.url", url)
    return config


def head_revision() -> str:
    script = ScriptDirectory(str(MIGRATIONS_DIR))
    head = script.get_current_head()
    if head is None:
        raise RuntimeError(f"No migrations found in {MIGRATIONS_DIR}")
    return head


def current_revision(engine: sa.Engine) -> str | None:
    with engine.connect() as connection:
        return MigrationContext.configure(connection).get_current_revision()


def upgrade(engine: sa.Engine, revision: str = "head") -> None:
    _run(engine, command.upgrade, revision)


def downgrade(engine: sa.Engine, revision: str) -> None:
    _run(engine, command.downgrade, revision)


def _run(engine: sa.Engine, step: Callable[[Config, str], None], revision: str) -> None:
    config = alembic_config(engine)
    if engine.dialect.name == "sqlite":
        _run_on_sqlite(engine, config, step, revision)
    else:
        with engine.begin() as connection:
            config.attributes["connection"] = connection
            step(config, revision)
    logger.info("Database schema of %s is now at %s", _safe_url(engine), revision)


def _run_on_sqlite(
    engine: sa.Engine,
    config: Config,
    step: Callable[[Config, str], None],
    revision: str,
) -> None:
    """One real transaction, with foreign keys off while it runs.

    SQLite alters a table by copying it, dropping the old one and renaming the
    copy; with foreign keys on, that drop would cascade into (or be refused by) the
    rows of every referring table, and the pragma only changes outside a
    transaction. pysqlite would also commit the DDL piecemeal; an explicit BEGIN on
    an autocommit connection makes a failed migration leave nothing behind.
    """
    with engine.connect() as plain:
        connection = plain.execution_options(isolation_level="AUTOCOMMIT")
        connection.exec_driver_sql("PRAGMA foreign_keys=OFF")
        try:
            connection.exec_driver_sql("BEGIN")
            try:
                config.attributes["connection"] = connection
                step(config, revision)
                _check_sqlite_foreign_keys(connection)
            except BaseException:
                connection.exec_driver_sql("ROLLBACK")
                raise
            connection.exec_driver_sql("COMMIT")
        finally:
            connection.exec_driver_sql("PRAGMA foreign_keys=ON")


def _check_sqlite_foreign_keys(connection: sa.Connection) -> None:
    broken = connection.exec_driver_sql("PRAGMA foreign_key_check").fetchall()
    if broken:
        table, rowid, parent, _ = broken[0]
        raise RuntimeError(
            f"The migration would leave {len(broken)} rows with dangling references, "
            f"such as row {rowid} of {table} pointing into {parent}; it was rolled "
            "back."
        )


def ensure_current(engine: sa.Engine, *, migrate: bool) -> None:
    """Refuse an outdated schema, or bring it up to date when ``migrate`` is set."""
    current, head = current_revision(engine), head_revision()
    if current == head:
        return
    if migrate:
        logger.info("Migrating %s from %s to %s", _safe_url(engine), current, head)
        upgrade(engine)
        return
    raise SchemaOutdatedError(
        f"The database at {_safe_url(engine)} has schema revision "
        f"{current or 'none (empty database)'}, but this version of PAMS needs "
        f"{head}. Run `pams-cloud migrate`, or start with --migrate."
    )


def _safe_url(engine: sa.Engine) -> str:
    return engine.url.render_as_string(hide_password=True)
