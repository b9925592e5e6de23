"""Declarative base and the column types every model shares."""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal
from typing import Any, ClassVar

import sqlalchemy as sa
from sqlalchemy.engine import Dialect
from sqlalchemy.orm import DeclarativeBase
from sqlalchemy.types import TypeDecorator

# Named constraints, so Alembic's batch mode on SQLite can find and alter them.
NAMING_CONVENTION = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


class Base(DeclarativeBase):
    """Every table of the cloud.

    Writes through the session are recorded in the audit log (``cloud.services.audit``)
    unless a model sets ``__audited__ = False``. ``__audit_redact__`` names columns
    whose values are secret: the log says they changed, never what to.
    ``__audit_omit__`` names columns the system keeps current on its own (a
    gateway's last contact), which would flood the log.
    """

    metadata = sa.MetaData(naming_convention=NAMING_CONVENTION)

    __audited__: ClassVar[bool] = True
    __audit_redact__: ClassVar[frozenset[str]] = frozenset()
    __audit_omit__: ClassVar[frozenset[str]] = frozenset()


def utc_now() -> datetime:
    return datetime.now(UTC)


class UtcDateTime(TypeDecorator[datetime]):
    """``timestamptz`` on PostgreSQL; on SQLite a naive UTC text that sorts correctly.

    Values must be timezone-aware going in and always come back aware, in UTC.
    """

    impl = sa.DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: Any, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if not isinstance(value, datetime) or value.tzinfo is None:
            raise ValueError(f"UtcDateTime needs an aware datetime, got {value!r}")
        value = value.astimezone(UTC)
        return value.replace(tzinfo=None) if dialect.name == "sqlite" else value

    def process_result_value(self, value: Any, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            return value.replace(tzinfo=UTC)
        return value.astimezone(UTC)


class ExactDecimal(TypeDecorator[Decimal]):
    """An exact decimal of any size: NUMERIC on PostgreSQL, TEXT on SQLite.

    SQLite's NUMERIC affinity would turn ``18446744073709551.615`` into a float, so
    there the canonical decimal string is stored instead.
    """

    impl = sa.Numeric(asdecimal=True)
    cache_ok = True

    def load_dialect_impl(self, dialect: Dialect) -> sa.types.TypeEngine[Any]:
        if dialect.name == "sqlite":
            return dialect.type_descriptor(sa.Text())
        return dialect.type_descriptor(sa.Numeric(asdecimal=True))

    def process_bind_param(self, value: Any, dialect: Dialect) -> Any:
        if value is None or dialect.name != "sqlite":
            return value
        return format(Decimal(value), "f")

    def process_result_value(self, value: Any, dialect: Dialect) -> Decimal | None:
        if value is None:
            return None
        return value if isinstance(value, Decimal) else Decimal(value)


def same_property_fk(
    columns: tuple[str, str], parent: str, ondelete: str = "RESTRICT"
) -> sa.ForeignKeyConstraint:
    """``(parent_id, property_id)`` → ``parent(id, property_id)``.

    Scoped tables copy their parent's ``property_id`` so that access control is one
    indexed comparison; this key makes the database refuse a copy that differs from
    the parent's (a unit filed under one property in another property's building).
    """
    return sa.ForeignKeyConstraint(
        list(columns), [f"{parent}.id", f"{parent}.property_id"], ondelete=ondelete
    )
