"""``pams-cloud``: migrate the database, create the first administrator, register
gateways, and serve the API."""

from __future__ import annotations

import logging
import os
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer
from pydantic import ValidationError

from cloud.settings import Settings, SettingsError

if TYPE_CHECKING:
    from sqlalchemy.orm import Session

logger = logging.getLogger(__name__)

app = typer.Typer(help="The cloud service.", no_args_is_help=True)
admin_app = typer.Typer(help="Administrators.", no_args_is_help=True)
gateway_app = typer.Typer(help="Building gateways.", no_args_is_help=True)
app.add_typer(admin_app, name="admin")
app.add_typer(gateway_app, name="gateway")

DataDirOption = Annotated[
    Path | None,
    typer.Option(help="Data folder (default ./var/cloud, or PAMS_CLOUD_DATA_DIR)."),
]
DatabaseUrlOption = Annotated[
    str | None,
    typer.Option(help="SQLAlchemy URL (default SQLite in the data folder)."),
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
    from cloud.services.security import password_hasher

    settings = _settings(data_dir, database_url)
    with _session(settings) as session:
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
    organization_id: Annotated[
        int | None,
        typer.Option(help="Owning organization; needed when there are several."),
    ] = None,
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
        org = _organization_id(session, organization_id)
        issued = gateways.create_gateway(
            session, organization_id=org, gateway_id=gateway_id, name=name
        )
    if token_file is None:
        typer.echo(issued.token)
        return
    _write_secret(token_file, issued.token)
    typer.echo(f"Gateway {gateway_id} registered; token written to {token_file}.")


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
