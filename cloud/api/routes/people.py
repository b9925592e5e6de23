from __future__ import annotations

from typing import Any

from fastapi import APIRouter, status

from cloud.api.deps import IdPath, IdQuery, PageDep, ScopeDep, SessionDep, StateDep
from cloud.models import Person, PersonKind
from cloud.schemas.common import Listing
from cloud.schemas.people import PersonCreate, PersonPublic, PersonUpdate
from cloud.services import people
from cloud.services.records import delete_record, list_visible

router = APIRouter(prefix="/people", tags=["people"])


@router.get("", response_model=Listing[PersonPublic])
def list_people(
    session: SessionDep,
    scope: ScopeDep,
    page: PageDep,
    property_id: IdQuery = None,
    kind: PersonKind | None = None,
) -> Any:
    """People registered in, owning in or renting in the caller's properties;
    an owner or tenant sees only themselves. ``property_id`` filters by the
    property that keeps the record."""
    filters = {Person.property_id: property_id, Person.kind: kind}
    rows, count = list_visible(session, scope, Person, page, filters=filters)
    return {"data": rows, "count": count}


@router.post("", response_model=PersonPublic, status_code=status.HTTP_201_CREATED)
def create_person(
    session: SessionDep, scope: ScopeDep, state: StateDep, body: PersonCreate
) -> Any:
    """The identity number is stored encrypted; only its last 4 are shown."""
    record = people.create_person(session, scope, state.identity_cipher, body)
    session.commit()
    return record


@router.get("/{person_id}", response_model=PersonPublic)
def read_person(session: SessionDep, scope: ScopeDep, person_id: IdPath) -> Any:
    return scope.get(session, Person, person_id)


@router.patch("/{person_id}", response_model=PersonPublic)
def update_person(
    session: SessionDep,
    scope: ScopeDep,
    state: StateDep,
    person_id: IdPath,
    body: PersonUpdate,
) -> Any:
    record = people.update_person(
        session, scope, state.identity_cipher, person_id, body
    )
    session.commit()
    return record


@router.delete("/{person_id}", status_code=status.HTTP_204_NO_CONTENT)
def delete_person(session: SessionDep, scope: ScopeDep, person_id: IdPath) -> None:
    """Only a person without leases or ownership shares (409 otherwise)."""
    delete_record(session, scope, Person, person_id)
    session.commit()
