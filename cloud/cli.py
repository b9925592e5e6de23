"""``pams-cloud``: migrate the database, create the first administrator and other
users, register gateways, import CSV files, and serve the API."""

from __future__ import annotations

import logging
import os
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer
from pydantic import BaseModel, ValidationError

from cloud.settings import Settings, SettingsError

if TYPE_CHECKING:
    from sqlalchemy.orm import Session

    from cloud.services.access import Scope

_PROPERTY_ROLES = "property_manager, accountant, technician, owner, tenant"
_PROPERTY_ROLES_HELP = f"One of {_PROPERTY_ROLES}."
_IMPORT_KINDS_HELP = "units, people, leases or equipment"

logger = logging.getLogger(__name__)

app = typer.Typer(help="The cloud service.", no_args_is_help=True)
admin_app = typer.Typer(help="Administrators.", no_args_is_help=True)
user_app = typer.Typer(
    help="Users and their roles on properties.", no_args_is_help=True
)
gateway_app = typer.Typer(help="Building gateways.", no_args_is_help=True)
app.add_typer(admin_app, name="admin")
app.add_typer(user_app, name="user")
app.add_typer(gateway_app, name="gateway")

DataDirOption = Annotated[
    Path | None,
    typer.Option(help="Data folder (default ./var/cloud, or PAMS_CLOUD_DATA_DIR)."),
]
DatabaseUrlOption = Annotated[
    str | None,
    typer.Option(help="SQLAlchemy URL (default SQLite in the data folder)."),
]
OrganizationOption = Annotated[
    int | None,
    typer.Option(help="The organization; needed when there are several."),
]


def _settings(
    data_dir: Path | None, database_url: str | None, **extra: Any
) -> Settings:
    overrides: dict[str, Any] = {
        key: value
        for key, value in {"data_dir": data_dir, "database_url": database_url}.items()
        if value is not None
    }
    try:
        return Settings(**overrides, **extra)
    except (SettingsError, ValueError) as exc:
        raise typer.BadParameter(str(exc)) from exc


def _fail(message: str) -> typer.Exit:
    typer.secho(message, err=True, fg=typer.colors.RED)
    return typer.Exit(code=1)


@app.command()
def version() -> None:
    """Print the version."""
    typer.echo("pams-cloud 0.1.0")


@app.command()
def migrate(
    data_dir: DataDirOption = None,
    database_url: DatabaseUrlOption = None,
    revision: Annotated[str, typer.Option(help="Target revision.")] = "head",
) -> None:
    """Upgrade the database schema (creates it on an empty database)."""
    from cloud.db import create_db_engine
    from cloud.services import migrations

    settings = _settings(data_dir, database_url)
    engine = create_db_engine(settings.resolved_database_url)
    try:
        migrations.upgrade(engine, revision)
        current = migrations.current_revision(engine)
    finally:
        engine.dispose()
    typer.echo(f"Database schema is at revision {current}.")


@admin_app.command("create")
def admin_create(
    email: Annotated[str, typer.Option(prompt=True)],
    password: Annotated[
        str, typer.Option(prompt=True, hide_input=True, confirmation_prompt=True)
    ],
    organization: Annotated[
        str, typer.Option(help="Name of the organization to create.")
    ] = "PAMS",
    data_dir: DataDirOption = None,
    database_url: DatabaseUrlOption = None,
) -> None:
    """Create an organization and its first administrator."""
    from cloud.services import accounts
    from cloud.services.audit import Actor, act_as
    from cloud.services.security import password_hasher

    settings = _settings(data_dir, database_url)
    with _session(settings) as session:
        act_as(session, Actor(label="command: admin create"))
        user = accounts.create_organization_with_admin(
            session,
            password_hasher(settings.argon2_profile),
            organization_name=organization,
            email=email,
            password=password,
        )
        typer.echo(
            f"Created administrator {user.email} (user {user.id}) of organization "
            f"{organization!r} ({user.organization_id})."
        )


