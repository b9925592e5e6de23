"""The cloud's tables; importing this package registers all on ``Base.metadata``."""

from cloud.models.accounts import (
    PROPERTY_ROLES,
    Organization,
    RefreshToken,
    Role,
    RoleGrant,
    User,
)
from cloud.models.alarms import (
    OPEN_ALARM_STATES,
    Alarm,
    AlarmAction,
    AlarmChange,
    AlarmEscalation,
    AlarmRuleSet,
    AlarmSilence,
    AlarmState,
    EscalationPolicy,
    OnCallRota,
    PushSubscription,
    Trade,
)
from cloud.models.audit import AuditEntry
from cloud.models.base import Base, ExactDecimal, UtcDateTime, utc_now
from cloud.models.commands import GatewayCommand
from cloud.models.equipment import (
    Attachment,
    Equipment,
    EquipmentCategory,
    EquipmentStatus,
    Inspection,
)
from cloud.models.gateways import Gateway
from cloud.models.leases import LEASE_OVERLAP_CONSTRAINT, Lease, LeaseStatus, LeaseUnit
from cloud.models.meters import Meter, MeterKind, MeterPoint
from cloud.models.outbox import OutboxMessage
from cloud.models.people import Contact, OwnershipShare, Person, PersonKind
from cloud.models.properties import (
    Building,
    Property,
    PropertyKind,
    Unit,
    UnitStatus,
    UnitStatusChange,
    UnitUse,
)
from cloud.models.telemetry import (
    Device,
    DevicePoint,
    EventRow,
    GapRow,
    GatewayBoot,
    ReadingRow,
)

__all__ = [
    "LEASE_OVERLAP_CONSTRAINT",
    "OPEN_ALARM_STATES",
    "PROPERTY_ROLES",
    "Alarm",
    "AlarmAction",
    "AlarmChange",
    "AlarmEscalation",
    "AlarmRuleSet",
    "AlarmSilence",
    "AlarmState",
    "Attachment",
    "AuditEntry",
    "Base",
    "Building",
    "Contact",
    "Device",
    "DevicePoint",
    "Equipment",
    "EquipmentCategory",
    "EquipmentStatus",
    "EscalationPolicy",
    "EventRow",
    "ExactDecimal",
    "GapRow",
    "Gateway",
    "GatewayBoot",
    "GatewayCommand",
    "Inspection",
    "Lease",
    "LeaseStatus",
    "LeaseUnit",
    "Meter",
    "MeterKind",
    "MeterPoint",
    "OnCallRota",
    "Organization",
    "OutboxMessage",
    "OwnershipShare",
    "Person",
    "PersonKind",
    "Property",
    "PropertyKind",
    "PushSubscription",
    "ReadingRow",
    "RefreshToken",
    "Role",
    "RoleGrant",
    "Trade",
    "Unit",
    "UnitStatus",
    "UnitStatusChange",
    "UnitUse",
    "User",
    "UtcDateTime",
    "utc_now",
]
