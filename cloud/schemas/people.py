from __future__ import annotations

from datetime import datetime
from typing import Annotated

from pydantic import BaseModel, ConfigDict, EmailStr, Field

from cloud.models import PersonKind
from cloud.schemas.common import Address, Id, Label, Name, Phone, Strict

PersonEmail = Annotated[EmailStr, Field(max_length=320)]
ExternalRef = Annotated[
    str,
    Field(
        min_length=1,
        max_length=64,
        pattern=r"^[A-Za-z0-9_.\-/]+$",
        description="Your own key for the person (CRM id); CSV imports refer to it.",
    ),
]
IdentityNumber = Annotated[
    str,
    Field(
        min_length=4,
        max_length=64,
        pattern=r"^[A-Za-z0-9 .\-/]+$",
        description="Stored encrypted; only its last 4 characters are ever shown.",
    ),
]


class ContactIn(Strict):
    name: Name
    role: Label | None = None
    email: PersonEmail | None = None
    phone: Phone | None = None


class ContactPublic(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    name: str
    role: str | None
    email: str | None
    phone: str | None


class PersonCreate(Strict):
    property_id: Id = Field(description="The property whose staff keep the record.")
    kind: PersonKind = PersonKind.PERSON
    name: Name
    external_ref: ExternalRef | None = None
    email: PersonEmail | None = None
    phone: Phone | None = None
    address: Address | None = None
    identity_number: IdentityNumber | None = None
    contacts: list[ContactIn] = Field(default_factory=list, max_length=20)


class PersonUpdate(Strict):
    property_id: Id | None = None
    kind: PersonKind | None = None
    name: Name | None = None
    external_ref: ExternalRef | None = None
    email: PersonEmail | None = None
    phone: Phone | None = None
    address: Address | None = None
    identity_number: IdentityNumber | None = None
    contacts: list[ContactIn] | None = Field(
        default=None, max_length=20, description="Replaces all contacts."
    )


class PersonPublic(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: int
    property_id: int
    kind: str
    name: str
    external_ref: str | None
    email: str | None
    phone: str | None
    address: str | None
    identity_number_last4: str | None
    contacts: list[ContactPublic]
    created_at: datetime
