import os
import ssl
import stat
import subprocess
import sys
from pathlib import Path

import httpx
import pytest
import trustme
from fastapi.testclient import TestClient
from typer.testing import CliRunner

from cloud.cli import app
from cloud.main import create_app
from cloud.services.migrations import head_revision
from cloud.settings import Settings
from tests.cloud.helpers import fresh_id, login
from tests.conftest import free_port, wait_for_port

runner = CliRunner()


def _cli(database_url: str, tmp_path: Path, *args: str) -> tuple[int, str]:
    common = ["--data-dir", str(tmp_path / "data"), "--database-url", database_url]
    result = runner.invoke(app, [*args, *common])
    return result.exit_code, result.output


def test_commands_refuse_an_unmigrated_database(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'empty.db'}"

    code, output = _cli(url, tmp_path, "gateway", "add", "gw-1")

    assert code == 1
    assert "Run `pams-cloud migrate`" in output


def test_migrate_admin_and_gateway(database_url: str, tmp_path: Path) -> None:
    gateway_id = fresh_id("gw")
    token_file = tmp_path / "secrets" / "gateway.token"
    email = f"{fresh_id('root')}@example.org"

    migrated = _cli(database_url, tmp_path, "migrate")
    admin = _cli(
        database_url,
        tmp_path,
        "admin",
        "create",
        "--email",
        email,
        "--password",
        "pw-1234567",
    )
    org_id = admin[1].rsplit("(", 1)[1].split(")")[0]
    added = _cli(
        database_url,
        tmp_path,
        "gateway",
        "add",
        gateway_id,
        "--organization-id",
        org_id,
        "--token-file",
        str(token_file),
    )
    again = _cli(
        database_url,
        tmp_path,
        "gateway",
        "add",
        gateway_id,
        "--organization-id",
        org_id,
    )

    assert migrated == (0, f"Database schema is at revision {head_revision()}.\n")
    assert admin[0] == 0, admin[1]
    assert added[0] == 0, added[1]
    assert token_file.read_text(encoding="utf-8").startswith("pgw_")
    assert stat.S_IMODE(token_file.stat().st_mode) == 0o600
    assert again == (1, f"A gateway with id {gateway_id!r} already exists.\n")


def test_gateway_id_is_checked(tmp_path: Path) -> None:
    code, output = _cli(
        f"sqlite:///{tmp_path / 'x.db'}", tmp_path, "gateway", "add", "a b"
    )

    assert code == 2
    assert "String should match pattern" in output


def test_serve_refuses_outdated_schema_then_serves_tls(
    tmp_path: Path,
) -> None:
    command = [sys.executable, "-m", "cloud.cli", "serve", "--data-dir", str(tmp_path)]
    env = {**os.environ, "PYTHONPATH": str(Path(__file__).parents[2])}
    authority = trustme.CA()
    certificate = authority.issue_cert("127.0.0.1")
    certificate.private_key_pem.write_to_path(str(tmp_path / "key.pem"))
    certificate.cert_chain_pems[0].write_to_path(str(tmp_path / "cert.pem"))
    tls = ["--ssl-certfile", str(tmp_path / "cert.pem")]
    tls += ["--ssl-keyfile", str(tmp_path / "key.pem")]

    refused = subprocess.run(
        command, capture_output=True, text=True, env=env, timeout=60
    )
    port = free_port()
    options = ["--migrate", "--port", str(port), *tls]
    server = subprocess.Popen([*command, *options, "--log-level", "warning"], env=env)
    try:
        wait_for_port(port, timeout_s=30)
        context = ssl.create_default_context()
        authority.configure_trust(context)
        health = httpx.get(f"https://127.0.0.1:{port}/health", verify=context)
    finally:
        server.terminate()
        server.wait(timeout=10)

    assert refused.returncode == 1
    assert "none (empty database)" in refused.stderr
    assert health.json() == {"status": "ok", "database": "ok"}


def test_worker_processes_build_the_app_from_the_environment(
    migrated: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    """What `serve --workers N` hands each worker: settings in PAMS_CLOUD_*."""
    monkeypatch.setenv("PAMS_CLOUD_DATA_DIR", str(migrated.data_dir))
    monkeypatch.setenv("PAMS_CLOUD_DATABASE_URL", migrated.resolved_database_url)
    monkeypatch.setenv("PAMS_CLOUD_TUNE_GC", "false")

    worker_app = create_app()

    with TestClient(worker_app) as client:
        assert client.get("/health").json() == {"status": "ok", "database": "ok"}
    assert worker_app.state.pams.settings.data_dir == migrated.data_dir


@pytest.mark.parametrize(
    ("email", "password", "reason"),
    [
        pytest.param(
            "not-an-email",
            "long enough",
            "Email address 'not-an-email' is not valid: An email address must have "
            "an @-sign.",
            id="email",
        ),
        pytest.param(
            "ok@example.org",
            "short",
            "The password has 5 characters; at least 8 are needed.",
            id="password",
        ),
    ],
)
def test_admin_create_refuses_bad_input_with_reason(
    migrated: Settings, tmp_path: Path, email: str, password: str, reason: str
) -> None:
    code, output = _cli(
        migrated.resolved_database_url,
        tmp_path,
        "admin",
        "create",
        "--email",
        email,
        "--password",
        password,
    )

    assert (code, output) == (1, reason + "\n")


def test_a_manager_is_set_up_from_the_command_line(
    migrated: Settings, tmp_path: Path
) -> None:
    """What the README shows: first administrator, a property, its manager."""
    url = migrated.resolved_database_url
    email = f"{fresh_id('root')}@example.org"
    manager = f"{fresh_id('manager')}@example.org"
    admin = _cli(
        url, tmp_path, "admin", "create", "--email", email, "--password", "pw-1234567"
    )
    assert admin[0] == 0, admin[1]
    app = create_app(migrated)
    with TestClient(app) as client:
        root = login(client, email, "pw-1234567")
        org = client.get("/api/v1/users/me", headers=root).json()["organization_id"]
        code = fresh_id("P")
        client.post(
            "/api/v1/properties",
            json={"code": code, "name": "Tower", "kind": "office"},
            headers=root,
        )
        org_option = ("--organization-id", str(org))
        made = _cli(
            url,
            tmp_path,
            "user",
            "create",
            "--email",
            manager,
            "--password",
            "pw-7654321",
            "--role",
            "property_manager",
            "--property",
            code,
            *org_option,
        )
        granted = _cli(
            url,
            tmp_path,
            "user",
            "grant",
            "--email",
            manager,
            "--role",
            "accountant",
            "--property",
            code,
            *org_option,
        )
        wrong = _cli(
            url,
            tmp_path,
            "user",
            "grant",
            "--email",
            manager,
            "--role",
            "janitor",
            "--property",
            code,
            *org_option,
        )
        me = client.get(
            "/api/v1/users/me", headers=login(client, manager, "pw-7654321")
        ).json()
        seen = client.get(
            "/api/v1/properties", headers=login(client, manager, "pw-7654321")
        ).json()

    assert made[0] == 0, made[1]
    assert f"they now hold property_manager on property {code}." in made[1]
    assert granted[0] == 0, granted[1]
    assert wrong[0] == 2
    assert "Input should be 'property_manager'" in wrong[1]
    assert sorted(g["role"] for g in me["grants"]) == ["accountant", "property_manager"]
    assert [p["code"] for p in seen["data"]] == [code]
