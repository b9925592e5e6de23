"""CSV import of units, people, leases and equipment: all rows or none.

Every row goes through the same schema and service as the API, under the caller's
scope, in one transaction; rows refer to what exists by natural keys (property
code, building code, unit number, a person's external_ref). Any error in any row
rolls everything back, and the report lists each error with its line number
(the header is line 1) and column. A dry run does all of it and rolls back anyway.
"""

from __future__ import annotations

import csv
import io
import logging
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any

from cryptography.fernet import Fernet
from pydantic import BaseModel, ValidationError
from sqlalchemy.orm import Session

from cloud.models import Building, Person, Property, Unit
from cloud.schemas.equipment import EquipmentCreate
from cloud.schemas.leases import LeaseCreate
from cloud.schemas.people import PersonCreate
from cloud.schemas.properties import UnitCreate
from cloud.services import equipment, leases, people, properties
from cloud.services.access import Permission, Scope
from cloud.services.errors import CloudError

logger = logging.getLogger(__name__)

LIST_SEPARATOR = ";"


class ImportKind(StrEnum):
    UNITS = "units"
    PEOPLE = "people"
    LEASES = "leases"
    EQUIPMENT = "equipment"


@dataclass(frozen=True)
class RowError:
    line: int
    field: str | None
    message: str


@dataclass
class ImportReport:
    kind: ImportKind
    dry_run: bool
    rows: int = 0
    created: int = 0
    errors: list[RowError] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.errors


class _RowError(Exception):
    def __init__(self, field: str | None, message: str) -> None:
        super().__init__(message)
        self.field = field
        self.message = message


class _Lookup:
    """Natural keys to visible records, remembered for the rest of the file."""

    def __init__(self, session: Session, scope: Scope) -> None:
        self.session = session
        self.scope = scope
        self._properties: dict[str, Property] = {}
        self._buildings: dict[tuple[int, str], Building] = {}

    def property(self, code: str | None) -> Property:
        if not code:
            raise _RowError("property_code", "is required")
        if code not in self._properties:
            found = properties.property_by_code(self.session, self.scope, code)
            if found is None:
                raise _RowError("property_code", f"property {code!r} not found")
            self._properties[code] = found
        return self._properties[code]

    def building(self, property_code: str | None, code: str | None) -> Building:
        parent = self.property(property_code)
        if not code:
            raise _RowError("building_code", "is required")
        key = (parent.id, code)
        if key not in self._buildings:
            found = self.session.scalar(
                self.scope.visible(Building).where(
                    Building.property_id == parent.id, Building.code == code
                )
            )
            if found is None:
                raise _RowError(
                    "building_code",
                    f"building {code!r} not found in property {property_code!r}",
                )
            self._buildings[key] = found
        return self._buildings[key]

    def unit(self, building: Building, number: str, column: str) -> Unit:
        found = self.session.scalar(
            self.scope.visible(Unit).where(
                Unit.building_id == building.id, Unit.number == number
            )
        )
        if found is None:
            raise _RowError(
                column, f"unit {number!r} not found in building {building.code!r}"
            )
        return found

    def person(self, ref: str | None, column: str) -> Person:
        if not ref:
            raise _RowError(column, "is required")
        found = people.person_by_ref(self.session, self.scope, ref)
        if found is None:
            raise _RowError(column, f"person {ref!r} not found")
        return found


Row = dict[str, str]
Builder = Callable[[_Lookup, Row, Fernet], None]


@dataclass(frozen=True)
class ImportSpec:
    permission: Permission
    required: frozenset[str]
    optional: frozenset[str]
    build: Builder
    # Schema fields as the CSV columns that fill them, for error reports.
    columns_of: dict[str, str]

    @property
    def columns(self) -> frozenset[str]:
        return self.required | self.optional


def _cells(row: Row, *names: str) -> dict[str, str]:
    return {name: row[name] for name in names if row.get(name)}


def _validated(schema: type[BaseModel], values: dict[str, Any]) -> Any:
    return schema.model_validate(values)