@gateway_app.command("add")
def gateway_add(
    gateway_id: Annotated[str, typer.Argument(metavar="ID")],
    name: Annotated[str, typer.Option(help="Human name of the gateway.")] = "",
    organization_id: OrganizationOption = None,
    token_file: Annotated[
        Path | None,
        typer.Option(help="Write the token here (mode 0600) instead of printing it."),
    ] = None,
    data_dir: DataDirOption = None,
    database_url: DatabaseUrlOption = None,
) -> None:
    """Register a gateway and print its token, which is shown only this once."""
    from cloud.schemas.gateways import GatewayCreate
    from cloud.services import gateways

    try:
        GatewayCreate(id=gateway_id, name=name)  # the same rules as the API
    except ValidationError as exc:
        message = exc.errors()[0]["msg"]
        raise typer.BadParameter(message, param_hint="ID") from exc
    settings = _settings(data_dir, database_url)
    with _session(settings) as session:
        _system_scope(session, organization_id, "gateway add")
        org = _organization_id(session, organization_id)
        issued = gateways.create_gateway(
            session, organization_id=org, gateway_id=gateway_id, name=name
        )
        session.commit()
    if token_file is None:
        typer.echo(issued.token)
        return
    _write_secret(token_file, issued.token)
    typer.echo(f"Gateway {gateway_id} registered; token written to {token_file}.")


@user_app.command("create")
def user_create(
    email: Annotated[str, typer.Option(prompt=True)],
    password: Annotated[
        str, typer.Option(prompt=True, hide_input=True, confirmation_prompt=True)
    ],
    role: Annotated[
        str | None,
        typer.Option(help="A role to grant on --property: " + _PROPERTY_ROLES + "."),
    ] = None,
    property_code: Annotated[
        str | None, typer.Option("--property", help="The property's code.")
    ] = None,
    full_name: Annotated[str | None, typer.Option(help="The user's name.")] = None,
    person: Annotated[
        str | None,
        typer.Option(help="external_ref of the owner or tenant this user is."),
    ] = None,
    organization_id: OrganizationOption = None,
    data_dir: DataDirOption = None,
    database_url: DatabaseUrlOption = None,
) -> None:
    """Create a user, optionally with a role on one property."""
    from cloud.schemas.users import UserCreate
    from cloud.services import people, users
    from cloud.services.security import password_hasher

    settings = _settings(data_dir, database_url)
    with _session(settings) as session:
        scope = _system_scope(session, organization_id, "user create")
        person_id = None
        if person is not None:
            found = people.person_by_ref(session, scope, person)
            if found is None:
                raise _fail(f"No person has external_ref {person!r}.")
            person_id = found.id
        body = _checked(
            UserCreate,
            email=email,
            password=password,
            full_name=full_name,
            person_id=person_id,
        )
        user = users.create_user(
            session, scope, password_hasher(settings.argon2_profile), body
        )
        granted = _grant(session, scope, user.id, role, property_code)
        session.commit()
    held = f"; they now hold {granted}" if granted else ""
    typer.echo(f"Created user {user.email} (user {user.id}){held}.")


@user_app.command("grant")
def user_grant(
    email: Annotated[str, typer.Option(help="The user's email.")],
    role: Annotated[str, typer.Option(help=_PROPERTY_ROLES_HELP)],
    property_code: Annotated[str, typer.Option("--property", help="Property code.")],
    organization_id: OrganizationOption = None,
    data_dir: DataDirOption = None,
    database_url: DatabaseUrlOption = None,
) -> None:
    """Grant a user a role on a property."""
    from cloud.models import User
    from cloud.services.accounts import normalize_email

    settings = _settings(data_dir, database_url)
    with _session(settings) as session:
        scope = _system_scope(session, organization_id, "user grant")
        user = session.scalar(
            scope.visible(User).where(User.email == normalize_email(email))
        )
        if user is None:
            raise _fail(f"No user has email {email!r}.")
        granted = _grant(session, scope, user.id, role, property_code)
        session.commit()
    typer.echo(f"User {user.email} now holds {granted}.")


