"""Who may see and do what: roles, permissions, and the ``Scope`` of one caller.

Every route, export and background job reads and writes through a ``Scope``, built
once per request from the caller's grants (``load_scope``) or, for a job, as
``Scope.system(organization_id, label)``:

- ``scope.require(permission)``: 403 unless some role grants it somewhere (lists,
  imports); ``scope.require_org_wide(permission)``: only organization
  administrators;
- ``scope.visible(Model)``: ``select(Model)`` limited to the rows the caller may
  read; add filters, order and paging to it;
- ``scope.get(session, Model, id)``: one readable row, else ``NotFoundError``
  (404, the same answer as for a row that does not exist);
- ``scope.get_for_write(session, Model, id)``: a readable row the caller may also
  change, else 404 as above or ``PermissionDeniedError`` (403);
- ``scope.require_on(permission, property_id)``: before creating a row under a
  property (whose parent was first fetched with ``get``, for the 404).

Adding an entity: give its table a ``property_id`` copied from its parent (with
``cloud.models.base.same_property_fk``), pick or add its permissions in
``ROLE_PERMISSIONS``, register an ``EntityRule`` in ``ENTITY_RULES`` (``own`` says
which rows owners and tenants see as theirs), and list its routes in the access
matrix test, which fails for any route it does not know.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable, Collection, Mapping
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from enum import StrEnum
from typing import Any, TypeVar

import sqlalchemy as sa
from sqlalchemy.orm import Session
from sqlalchemy.sql.elements import ColumnElement

from cloud.models import (
    Alarm,
    AlarmAction,
    AlarmRuleSet,
    AlarmSilence,
    AuditEntry,
    Base,
    BillingRun,
    Building,
    Complaint,
    Device,
    Equipment,
    EscalationPolicy,
    Gateway,
    Inspection,
    Invoice,
    Lease,
    LeaseStatus,
    LeaseUnit,
    MaintenancePlan,
    ManualReading,
    Meter,
    MeterPoint,
    Notice,
    NoticeChannel,
    NoticeUnit,
    OnCallRota,
    OneOffCharge,
    OwnershipShare,
    Payment,
    Person,
    Property,
    PushSubscription,
    Refund,
    Role,
    RoleGrant,
    RoundPlan,
    RoundTask,
    SlaTarget,
    StaffBadge,
    Survey,
    Tariff,
    Unit,
    User,
    WorkOrder,
    WorkOrderWatcher,
)
from cloud.services.audit import Actor, act_as
from cloud.services.errors import NotFoundError, PermissionDeniedError

M = TypeVar("M", bound=Base)


class Permission(StrEnum):
    PROPERTIES_READ = "properties:read"  # properties, buildings, units, shares
    PROPERTIES_WRITE = "properties:write"
    PEOPLE_READ = "people:read"
    PEOPLE_WRITE = "people:write"
    LEASES_READ = "leases:read"
    LEASES_WRITE = "leases:write"
    EQUIPMENT_READ = "equipment:read"  # equipment, inspections, their documents
    EQUIPMENT_WRITE = "equipment:write"
    METERS_READ = "meters:read"  # meter points and meters
    METERS_WRITE = "meters:write"
    GATEWAYS_READ = "gateways:read"  # gateways and their health
    GATEWAYS_WRITE = "gateways:write"
    TELEMETRY_READ = "telemetry:read"  # devices and readings of visible gateways
    ALARMS_READ = "alarms:read"  # alarms, silences, on-call rotas, deliveries
    ALARMS_WRITE = "alarms:write"  # acknowledge, silence, rotas and escalations
    WORK_ORDERS_READ = "work_orders:read"  # work orders, plans, rounds, complaints
    WORK_ORDERS_WRITE = "work_orders:write"  # owners and tenants: their requests
    NOTICES_READ = "notices:read"
    NOTICES_WRITE = "notices:write"
    BILLING_READ = "billing:read"  # tariffs, invoices, payments, reports
    BILLING_WRITE = "billing:write"
    USERS_MANAGE = "users:manage"
    AUDIT_READ = "audit:read"


class Reach(StrEnum):
    """How far a permission held on a property goes."""

    PROPERTY = "property"  # every record of the property
    OWN = "own"  # only the holder's own records there (``EntityRule.own``)


def _grant(reach: Reach, *permissions: Permission) -> dict[Permission, Reach]:
    return dict.fromkeys(permissions, reach)


P = Permission
# The one table of what each per-property role allows. Organization administrators
# hold every permission across their organization; users:manage and audit:read
# exist only for them.
ROLE_PERMISSIONS: Mapping[str, Mapping[Permission, Reach]] = {
    Role.PROPERTY_MANAGER: _grant(
        Reach.PROPERTY,
        *(P.PROPERTIES_READ, P.PROPERTIES_WRITE, P.PEOPLE_READ, P.PEOPLE_WRITE),
        *(P.LEASES_READ, P.LEASES_WRITE, P.EQUIPMENT_READ, P.EQUIPMENT_WRITE),
        *(P.METERS_READ, P.METERS_WRITE, P.GATEWAYS_READ, P.GATEWAYS_WRITE),
        *(P.TELEMETRY_READ, P.ALARMS_READ, P.ALARMS_WRITE),
        *(P.WORK_ORDERS_READ, P.WORK_ORDERS_WRITE, P.NOTICES_READ, P.NOTICES_WRITE),
        *(P.BILLING_READ, P.BILLING_WRITE),
    ),
    Role.ACCOUNTANT: _grant(
        Reach.PROPERTY,
        *(P.PROPERTIES_READ, P.PEOPLE_READ, P.LEASES_READ, P.METERS_READ),
        *(P.WORK_ORDERS_READ, P.NOTICES_READ, P.BILLING_READ, P.BILLING_WRITE),
    ),
    Role.TECHNICIAN: _grant(
        Reach.PROPERTY,
        *(P.PROPERTIES_READ, P.EQUIPMENT_READ, P.EQUIPMENT_WRITE),
        *(P.METERS_READ, P.METERS_WRITE, P.GATEWAYS_READ, P.TELEMETRY_READ),
        *(P.ALARMS_READ, P.ALARMS_WRITE, P.WORK_ORDERS_READ, P.WORK_ORDERS_WRITE),
        P.NOTICES_READ,
    ),
    Role.OWNER: _grant(
        Reach.OWN,
        *(P.PROPERTIES_READ, P.PEOPLE_READ, P.LEASES_READ),
        *(P.WORK_ORDERS_READ, P.WORK_ORDERS_WRITE, P.NOTICES_READ, P.BILLING_READ),
    ),
    Role.TENANT: _grant(
        Reach.OWN,
        *(P.PROPERTIES_READ, P.PEOPLE_READ, P.LEASES_READ),
        *(P.WORK_ORDERS_READ, P.WORK_ORDERS_WRITE, P.NOTICES_READ, P.BILLING_READ),
    ),
}
ORG_ADMIN_PERMISSIONS = frozenset(Permission)
ORG_LEVEL_PERMISSIONS = frozenset({P.USERS_MANAGE, P.AUDIT_READ})


@dataclass(frozen=True)
class Scope:
    """What one caller may see and do, computed once per request or job.

    ``properties[p]`` holds the properties where the caller has permission ``p``
    over every record, ``own_properties[p]`` those where only over their own
    records; ``org_wide`` the permissions held across the whole organization.
    """

    organization_id: int
    actor: Actor
    org_wide: frozenset[Permission] = frozenset()
    properties: Mapping[Permission, frozenset[int]] = field(default_factory=dict)
    own_properties: Mapping[Permission, frozenset[int]] = field(default_factory=dict)
    person_id: int | None = None
    own_unit_ids: frozenset[int] = frozenset()
    own_lease_ids: frozenset[int] = frozenset()

    @classmethod
    def system(cls, organization_id: int, label: str) -> Scope:
        """Everything in one organization, for commands and background jobs."""
        actor = Actor(label=f"system: {label}", organization_id=organization_id)
        return cls(organization_id, actor, org_wide=ORG_ADMIN_PERMISSIONS)

    def bind(self, session: Session) -> Session:
        """Record this scope's actor as the author of the session's writes."""
        act_as(session, self.actor)
        return session

    # --- permission checks --------------------------------------------------------

    def can(self, permission: Permission, property_id: int | None = None) -> bool:
        """Whether the caller holds ``permission`` over every record of
        ``property_id``; without a property, whether it holds it anywhere at all."""
        if permission in self.org_wide:
            return True
        if property_id is None:
            return bool(
                self.properties.get(permission) or self.own_properties.get(permission)
            )
        return property_id in self.properties.get(permission, ())

    def require(self, permission: Permission) -> None:
        if permission in ORG_LEVEL_PERMISSIONS:
            self.require_org_wide(permission)
        elif not self.can(permission):
            raise PermissionDeniedError(f"None of your roles grants {permission}.")

    def require_org_wide(self, permission: Permission) -> None:
        if permission not in self.org_wide:
            raise PermissionDeniedError(
                f"{permission} is granted only to organization administrators "
                f"({Role.ORG_ADMIN})."
            )

    def require_on(self, permission: Permission, property_id: int | None) -> None:
        """Before creating something under ``property_id`` (None: under no
        property, which needs the permission organization-wide)."""
        if property_id is None:
            self.require_org_wide(permission)
        elif not self.can(permission, property_id):
            raise PermissionDeniedError(
                f"None of your roles grants {permission} on property {property_id}."
            )

    # --- rows ---------------------------------------------------------------------

    def where(
        self, model: type[Base], permission: Permission | None = None
    ) -> ColumnElement[bool]:
        """The condition for rows of ``model`` the caller holds ``permission`` on
        (the model's read permission by default)."""
        rule = rule_for(model)
        permission = permission or rule.read
        if permission in self.org_wide:
            return rule.in_organization(self.organization_id)
        conditions = []
        if ids := self.properties.get(permission):
            conditions.append(rule.in_properties(ids))
        if (ids := self.own_properties.get(permission)) and rule.own is not None:
            conditions.append(sa.and_(rule.in_properties(ids), rule.own(self)))
        return sa.or_(*conditions) if conditions else sa.false()

    def visible(
        self, model: type[M], permission: Permission | None = None
    ) -> sa.Select[M]:
        return sa.select(model).where(self.where(model, permission))

    def get(
        self,
        session: Session,
        model: type[M],
        key: int | str,
        *,
        permission: Permission | None = None,
        field: str | None = None,
    ) -> M:
        """The row with primary key ``key`` if the caller may read it (with
        ``permission`` instead of the model's read permission, when given).
        ``field`` names the input the key came from, for the error."""
        rule = rule_for(model)
        found = session.scalar(
            self.visible(model, permission).where(_primary_key(model) == key)
        )
        if found is None:
            raise NotFoundError(f"{rule.noun} {key!r} not found.", field=field)
        return found

    def get_for_write(
        self,
        session: Session,
        model: type[M],
        key: int | str,
        *,
        field: str | None = None,
    ) -> M:
        record = self.get(session, model, key, field=field)
        rule = rule_for(model)
        if rule.write in self.org_wide:
            return record
        column = _primary_key(model)
        writable = session.scalar(
            sa.select(column).where(column == key, self.where(model, rule.write))
        )
        if writable is None:
            raise PermissionDeniedError(
                f"None of your roles grants {rule.write} on {rule.noun} {key!r}.",
                field=field,
            )
        return record


def _primary_key(model: type[Base]) -> sa.ColumnElement[Any]:
    (column,) = sa.inspect(model).primary_key
    return column


# --- how each entity is scoped ---------------------------------------------------


@dataclass(frozen=True)
class EntityRule:
    """How the rows of one model are placed in properties.

    ``in_properties(ids)`` selects rows in any of those properties,
    ``in_organization(id)`` every row of an organization, and ``own(scope)``, if
    owners and tenants see any rows of the model, those that are theirs.
    """

    noun: str
    read: Permission
    write: Permission
    in_properties: Callable[[Collection[int]], ColumnElement[bool]]
    in_organization: Callable[[int], ColumnElement[bool]]
    own: Callable[[Scope], ColumnElement[bool]] | None = None


def _organization_properties(organization_id: int) -> sa.Select[int]:
    return sa.select(Property.id).where(Property.organization_id == organization_id)


def _property_rule(
    noun: str,
    column: sa.orm.InstrumentedAttribute[int],
    read: Permission,
    write: Permission,
    own: Callable[[Scope], ColumnElement[bool]] | None = None,
) -> EntityRule:
    """The common case: a ``property_id`` column on the row."""
    return EntityRule(
        noun=noun,
        read=read,
        write=write,
        in_properties=column.in_,
        in_organization=lambda org: column.in_(_organization_properties(org)),
        own=own,
    )


def _people_in(ids: Collection[int]) -> ColumnElement[bool]:
    """Registered in one of the properties, or owning or renting there."""
    return sa.or_(
        Person.property_id.in_(ids),
        Person.id.in_(sa.select(Lease.tenant_id).where(Lease.property_id.in_(ids))),
        Person.id.in_(
            sa.select(OwnershipShare.person_id).where(
                OwnershipShare.property_id.in_(ids)
            )
        ),
    )


def _nowhere(_ids: Collection[int]) -> ColumnElement[bool]:
    return sa.false()


def _yourself(scope: Scope) -> ColumnElement[bool]:
    if scope.person_id is None:
        return sa.false()
    return Person.id == scope.person_id


def _visible_gateways(
    condition: ColumnElement[bool],
) -> ColumnElement[bool]:
    return Device.gateway_id.in_(sa.select(Gateway.id).where(condition))


ENTITY_RULES: dict[type[Base], EntityRule] = {
    Property: EntityRule(
        noun="Property",
        read=P.PROPERTIES_READ,
        write=P.PROPERTIES_WRITE,
        in_properties=Property.id.in_,
        in_organization=lambda org: Property.organization_id == org,
    ),
    Building: _property_rule(
        "Building", Building.property_id, P.PROPERTIES_READ, P.PROPERTIES_WRITE
    ),
    Unit: _property_rule(
        "Unit",
        Unit.property_id,
        P.PROPERTIES_READ,
        P.PROPERTIES_WRITE,
        own=lambda scope: Unit.id.in_(scope.own_unit_ids),
    ),
    OwnershipShare: _property_rule(
        "Ownership share",
        OwnershipShare.property_id,
        P.PROPERTIES_READ,
        P.PROPERTIES_WRITE,
        own=lambda scope: OwnershipShare.person_id == scope.person_id,
    ),
    Person: EntityRule(
        noun="Person",
        read=P.PEOPLE_READ,
        write=P.PEOPLE_WRITE,
        in_properties=_people_in,
        in_organization=lambda org: Person.organization_id == org,
        own=_yourself,
    ),
    Lease: _property_rule(
        "Lease",
        Lease.property_id,
        P.LEASES_READ,
        P.LEASES_WRITE,
        own=lambda scope: Lease.id.in_(scope.own_lease_ids),
    ),
    Equipment: _property_rule(
        "Equipment", Equipment.property_id, P.EQUIPMENT_READ, P.EQUIPMENT_WRITE
    ),
    Inspection: _property_rule(
        "Inspection", Inspection.property_id, P.EQUIPMENT_READ, P.EQUIPMENT_WRITE
    ),
    MeterPoint: _property_rule(
        "Meter point", MeterPoint.property_id, P.METERS_READ, P.METERS_WRITE
    ),
    Meter: _property_rule("Meter", Meter.property_id, P.METERS_READ, P.METERS_WRITE),
    Gateway: EntityRule(
        noun="Gateway",
        read=P.GATEWAYS_READ,
        write=P.GATEWAYS_WRITE,
        in_properties=Gateway.property_id.in_,
        in_organization=lambda org: Gateway.organization_id == org,
    ),
    # Telemetry belongs to the property of the gateway that sent it.
    Device: EntityRule(
        noun="Device",
        read=P.TELEMETRY_READ,
        write=P.GATEWAYS_WRITE,
        in_properties=lambda ids: _visible_gateways(Gateway.property_id.in_(ids)),
        in_organization=lambda org: _visible_gateways(Gateway.organization_id == org),
    ),
    # Billing: staff with billing roles see their properties' records; owners and
    # tenants their own issued invoices, payments and refunds.
    Tariff: _property_rule(
        "Tariff", Tariff.property_id, P.BILLING_READ, P.BILLING_WRITE
    ),
    ManualReading: _property_rule(
        "Manual reading", ManualReading.property_id, P.METERS_READ, P.METERS_WRITE
    ),
    BillingRun: _property_rule(
        "Billing run", BillingRun.property_id, P.BILLING_READ, P.BILLING_WRITE
    ),
    Invoice: _property_rule(
        "Invoice",
        Invoice.property_id,
        P.BILLING_READ,
        P.BILLING_WRITE,
        own=lambda scope: sa.and_(
            Invoice.person_id == scope.person_id, Invoice.status != "draft"
        ),
    ),
    OneOffCharge: _property_rule(
        "One-off charge", OneOffCharge.property_id, P.BILLING_READ, P.BILLING_WRITE
    ),
    Payment: _property_rule(
        "Payment",
        Payment.property_id,
        P.BILLING_READ,
        P.BILLING_WRITE,
        own=lambda scope: Payment.person_id == scope.person_id,
    ),
    Refund: _property_rule(
        "Refund",
        Refund.property_id,
        P.BILLING_READ,
        P.BILLING_WRITE,
        own=lambda scope: Refund.person_id == scope.person_id,
    ),
    # Alarms of a gateway not yet placed in a property: administrators only.
    Alarm: EntityRule(
        noun="Alarm",
        read=P.ALARMS_READ,
        write=P.ALARMS_WRITE,
        in_properties=Alarm.property_id.in_,
        in_organization=lambda org: Alarm.organization_id == org,
    ),
    AlarmAction: EntityRule(
        noun="Alarm action",
        read=P.ALARMS_READ,
        write=P.ALARMS_WRITE,
        in_properties=AlarmAction.property_id.in_,
        in_organization=lambda org: AlarmAction.organization_id == org,
    ),
    AlarmSilence: _property_rule(
        "Silence", AlarmSilence.property_id, P.ALARMS_READ, P.ALARMS_WRITE
    ),
    OnCallRota: _property_rule(
        "On-call rota", OnCallRota.property_id, P.ALARMS_READ, P.ALARMS_WRITE
    ),
    EscalationPolicy: _property_rule(
        "Escalation policy", EscalationPolicy.property_id, P.ALARMS_READ, P.ALARMS_WRITE
    ),
    AlarmRuleSet: _property_rule(
        "Alarm rule set", AlarmRuleSet.property_id, P.ALARMS_READ, P.ALARMS_WRITE
    ),
    # A user's own subscriptions are read by user id (cloud.services.alarms);
    # across users, administrators only.
    PushSubscription: EntityRule(
        noun="Push subscription",
        read=P.ALARMS_READ,
        write=P.ALARMS_WRITE,
        in_properties=_nowhere,
        in_organization=lambda org: PushSubscription.organization_id == org,
    ),
    # Owners and tenants: the orders they reported, and those of their units.
    WorkOrder: _property_rule(
        "Work order",
        WorkOrder.property_id,
        P.WORK_ORDERS_READ,
        P.WORK_ORDERS_WRITE,
        own=lambda scope: sa.or_(
            WorkOrder.unit_id.in_(scope.own_unit_ids),
            WorkOrder.requester_user_id == scope.actor.user_id,
        ),
    ),
    SlaTarget: _property_rule(
        "SLA target", SlaTarget.property_id, P.WORK_ORDERS_READ, P.WORK_ORDERS_WRITE
    ),
    WorkOrderWatcher: _property_rule(
        "Work order watcher",
        WorkOrderWatcher.property_id,
        P.WORK_ORDERS_READ,
        P.WORK_ORDERS_WRITE,
    ),
    MaintenancePlan: _property_rule(
        "Maintenance plan",
        MaintenancePlan.property_id,
        P.WORK_ORDERS_READ,
        P.WORK_ORDERS_WRITE,
    ),
    RoundPlan: _property_rule(
        "Round plan", RoundPlan.property_id, P.WORK_ORDERS_READ, P.WORK_ORDERS_WRITE
    ),
    RoundTask: _property_rule(
        "Round task", RoundTask.property_id, P.WORK_ORDERS_READ, P.WORK_ORDERS_WRITE
    ),
    # Residents: published notices of their units.
    Notice: _property_rule(
        "Notice",
        Notice.property_id,
        P.NOTICES_READ,
        P.NOTICES_WRITE,
        own=lambda scope: sa.and_(
            Notice.published_at.is_not(None),
            Notice.id.in_(
                sa.select(NoticeUnit.notice_id).where(
                    NoticeUnit.unit_id.in_(scope.own_unit_ids)
                )
            ),
        ),
    ),
    NoticeChannel: _property_rule(
        "Notice channel", NoticeChannel.property_id, P.NOTICES_READ, P.NOTICES_WRITE
    ),
    # Residents: what they filed; surveys of the properties they live in.
    Complaint: _property_rule(
        "Complaint",
        Complaint.property_id,
        P.WORK_ORDERS_READ,
        P.WORK_ORDERS_WRITE,
        own=lambda scope: Complaint.requester_user_id == scope.actor.user_id,
    ),
    Survey: _property_rule(
        "Survey",
        Survey.property_id,
        P.WORK_ORDERS_READ,
        P.WORK_ORDERS_WRITE,
        own=lambda scope: sa.true(),
    ),
    StaffBadge: EntityRule(
        noun="Staff badge",
        read=P.USERS_MANAGE,
        write=P.USERS_MANAGE,
        in_properties=_nowhere,
        in_organization=lambda org: StaffBadge.organization_id == org,
    ),
    User: EntityRule(
        noun="User",
        read=P.USERS_MANAGE,
        write=P.USERS_MANAGE,
        in_properties=_nowhere,
        in_organization=lambda org: User.organization_id == org,
    ),
    AuditEntry: EntityRule(
        noun="Audit entry",
        read=P.AUDIT_READ,
        write=P.AUDIT_READ,
        in_properties=_nowhere,
        in_organization=lambda org: AuditEntry.organization_id == org,
    ),
}


def rule_for(model: type[Base]) -> EntityRule:
    try:
        return ENTITY_RULES[model]
    except KeyError:
        raise TypeError(
            f"{model.__name__} has no access rule; register one in "
            "cloud.services.access.ENTITY_RULES before routes read it."
        ) from None


# --- building a user's scope -------------------------------------------------------


def load_scope(session: Session, user: User) -> Scope:
    """The scope of a logged-in user, from their grants and, for owners and
    tenants, their ownership shares and leases."""
    actor = Actor(
        label=f"user {user.id} ({user.email})",
        organization_id=user.organization_id,
        user_id=user.id,
    )
    grants = session.execute(
        sa.select(RoleGrant.property_id, RoleGrant.role)
        .join(Property, Property.id == RoleGrant.property_id)
        .where(
            RoleGrant.user_id == user.id,
            Property.organization_id == user.organization_id,
        )
    ).all()
    whole: dict[Permission, set[int]] = defaultdict(set)
    own: dict[Permission, set[int]] = defaultdict(set)
    for property_id, role in grants:
        for permission, reach in ROLE_PERMISSIONS.get(role, {}).items():
            (whole if reach is Reach.PROPERTY else own)[permission].add(property_id)
    units, leases = _own_records(
        session,
        user.person_id,
        owner_of={p for p, role in grants if role == Role.OWNER},
        tenant_of={p for p, role in grants if role == Role.TENANT},
    )
    return Scope(
        organization_id=user.organization_id,
        actor=actor,
        org_wide=ORG_ADMIN_PERMISSIONS if user.is_org_admin else frozenset(),
        properties={p: frozenset(ids) for p, ids in whole.items()},
        own_properties={p: frozenset(ids) for p, ids in own.items()},
        person_id=user.person_id,
        own_unit_ids=units,
        own_lease_ids=leases,
    )


def _own_records(
    session: Session,
    person_id: int | None,
    *,
    owner_of: set[int],
    tenant_of: set[int],
) -> tuple[frozenset[int], frozenset[int]]:
    """Units and leases that are an owner's or tenant's own.

    An owner's: units with a current share in a property where they hold the owner
    role, and the leases of those units. A tenant's: their leases in a property
    where they hold the tenant role, and the units of the active ones.
    """
    if person_id is None or not (owner_of or tenant_of):
        return frozenset(), frozenset()
    today = datetime.now(UTC).date()
    owned = set(session.scalars(_current_shares(person_id, owner_of, today)))
    rented = session.execute(
        sa.select(Lease.id, Lease.status, LeaseUnit.unit_id)
        .join(LeaseUnit, LeaseUnit.lease_id == Lease.id)
        .where(Lease.tenant_id == person_id, Lease.property_id.in_(tenant_of))
    ).all()
    leases = {lease_id for lease_id, _, _ in rented}
    units = owned | {unit for _, status, unit in rented if status == LeaseStatus.ACTIVE}
    if owned:
        leases |= set(
            session.scalars(
                sa.select(LeaseUnit.lease_id).where(LeaseUnit.unit_id.in_(owned))
            )
        )
    return frozenset(units), frozenset(leases)


def _current_shares(
    person_id: int, properties: set[int], today: date
) -> sa.Select[int]:
    return sa.select(OwnershipShare.unit_id).where(
        OwnershipShare.person_id == person_id,
        OwnershipShare.property_id.in_(properties),
        sa.or_(OwnershipShare.started_on.is_(None), OwnershipShare.started_on <= today),
        sa.or_(OwnershipShare.ended_on.is_(None), OwnershipShare.ended_on >= today),
    )