def _build_unit(lookup: _Lookup, row: Row, _cipher: Fernet) -> None:
    building = lookup.building(row.get("property_code"), row.get("building_code"))
    values: dict[str, Any] = _cells(row, *_UNIT_FIELDS)
    body = _validated(UnitCreate, {**values, "building_id": building.id})
    properties.create_unit(lookup.session, lookup.scope, body)


_UNIT_FIELDS = (
    "number",
    "floor",
    "address",
    "gross_area_m2",
    "usable_area_m2",
    "layout",
    "use",
    "status",
)


def _build_person(lookup: _Lookup, row: Row, cipher: Fernet) -> None:
    home = lookup.property(row.get("property_code"))
    values: dict[str, Any] = _cells(row, *_PERSON_FIELDS)
    body = _validated(PersonCreate, {**values, "property_id": home.id})
    people.create_person(lookup.session, lookup.scope, cipher, body)


_PERSON_FIELDS = (
    "external_ref",
    "kind",
    "name",
    "email",
    "phone",
    "address",
    "identity_number",
)


def _build_lease(lookup: _Lookup, row: Row, _cipher: Fernet) -> None:
    building = lookup.building(row.get("property_code"), row.get("building_code"))
    numbers = [n.strip() for n in row.get("unit_numbers", "").split(LIST_SEPARATOR)]
    if not any(numbers):
        raise _RowError("unit_numbers", "is required")
    units = [lookup.unit(building, n, "unit_numbers") for n in numbers if n]
    tenant = lookup.person(row.get("tenant_ref"), "tenant_ref")
    values: dict[str, Any] = _cells(row, *_LEASE_FIELDS)
    values.update(unit_ids=[unit.id for unit in units], tenant_id=tenant.id)
    leases.create_lease(lookup.session, lookup.scope, _validated(LeaseCreate, values))


_LEASE_FIELDS = (
    "reference",
    "start_date",
    "end_date",
    "rent",
    "rent_period",
    "currency",
    "deposit",
    "status",
)


def _build_equipment(lookup: _Lookup, row: Row, _cipher: Fernet) -> None:
    where: dict[str, Any] = {
        "property_id": lookup.property(row.get("property_code")).id
    }
    if row.get("building_code"):
        building = lookup.building(row.get("property_code"), row["building_code"])
        where["building_id"] = building.id
        if row.get("unit_number"):
            unit = lookup.unit(building, row["unit_number"], "unit_number")
            where["unit_id"] = unit.id
    elif row.get("unit_number"):
        raise _RowError("building_code", "is needed to find unit_number")
    values: dict[str, Any] = _cells(row, *_EQUIPMENT_FIELDS)
    body = _validated(EquipmentCreate, {**values, **where})
    equipment.create_equipment(lookup.session, lookup.scope, body)


_EQUIPMENT_FIELDS = (
    "floor",
    "category",
    "name",
    "manufacturer",
    "model",
    "serial",
    "purchase_date",
    "installed_on",
    "warranty_until",
    "status",
)

SPECS: dict[ImportKind, ImportSpec] = {
    ImportKind.UNITS: ImportSpec(
        permission=Permission.PROPERTIES_WRITE,
        required=frozenset({"property_code", "building_code", "number"}),
        optional=frozenset(_UNIT_FIELDS) - {"number"},
        build=_build_unit,
        columns_of={"building_id": "building_code"},
    ),
    ImportKind.PEOPLE: ImportSpec(
        permission=Permission.PEOPLE_WRITE,
        required=frozenset({"external_ref", "property_code", "name"}),
        optional=frozenset(_PERSON_FIELDS) - {"external_ref", "name"},
        build=_build_person,
        columns_of={"property_id": "property_code"},
    ),
    ImportKind.LEASES: ImportSpec(
        permission=Permission.LEASES_WRITE,
        required=frozenset(
            {
                "reference",
                "property_code",
                "building_code",
                "unit_numbers",
                "tenant_ref",
                "start_date",
                "rent",
            }
        ),
        optional=frozenset(_LEASE_FIELDS) - {"reference", "start_date", "rent"},
        build=_build_lease,
        columns_of={"unit_ids": "unit_numbers", "tenant_id": "tenant_ref"},
    ),
    ImportKind.EQUIPMENT: ImportSpec(
        permission=Permission.EQUIPMENT_WRITE,
        required=frozenset({"property_code", "category", "name"}),
        optional=frozenset(_EQUIPMENT_FIELDS) - {"category", "name"}
        | {"building_code", "unit_number"},
        build=_build_equipment,
        columns_of={
            "property_id": "property_code",
            "building_id": "building_code",
            "unit_id": "unit_number",
            "parent_id": "parent",
        },
    ),
}