def _grant(
    session: Session,
    scope: Scope,
    user_id: int,
    role: str | None,
    property_code: str | None,
) -> str:
    from cloud.schemas.users import GrantCreate
    from cloud.services import properties, users

    if role is None and property_code is None:
        return ""
    if role is None or property_code is None:
        raise typer.BadParameter("--role and --property go together.")
    found = properties.property_by_code(session, scope, property_code)
    if found is None:
        raise _fail(f"No property has code {property_code!r}.")
    body = _checked(GrantCreate, property_id=found.id, role=role)
    users.grant_role(session, scope, user_id, body)
    return f"{role} on property {property_code}"


@app.command("import")
def import_csv(
    kind: Annotated[str, typer.Argument(metavar="KIND", help=_IMPORT_KINDS_HELP)],
    file: Annotated[Path, typer.Argument(metavar="FILE", exists=True, dir_okay=False)],
    dry_run: Annotated[
        bool, typer.Option("--dry-run", help="Check every row, keep nothing.")
    ] = False,
    organization_id: OrganizationOption = None,
    data_dir: DataDirOption = None,
    database_url: DatabaseUrlOption = None,
) -> None:
    """Import a CSV file of units, people, leases or equipment: every row or none."""
    from cloud.services import imports
    from cloud.services.crypto import identity_cipher

    try:
        import_kind = imports.ImportKind(kind)
    except ValueError:
        raise typer.BadParameter(
            f"{kind!r} is not one of {_IMPORT_KINDS_HELP}.", param_hint="KIND"
        ) from None
    settings = _settings(data_dir, database_url)
    with _session(settings) as session:
        scope = _system_scope(session, organization_id, f"import {kind} {file.name}")
        report = imports.run_import(
            session,
            scope,
            identity_cipher(settings.signing_key()),
            import_kind,
            file.read_bytes(),
            dry_run=dry_run,
        )
    for error in report.errors:
        column = f" {error.field}" if error.field else ""
        typer.secho(f"line {error.line}{column}: {error.message}", err=True)
    if not report.ok:
        raise _fail(f"{len(report.errors)} errors in {file}; nothing was imported.")
    verb = "would create" if dry_run else "created"
    typer.echo(f"{report.rows} rows checked; {verb} {report.created} {kind}.")


def _checked(schema: type[BaseModel], **values: Any) -> Any:
    """Validate like the API does, and report the first problem as an option's."""
    try:
        return schema.model_validate(values)
    except ValidationError as exc:
        error = exc.errors()[0]
        field = ".".join(str(part) for part in error["loc"])
        raise typer.BadParameter(error["msg"], param_hint=field) from exc


def _system_scope(session: Session, wanted: int | None, label: str) -> Scope:
    """A command acts for its whole organization, recorded in the audit log."""
    from cloud.services.access import Scope

    scope = Scope.system(_organization_id(session, wanted), label=f"pams-cloud {label}")
    scope.bind(session)
    return scope


def _organization_id(session: Session, wanted: int | None) -> int:
    import sqlalchemy as sa

    from cloud.models import Organization

    ids = list(session.scalars(sa.select(Organization.id).order_by(Organization.id)))
    if wanted is not None:
        if wanted not in ids:
            raise _fail(f"Organization {wanted} does not exist.")
        return wanted
    if len(ids) == 1:
        return int(ids[0])
    if not ids:
        raise _fail("No organization yet: run `pams-cloud admin create` first.")
    raise _fail(
        f"There are {len(ids)} organizations; choose one with --organization-id."
    )


