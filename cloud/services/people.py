"""Owners and tenants: persons and companies, their contacts and identity numbers."""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa
from cryptography.fernet import Fernet
from sqlalchemy.orm import Session

from cloud.models import Contact, Person, Property
from cloud.schemas.people import PersonCreate, PersonUpdate
from cloud.services.access import Permission, Scope
from cloud.services.crypto import seal_identity_number
from cloud.services.errors import ConflictError
from cloud.services.records import apply_changes, changes


def create_person(
    session: Session, scope: Scope, cipher: Fernet, body: PersonCreate
) -> Person:
    home = scope.get(session, Property, body.property_id, field="property_id")
    scope.require_on(Permission.PEOPLE_WRITE, home.id)
    if body.external_ref is not None:
        _free_external_ref(session, scope.organization_id, body.external_ref)
    fields = body.model_dump(exclude={"identity_number", "contacts"})
    record = Person(organization_id=scope.organization_id, **fields)
    _set_identity_number(record, cipher, body.identity_number)
    record.contacts = [Contact(**contact.model_dump()) for contact in body.contacts]
    session.add(record)
    session.flush()
    return record


def update_person(
    session: Session, scope: Scope, cipher: Fernet, person_id: int, body: PersonUpdate
) -> Person:
    record = scope.get_for_write(session, Person, person_id)
    given: dict[str, Any] = changes(
        body, required=frozenset({"property_id", "kind", "name", "contacts"})
    )
    if "property_id" in given and given["property_id"] != record.property_id:
        home = scope.get(session, Property, given["property_id"], field="property_id")
        scope.require_on(Permission.PEOPLE_WRITE, home.id)
    if given.get("external_ref") not in (None, record.external_ref):
        _free_external_ref(session, scope.organization_id, given["external_ref"])
    if "identity_number" in given:
        _set_identity_number(record, cipher, given.pop("identity_number"))
    if "contacts" in given:
        contacts = body.contacts or []
        given.pop("contacts")
        record.contacts = [Contact(**contact.model_dump()) for contact in contacts]
    apply_changes(record, given)
    session.flush()
    return record


def _set_identity_number(record: Person, cipher: Fernet, number: str | None) -> None:
    if number is None:
        record.identity_number_encrypted = None
        record.identity_number_last4 = None
        return
    sealed, last4 = seal_identity_number(cipher, number)
    record.identity_number_encrypted = sealed
    record.identity_number_last4 = last4


def _free_external_ref(session: Session, organization_id: int, ref: str) -> None:
    taken = session.scalar(
        sa.select(Person.id).where(
            Person.organization_id == organization_id, Person.external_ref == ref
        )
    )
    if taken is not None:
        raise ConflictError(
            f"Another person has external_ref {ref!r}.", field="external_ref"
        )


def person_by_ref(session: Session, scope: Scope, ref: str) -> Person | None:
    return session.scalar(scope.visible(Person).where(Person.external_ref == ref))