def run_import(
    session: Session,
    scope: Scope,
    cipher: Fernet,
    kind: ImportKind,
    content: bytes,
    *,
    dry_run: bool,
) -> ImportReport:
    """Import every row of ``content`` or none; commits only a clean, real run."""
    spec = SPECS[kind]
    scope.require(spec.permission)
    report = ImportReport(kind=kind, dry_run=dry_run)
    try:
        _import_rows(session, scope, cipher, spec, content, report)
    except BaseException:
        session.rollback()
        raise
    if report.ok and not dry_run:
        session.commit()
    else:
        session.rollback()
    if not report.ok:
        report.created = 0
    logger.info(
        "Import of %s (%s): %d rows, %d created, %d errors",
        kind,
        "dry run" if dry_run else "for real",
        report.rows,
        report.created,
        len(report.errors),
    )
    return report


def _import_rows(
    session: Session,
    scope: Scope,
    cipher: Fernet,
    spec: ImportSpec,
    content: bytes,
    report: ImportReport,
) -> None:
    lookup = _Lookup(session, scope)
    for line, row in _rows(spec, content, report):
        report.rows += 1
        try:
            spec.build(lookup, row, cipher)
        except _RowError as exc:
            report.errors.append(RowError(line, exc.field, exc.message))
        except ValidationError as exc:
            report.errors.extend(_validation_errors(line, exc, spec))
        except CloudError as exc:
            column = spec.columns_of.get(exc.field or "", exc.field)
            report.errors.append(RowError(line, column, exc.message))
        else:
            report.created += 1
        if not session.in_transaction():
            report.errors.append(
                RowError(line, None, "the import stopped here: the database refused")
            )
            return


def _validation_errors(
    line: int, exc: ValidationError, spec: ImportSpec
) -> Iterator[RowError]:
    for error in exc.errors(include_url=False):
        name = str(error["loc"][0]) if error["loc"] else None
        column = spec.columns_of.get(name or "", name)
        yield RowError(line, column, error["msg"])


def _rows(
    spec: ImportSpec, content: bytes, report: ImportReport
) -> Iterator[tuple[int, Row]]:
    """(line number, cells by column) of each non-blank row; header problems go
    into the report and end the file."""
    try:
        text = content.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        report.errors.append(
            RowError(1, None, f"the file is not UTF-8 text (byte {exc.start})")
        )
        return
    if "\x00" in text:
        line = text.count("\n", 0, text.index("\x00")) + 1
        report.errors.append(RowError(line, None, "holds a NUL character"))
        return
    reader = csv.reader(io.StringIO(text, newline=""))
    header = [name.strip().lower() for name in next(reader, [])]
    if not _header_ok(spec, header, report):
        return
    line = reader.line_num
    try:
        for cells in reader:
            start, line = line + 1, reader.line_num
            if not any(cell.strip() for cell in cells):
                continue
            if len(cells) != len(header):
                report.errors.append(
                    RowError(
                        start,
                        None,
                        f"has {len(cells)} cells; the header has {len(header)}",
                    )
                )
                continue
            yield (
                start,
                {name: cell.strip() for name, cell in zip(header, cells, strict=True)},
            )
    except csv.Error as exc:
        report.errors.append(RowError(reader.line_num, None, f"bad CSV: {exc}"))


def _header_ok(spec: ImportSpec, header: list[str], report: ImportReport) -> bool:
    errors = [
        RowError(1, name, "is not a column of this import")
        for name in header
        if name not in spec.columns
    ]
    errors += [
        RowError(1, name, "column is missing")
        for name in sorted(spec.required - set(header))
    ]
    duplicates = sorted({name for name in header if header.count(name) > 1})
    errors += [RowError(1, name, "column appears twice") for name in duplicates]
    report.errors.extend(errors)
    return not errors