def _write_secret(path: Path, secret: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    os.fchmod(fd, 0o600)  # O_CREAT's mode does not apply to a file that existed
    with os.fdopen(fd, "w", encoding="utf-8") as file:
        file.write(secret + "\n")


@contextmanager
def _session(settings: Settings) -> Iterator[Session]:
    """A session on a database at the head schema; service errors become exit 1."""
    from cloud.db import create_db_engine, make_session_factory
    from cloud.services import migrations
    from cloud.services.errors import CloudError

    engine = create_db_engine(settings.resolved_database_url)
    try:
        migrations.ensure_current(engine, migrate=False)
        with make_session_factory(engine)() as session:
            yield session
    except migrations.SchemaOutdatedError as exc:
        raise _fail(str(exc)) from exc
    except CloudError as exc:
        raise _fail(exc.message) from exc
    finally:
        engine.dispose()


@app.command("jobs")
def run_jobs(
    data_dir: DataDirOption = None,
    database_url: DatabaseUrlOption = None,
) -> None:
    """Run the maintenance jobs once (plans, statutory inspections, round tasks,
    missed rounds, SLA warnings, notices); call it from a timer, e.g. every minute."""
    from datetime import UTC, datetime

    from cloud.services import maintenance

    with _session(_settings(data_dir, database_url)) as session:
        done = maintenance.run_jobs(session, now=datetime.now(UTC))
    typer.echo(
        f"{done.plan_orders} plan orders, {done.inspection_orders} inspection "
        f"orders, {done.round_tasks} round tasks, {done.rounds_flagged} rounds "
        f"flagged, {done.sla_alerts} SLA alerts, {done.notices_published} notices "
        "published"
    )


@app.command()
def serve(
    host: Annotated[str, typer.Option(help="Address to listen on.")] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="Port to listen on.")] = 8000,
    data_dir: DataDirOption = None,
    database_url: DatabaseUrlOption = None,
    migrate: Annotated[
        bool, typer.Option("--migrate", help="Upgrade an outdated schema first.")
    ] = False,
    workers: Annotated[
        int, typer.Option(min=1, help="Worker processes (each its own app).")
    ] = 1,
    ssl_certfile: Annotated[Path | None, typer.Option(help="TLS certificate.")] = None,
    ssl_keyfile: Annotated[Path | None, typer.Option(help="TLS private key.")] = None,
    log_level: Annotated[str, typer.Option(help="uvicorn log level.")] = "info",
) -> None:
    """Serve the API with uvicorn."""
    import uvicorn

    from cloud.main import create_app
    from cloud.services.migrations import SchemaOutdatedError

    extra = {"migrate_on_start": True} if migrate else {}
    settings = _settings(data_dir, database_url, tune_gc=True, **extra)
    logging.basicConfig(
        level=log_level.upper(), format="%(levelname)s %(name)s %(message)s"
    )
    # Checked (and migrated) here, once, before any worker starts; this also creates
    # the signing key, so workers never race to generate it.
    try:
        application = create_app(settings)
    except SchemaOutdatedError as exc:
        raise _fail(str(exc)) from exc
    options: dict[str, Any] = {
        "host": host,
        "port": port,
        "ssl_certfile": str(ssl_certfile) if ssl_certfile else None,
        "ssl_keyfile": str(ssl_keyfile) if ssl_keyfile else None,
        "log_level": log_level,
    }
    if workers == 1:
        uvicorn.run(application, **options)
        return
    application.state.pams.engine.dispose()
    # Worker processes build their own app from the environment.
    os.environ["PAMS_CLOUD_DATA_DIR"] = str(settings.data_dir)
    os.environ["PAMS_CLOUD_DATABASE_URL"] = settings.resolved_database_url
    os.environ["PAMS_CLOUD_MIGRATE_ON_START"] = "false"
    os.environ["PAMS_CLOUD_TUNE_GC"] = "true"
    uvicorn.run("cloud.main:create_app", factory=True, workers=workers, **options)


if __name__ == "__main__":
    app()
