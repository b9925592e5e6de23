"""What every resource service shares: paging lists and applying partial updates."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, TypeVar

import sqlalchemy as sa
from pydantic import BaseModel
from sqlalchemy.orm import InstrumentedAttribute, Session

from cloud.models import Base
from cloud.services.access import Scope, rule_for
from cloud.services.errors import ConflictError, InvalidInputError

MAX_PAGE = 500
T = TypeVar("T")
M = TypeVar("M", bound=Base)


@dataclass(frozen=True)
class Page:
    skip: int = 0
    limit: int = 100


def fetch_page(
    session: Session, query: sa.Select[T], page: Page
) -> tuple[list[T], int]:
    """The rows of ``query`` on ``page`` (it must be ordered), and the total."""
    counted: sa.Select[Any] = sa.select(sa.func.count()).select_from(
        query.order_by(None).subquery()
    )
    count = session.scalar(counted) or 0
    rows = session.scalars(query.offset(page.skip).limit(page.limit))
    return list(rows), count


def changes(
    body: BaseModel, *, required: frozenset[str] = frozenset()
) -> dict[str, Any]:
    """The fields a PATCH body set, refusing null for those the record needs."""
    given = body.model_dump(exclude_unset=True)
    for name, value in given.items():
        if value is None and name in required:
            raise InvalidInputError(f"{name} cannot be null.", field=name)
    return given


def apply_changes(record: object, given: dict[str, Any]) -> None:
    for name, value in given.items():
        setattr(record, name, value)


def list_visible(
    session: Session,
    scope: Scope,
    model: type[M],
    page: Page,
    *,
    filters: Mapping[InstrumentedAttribute[Any], object | None] | None = None,
    conditions: Sequence[sa.ColumnElement[bool]] = (),
    order_by: Sequence[sa.ColumnElement[Any] | InstrumentedAttribute[Any]] = (),
) -> tuple[list[M], int]:
    """One page of the rows of ``model`` the caller may read, equal to each filter
    that is given (not None) and meeting each condition; 403 if no role of the
    caller reads such rows anywhere."""
    scope.require(rule_for(model).read)
    query = scope.visible(model)
    for column, value in (filters or {}).items():
        if value is not None:
            query = query.where(column == value)
    if conditions:
        query = query.where(*conditions)
    order = order_by or [sa.inspect(model).primary_key[0]]
    return fetch_page(session, query.order_by(*order), page)


def delete_record(session: Session, scope: Scope, model: type[Base], key: int) -> None:
    """Delete a writable record, or refuse (409) while other records refer to it.

    On a refusal the whole session is rolled back: a deletion is the only write of
    its request.
    """
    record = scope.get_for_write(session, model, key)
    session.delete(record)
    try:
        session.flush()
    except sa.exc.IntegrityError as exc:
        session.rollback()
        noun = rule_for(model).noun
        raise ConflictError(
            f"{noun} {key} cannot be deleted while other records refer to it."
        ) from exc
