"""Properties, buildings, units, people, leases, equipment, meters; per-property
roles; gateways placed in buildings; the audit log.

Revision ID: 0002
Revises: 0001
Create Date: 2026-12-04
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "0002"
down_revision: str | None = "0001"
branch_labels: str | None = None
depends_on: str | None = None

# Plain column types, so this file keeps working when the model classes change.
UTC_TIME = sa.DateTime(timezone=True)
EXACT_DECIMAL = sa.Numeric().with_variant(sa.Text(), "sqlite")
JSON_DATA = sa.JSON().with_variant(postgresql.JSONB(), "postgresql")
LEASE_OVERLAP_CONSTRAINT = "ex_lease_units_no_overlap"


def upgrade() -> None:
    _create_properties()
    _create_people()
    _create_leases()
    _create_equipment()
    _create_meters()
    _create_audit_log()
    _place_gateways()
    _grant_roles()


def _id() -> sa.Column[int]:
    return sa.Column("id", sa.Integer(), nullable=False)


def _created_at() -> sa.Column[object]:
    return sa.Column("created_at", UTC_TIME, nullable=False)


def _fk(
    table: str, columns: list[str], parent: str, ondelete: str = "RESTRICT"
) -> sa.ForeignKeyConstraint:
    """A foreign key named by the models' convention; two local columns mean
    ``(parent_id, property_id)`` → ``parent(id, property_id)``."""
    remote = [f"{parent}.id", f"{parent}.property_id"][: len(columns)]
    return sa.ForeignKeyConstraint(
        columns,
        remote,
        name=op.f(f"fk_{table}_{columns[0]}_{parent}"),
        ondelete=ondelete,
    )


def _pk(table: str, *columns: str) -> sa.PrimaryKeyConstraint:
    return sa.PrimaryKeyConstraint(*(columns or ("id",)), name=op.f(f"pk_{table}"))


def _uq(table: str, *columns: str) -> sa.UniqueConstraint:
    return sa.UniqueConstraint(*columns, name=op.f(f"uq_{table}_{columns[0]}"))


def _create_properties() -> None:
    op.create_table(
        "properties",
        _id(),
        sa.Column("organization_id", sa.Integer(), nullable=False),
        sa.Column("code", sa.String(32), nullable=False),
        sa.Column("name", sa.String(200), nullable=False),
        sa.Column("kind", sa.String(16), nullable=False),
        sa.Column("address", sa.String(500), nullable=True),
        _created_at(),
        sa.ForeignKeyConstraint(
            ["organization_id"],
            ["organizations.id"],
            name=op.f("fk_properties_organization_id_organizations"),
            ondelete="RESTRICT",
        ),
        _pk("properties"),
        _uq("properties", "id", "organization_id"),
        _uq("properties", "organization_id", "code"),
    )
    op.create_table(
        "buildings",
        _id(),
        sa.Column("property_id", sa.Integer(), nullable=False),
        sa.Column("code", sa.String(32), nullable=False),
        sa.Column("name", sa.String(200), nullable=False),
        sa.Column("address", sa.String(500), nullable=True),
        _created_at(),
        _fk("buildings", ["property_id"], "properties"),
        _pk("buildings"),
        _uq("buildings", "id", "property_id"),
        _uq("buildings", "property_id", "code"),
    )
    op.create_table(
        "units",
        _id(),
        sa.Column("property_id", sa.Integer(), nullable=False),
        sa.Column("building_id", sa.Integer(), nullable=False),
        sa.Column("number", sa.String(32), nullable=False),
        sa.Column("floor", sa.Integer(), nullable=True),
        sa.Column("address", sa.String(500), nullable=True),
        sa.Column("gross_area_m2", EXACT_DECIMAL, nullable=True),
        sa.Column("usable_area_m2", EXACT_DECIMAL, nullable=True),
        sa.Column("layout", sa.String(64), nullable=True),
        sa.Column("use", sa.String(16), nullable=False),
        sa.Column("status", sa.String(24), nullable=False),
        _created_at(),
        _fk("units", ["building_id", "property_id"], "buildings"),
        _pk("units"),
        _uq("units", "building_id", "number"),
        _uq("units", "id", "property_id"),
    )
    op.create_index("ix_units_property_id", "units", ["property_id"])
    op.create_table(
        "unit_status_changes",
        _id(),
        sa.Column("unit_id", sa.Integer(), nullable=False),
        sa.Column("property_id", sa.Integer(), nullable=False),
        sa.Column("status", sa.String(24), nullable=False),
        sa.Column("changed_at", UTC_TIME, nullable=False),
        sa.Column("changed_by", sa.String(200), nullable=False),
        sa.Column("note", sa.String(500), nullable=True),
        _fk("unit_status_changes", ["unit_id", "property_id"], "units", "CASCADE"),
        _pk("unit_status_changes"),
    )
    op.create_index(
        "ix_unit_status_changes_unit_id",
        "unit_status_changes",
        ["unit_id", "changed_at"],
    )


def _create_people() -> None:
    op.create_table(
        "people",
        _id(),
        sa.Column("organization_id", sa.Integer(), nullable=False),
        sa.Column("property_id", sa.Integer(), nullable=False),
        sa.Column("kind", sa.String(16), nullable=False),
        sa.Column("name", sa.String(200), nullable=False),
        sa.Column("external_ref", sa.String(64), nullable=True),
        sa.Column("email", sa.String(320), nullable=True),
        sa.Column("phone", sa.String(40), nullable=True),
        sa.Column("address", sa.String(500), nullable=True),
        sa.Column("identity_number_encrypted", sa.Text(), nullable=True),
        sa.Column("identity_number_last4", sa.String(4), nullable=True),
        _created_at(),
        sa.ForeignKeyConstraint(
            ["property_id", "organization_id"],
            ["properties.id", "properties.organization_id"],
            name=op.f("fk_people_property_id_properties"),
            ondelete="RESTRICT",
        ),
        _pk("people"),
        _uq("people", "organization_id", "external_ref"),
    )
    op.create_index("ix_people_property_id", "people", ["property_id"])
    op.create_table(
        "contacts",
        _id(),
        sa.Column("person_id", sa.Integer(), nullable=False),
        sa.Column("name", sa.String(200), nullable=False),
        sa.Column("role", sa.String(64), nullable=True),
        sa.Column("email", sa.String(320), nullable=True),
        sa.Column("phone", sa.String(40), nullable=True),
        sa.ForeignKeyConstraint(
            ["person_id"],
            ["people.id"],
            name=op.f("fk_contacts_person_id_people"),
            ondelete="CASCADE",
        ),
        _pk("contacts"),
    )
    op.create_index(op.f("ix_contacts_person_id"), "contacts", ["person_id"])
    op.create_table(
        "ownership_shares",
        _id(),
        sa.Column("unit_id", sa.Integer(), nullable=False),
        sa.Column("property_id", sa.Integer(), nullable=False),
        sa.Column("person_id", sa.Integer(), nullable=False),
        sa.Column("share", EXACT_DECIMAL, nullable=False),
        sa.Column("started_on", sa.Date(), nullable=True),
        sa.Column("ended_on", sa.Date(), nullable=True),
        _created_at(),
        sa.ForeignKeyConstraint(
            ["person_id"],
            ["people.id"],
            name=op.f("fk_ownership_shares_person_id_people"),
            ondelete="RESTRICT",
        ),
        _fk("ownership_shares", ["unit_id", "property_id"], "units"),
        _pk("ownership_shares"),
    )
    op.create_index(
        op.f("ix_ownership_shares_person_id"), "ownership_shares", ["person_id"]
    )
    op.create_index(
        "ix_ownership_shares_property_id", "ownership_shares", ["property_id"]
    )
    op.create_index("ix_ownership_shares_unit_id", "ownership_shares", ["unit_id"])


def _create_leases() -> None:
    op.create_table(
        "leases",
        _id(),
        sa.Column("property_id", sa.Integer(), nullable=False),
        sa.Column("reference", sa.String(64), nullable=False),
        sa.Column("tenant_id", sa.Integer(), nullable=False),
        sa.Column("start_date", sa.Date(), nullable=False),
        sa.Column("end_date", sa.Date(), nullable=True),
        sa.Column("rent", EXACT_DECIMAL, nullable=False),
        sa.Column("rent_period", sa.String(16), nullable=False),
        sa.Column("currency", sa.String(3), nullable=False),
        sa.Column("deposit", EXACT_DECIMAL, nullable=True),
        sa.Column("fee_rules", JSON_DATA, nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        _created_at(),
        _fk("leases", ["property_id"], "properties"),
        sa.ForeignKeyConstraint(
            ["tenant_id"],
            ["people.id"],
            name=op.f("fk_leases_tenant_id_people"),
            ondelete="RESTRICT",
        ),
        _pk("leases"),
        _uq("leases", "id", "property_id"),
        _uq("leases", "property_id", "reference"),
    )
    op.create_index(op.f("ix_leases_tenant_id"), "leases", ["tenant_id"])
    op.create_table(
        "lease_units",
        sa.Column("lease_id", sa.Integer(), nullable=False),
        sa.Column("unit_id", sa.Integer(), nullable=False),
        sa.Column("property_id", sa.Integer(), nullable=False),
        sa.Column("start_date", sa.Date(), nullable=False),
        sa.Column("end_date", sa.Date(), nullable=True),
        sa.Column("blocks", sa.Boolean(), nullable=False),
        _fk("lease_units", ["lease_id", "property_id"], "leases", "CASCADE"),
        _fk("lease_units", ["unit_id", "property_id"], "units"),
        _pk("lease_units", "lease_id", "unit_id"),
    )
    op.create_index("ix_lease_units_unit_id", "lease_units", ["unit_id", "start_date"])
    if op.get_bind().dialect.name == "postgresql":
        # Two active leases of one unit on one day are refused by the database
        # itself, whatever the order two concurrent transactions commit in.
        op.execute("CREATE EXTENSION IF NOT EXISTS btree_gist")
        op.execute(
            f"ALTER TABLE lease_units ADD CONSTRAINT {LEASE_OVERLAP_CONSTRAINT} "
            "EXCLUDE USING gist (unit_id WITH =, "
            "daterange(start_date, end_date, '[]') WITH &&) WHERE (blocks)"
        )


def _create_equipment() -> None:
    op.create_table(
        "equipment",
        _id(),
        sa.Column("property_id", sa.Integer(), nullable=False),
        sa.Column("building_id", sa.Integer(), nullable=True),
        sa.Column("unit_id", sa.Integer(), nullable=True),
        sa.Column("floor", sa.Integer(), nullable=True),
        sa.Column("parent_id", sa.Integer(), nullable=True),
        sa.Column("category", sa.String(16), nullable=False),
        sa.Column("name", sa.String(200), nullable=False),
        sa.Column("manufacturer", sa.String(200), nullable=True),
        sa.Column("model", sa.String(200), nullable=True),
        sa.Column("serial", sa.String(100), nullable=True),
        sa.Column("purchase_date", sa.Date(), nullable=True),
        sa.Column("installed_on", sa.Date(), nullable=True),
        sa.Column("warranty_until", sa.Date(), nullable=True),
        sa.Column("status", sa.String(24), nullable=False),
        _created_at(),
        _fk("equipment", ["building_id", "property_id"], "buildings"),
        _fk("equipment", ["parent_id", "property_id"], "equipment"),
        _fk("equipment", ["property_id"], "properties"),
        _fk("equipment", ["unit_id", "property_id"], "units"),
        _pk("equipment"),
        _uq("equipment", "id", "property_id"),
    )
    op.create_index("ix_equipment_property_id", "equipment", ["property_id"])
    op.create_table(
        "inspections",
        _id(),
        sa.Column("equipment_id", sa.Integer(), nullable=False),
        sa.Column("property_id", sa.Integer(), nullable=False),
        sa.Column("kind", sa.String(100), nullable=False),
        sa.Column("authority", sa.String(200), nullable=False),
        sa.Column("certificate_number", sa.String(100), nullable=True),
        sa.Column("last_inspected_on", sa.Date(), nullable=True),
        sa.Column("interval_months", sa.Integer(), nullable=False),
        sa.Column("next_due_on", sa.Date(), nullable=False),
        _created_at(),
        _fk("inspections", ["equipment_id", "property_id"], "equipment", "CASCADE"),
        _pk("inspections"),
    )
    op.create_index("ix_inspections_equipment_id", "inspections", ["equipment_id"])
    op.create_index(
        "ix_inspections_property_id", "inspections", ["property_id", "next_due_on"]
    )
    op.create_table(
        "attachments",
        _id(),
        sa.Column("property_id", sa.Integer(), nullable=False),
        sa.Column("equipment_id", sa.Integer(), nullable=True),
        sa.Column("lease_id", sa.Integer(), nullable=True),
        sa.Column("filename", sa.String(255), nullable=False),
        sa.Column("content_type", sa.String(100), nullable=False),
        sa.Column("size_bytes", sa.Integer(), nullable=False),
        sa.Column("sha256", sa.String(64), nullable=False),
        sa.Column("uploaded_by", sa.String(200), nullable=False),
        sa.Column("uploaded_at", UTC_TIME, nullable=False),
        sa.CheckConstraint(
            "(equipment_id IS NULL) <> (lease_id IS NULL)",
            name=op.f("ck_attachments_one_parent"),
        ),
        _fk("attachments", ["equipment_id", "property_id"], "equipment", "CASCADE"),
        _fk("attachments", ["lease_id", "property_id"], "leases", "CASCADE"),
        _pk("attachments"),
    )
    op.create_index("ix_attachments_equipment_id", "attachments", ["equipment_id"])
    op.create_index("ix_attachments_lease_id", "attachments", ["lease_id"])
    op.create_index(op.f("ix_attachments_sha256"), "attachments", ["sha256"])


def _create_meters() -> None:
    op.create_table(
        "meter_points",
        _id(),
        sa.Column("property_id", sa.Integer(), nullable=False),
        sa.Column("building_id", sa.Integer(), nullable=True),
        sa.Column("unit_id", sa.Integer(), nullable=True),
        sa.Column("kind", sa.String(16), nullable=False),
        sa.Column("name", sa.String(200), nullable=False),
        _created_at(),
        _fk("meter_points", ["building_id", "property_id"], "buildings"),
        _fk("meter_points", ["property_id"], "properties"),
        _fk("meter_points", ["unit_id", "property_id"], "units"),
        _pk("meter_points"),
        _uq("meter_points", "id", "property_id"),
    )
    op.create_index("ix_meter_points_property_id", "meter_points", ["property_id"])
    op.create_index("ix_meter_points_unit_id", "meter_points", ["unit_id"])
    op.create_table(
        "meters",
        _id(),
        sa.Column("meter_point_id", sa.Integer(), nullable=False),
        sa.Column("property_id", sa.Integer(), nullable=False),
        sa.Column("serial", sa.String(100), nullable=False),
        sa.Column("manufacturer", sa.String(200), nullable=True),
        sa.Column("model", sa.String(200), nullable=True),
        sa.Column("multiplier", EXACT_DECIMAL, nullable=False),
        sa.Column("register_modulus", EXACT_DECIMAL, nullable=False),
        sa.Column("installed_at", UTC_TIME, nullable=False),
        sa.Column("initial_reading", EXACT_DECIMAL, nullable=False),
        sa.Column("removed_at", UTC_TIME, nullable=True),
        sa.Column("final_reading", EXACT_DECIMAL, nullable=True),
        sa.Column("gateway_id", sa.String(64), nullable=True),
        sa.Column("device_id", sa.String(64), nullable=True),
        sa.Column("point", sa.String(64), nullable=True),
        _created_at(),
        sa.ForeignKeyConstraint(
            ["gateway_id"],
            ["gateways.id"],
            name=op.f("fk_meters_gateway_id_gateways"),
            ondelete="SET NULL",
        ),
        _fk("meters", ["meter_point_id", "property_id"], "meter_points"),
        _pk("meters"),
    )
    op.create_index(
        "ix_meters_gateway_point", "meters", ["gateway_id", "device_id", "point"]
    )
    op.create_index(
        "ix_meters_in_service",
        "meters",
        ["meter_point_id"],
        unique=True,
        postgresql_where=sa.text("removed_at IS NULL"),
        sqlite_where=sa.text("removed_at IS NULL"),
    )
    op.create_index("ix_meters_property_id", "meters", ["property_id"])


def _create_audit_log() -> None:
    op.create_table(
        "audit_entries",
        sa.Column(
            "id",
            sa.BigInteger().with_variant(sa.Integer(), "sqlite"),
            nullable=False,
        ),
        sa.Column("organization_id", sa.Integer(), nullable=True),
        sa.Column("at", UTC_TIME, nullable=False),
        sa.Column("actor", sa.String(200), nullable=False),
        sa.Column("actor_user_id", sa.Integer(), nullable=True),
        sa.Column("action", sa.String(8), nullable=False),
        sa.Column("entity", sa.String(64), nullable=False),
        sa.Column("entity_id", sa.String(128), nullable=False),
        sa.Column("property_id", sa.Integer(), nullable=True),
        sa.Column("changes", JSON_DATA, nullable=False),
        _pk("audit_entries"),
    )
    op.create_index("ix_audit_entries_entity", "audit_entries", ["entity", "entity_id"])
    op.create_index(
        "ix_audit_entries_organization_id", "audit_entries", ["organization_id", "id"]
    )


def _place_gateways() -> None:
    with op.batch_alter_table("gateways") as batch:
        batch.add_column(sa.Column("building_id", sa.Integer(), nullable=True))
        batch.add_column(sa.Column("property_id", sa.Integer(), nullable=True))
        batch.create_index("ix_gateways_property_id", ["property_id"])
        batch.create_foreign_key(
            op.f("fk_gateways_building_id_buildings"),
            "buildings",
            ["building_id", "property_id"],
            ["id", "property_id"],
            ondelete="RESTRICT",
        )


def _grant_roles() -> None:
    """``users.role`` (org_admin or org_member) becomes ``is_org_admin``; members
    keep their login and get per-property roles from an administrator."""
    op.create_table(
        "role_grants",
        _id(),
        sa.Column("user_id", sa.Integer(), nullable=False),
        sa.Column("property_id", sa.Integer(), nullable=False),
        sa.Column("role", sa.String(32), nullable=False),
        _created_at(),
        _fk("role_grants", ["property_id"], "properties", "CASCADE"),
        sa.ForeignKeyConstraint(
            ["user_id"],
            ["users.id"],
            name=op.f("fk_role_grants_user_id_users"),
            ondelete="CASCADE",
        ),
        _pk("role_grants"),
        _uq("role_grants", "user_id", "property_id", "role"),
    )
    op.create_index(op.f("ix_role_grants_property_id"), "role_grants", ["property_id"])
    with op.batch_alter_table("users") as batch:
        batch.add_column(
            sa.Column(
                "is_org_admin", sa.Boolean(), server_default=sa.false(), nullable=False
            )
        )
        batch.add_column(sa.Column("person_id", sa.Integer(), nullable=True))
        batch.create_index(op.f("ix_users_person_id"), ["person_id"])
        batch.create_foreign_key(
            op.f("fk_users_person_id_people"),
            "people",
            ["person_id"],
            ["id"],
            ondelete="SET NULL",
        )
    op.execute("UPDATE users SET is_org_admin = (role = 'org_admin')")
    with op.batch_alter_table("users") as batch:
        batch.drop_column("role")


def downgrade() -> None:
    with op.batch_alter_table("users") as batch:
        batch.add_column(
            sa.Column(
                "role", sa.String(32), server_default="org_member", nullable=False
            )
        )
    op.execute("UPDATE users SET role = 'org_admin' WHERE is_org_admin")
    with op.batch_alter_table("users") as batch:
        batch.alter_column("role", server_default=None)
        batch.drop_constraint(op.f("fk_users_person_id_people"), type_="foreignkey")
        batch.drop_index(op.f("ix_users_person_id"))
        batch.drop_column("person_id")
        batch.drop_column("is_org_admin")
    with op.batch_alter_table("gateways") as batch:
        batch.drop_constraint(
            op.f("fk_gateways_building_id_buildings"), type_="foreignkey"
        )
        batch.drop_index("ix_gateways_property_id")
        batch.drop_column("property_id")
        batch.drop_column("building_id")
    # Indexes go with their tables; btree_gist stays, as other schemas may use it.
    for table in (
        "role_grants",
        "audit_entries",
        "meters",
        "meter_points",
        "attachments",
        "inspections",
        "equipment",
        "lease_units",
        "leases",
        "ownership_shares",
        "contacts",
        "people",
        "unit_status_changes",
        "units",
        "buildings",
        "properties",
    ):
        op.drop_table(table)
