from __future__ import annotations

from datetime import datetime
from enum import StrEnum

from pydantic import BaseModel, ConfigDict, Field

from cloud.models import Role
from cloud.schemas.common import Email, Id, Name, Strict


class PropertyRole(StrEnum):
    """The roles granted per property (``org_admin`` is ``is_org_admin``)."""

    PROPERTY_MANAGER = Role.PROPERTY_MANAGER.value
    ACCOUNTANT = Role.ACCOUNTANT.value
    TECHNICIAN = Role.TECHNICIAN.value
    OWNER = Role.OWNER.value
    TENANT = Role.TENANT.value


class GrantPublic(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: int
    property_id: int
    role: str


class GrantCreate(Strict):
    property_id: Id
    role: PropertyRole


class UserPublic(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: int
    organization_id: int
    email: str
    full_name: str | None
    is_org_admin: bool = Field(description="org_admin: every permission, org-wide.")
    person_id: int | None = Field(description="The owner or tenant this user is.")
    is_active: bool
    created_at: datetime
    grants: list[GrantPublic] = Field(description="Roles held per property.")


class UserCreate(Strict):
    email: Email
    password: str = Field(max_length=200)
    full_name: Name | None = None
    is_org_admin: bool = False
    person_id: Id | None = None


class UserUpdate(Strict):
    full_name: Name | None = None
    password: str | None = Field(default=None, max_length=200)
    is_org_admin: bool | None = None
    is_active: bool | None = None
    person_id: Id | None = None
