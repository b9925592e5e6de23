"""Organizations, their users, the roles users hold, and refresh tokens."""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column, relationship

from cloud.models.base import Base, UtcDateTime, utc_now


class Role(StrEnum):
    """What a user may do. ``org_admin`` is held across the whole organization
    (``User.is_org_admin``); every other role is granted per property
    (``RoleGrant``), so one user can manage one property and rent in another."""

    ORG_ADMIN = "org_admin"
    PROPERTY_MANAGER = "property_manager"
    ACCOUNTANT = "accountant"
    TECHNICIAN = "technician"
    OWNER = "owner"
    TENANT = "tenant"


PROPERTY_ROLES = tuple(role for role in Role if role is not Role.ORG_ADMIN)


class Organization(Base):
    """A company that runs properties; every user and gateway belongs to one."""

    __tablename__ = "organizations"

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(sa.String(200))
    created_at: Mapped[datetime] = mapped_column(UtcDateTime(), default=utc_now)

    users: Mapped[list[User]] = relationship(back_populates="organization")


class User(Base):
    """Someone who logs in. Owners and tenants are linked to their ``Person``
    record, which is how "their own" units and leases are found."""

    __tablename__ = "users"
    __audit_redact__ = frozenset({"password_hash"})

    id: Mapped[int] = mapped_column(primary_key=True)
    organization_id: Mapped[int] = mapped_column(
        sa.ForeignKey("organizations.id", ondelete="RESTRICT"), index=True
    )
    email: Mapped[str] = mapped_column(sa.String(320), unique=True)
    password_hash: Mapped[str] = mapped_column(sa.String(200))
    full_name: Mapped[str | None] = mapped_column(sa.String(200))
    is_org_admin: Mapped[bool] = mapped_column(default=False, server_default=sa.false())
    person_id: Mapped[int | None] = mapped_column(
        sa.ForeignKey("people.id", ondelete="SET NULL"), index=True
    )
    is_active: Mapped[bool] = mapped_column(default=True)
    created_at: Mapped[datetime] = mapped_column(UtcDateTime(), default=utc_now)

    organization: Mapped[Organization] = relationship(back_populates="users")
    grants: Mapped[list[RoleGrant]] = relationship(
        back_populates="user", order_by="RoleGrant.id", cascade="all, delete-orphan"
    )


class RoleGrant(Base):
    """One role of one user on one property."""

    __tablename__ = "role_grants"
    __table_args__ = (sa.UniqueConstraint("user_id", "property_id", "role"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(sa.ForeignKey("users.id", ondelete="CASCADE"))
    property_id: Mapped[int] = mapped_column(
        sa.ForeignKey("properties.id", ondelete="CASCADE"), index=True
    )
    role: Mapped[str] = mapped_column(sa.String(32))
    created_at: Mapped[datetime] = mapped_column(UtcDateTime(), default=utc_now)

    user: Mapped[User] = relationship(back_populates="grants")


class RefreshToken(Base):
    """A long-lived token a user trades for a new access token, used once.

    Only the SHA-256 of the token is kept; the token itself is 32 random bytes, so the
    hash cannot be reversed by guessing.
    """

    __tablename__ = "refresh_tokens"
    __audited__ = False  # every login writes one; the log would hold nothing else

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(
        sa.ForeignKey("users.id", ondelete="CASCADE"), index=True
    )
    token_hash: Mapped[str] = mapped_column(sa.String(64), unique=True)
    expires_at: Mapped[datetime] = mapped_column(UtcDateTime())
    used_at: Mapped[datetime | None] = mapped_column(UtcDateTime())
    created_at: Mapped[datetime] = mapped_column(UtcDateTime(), default=utc_now)
