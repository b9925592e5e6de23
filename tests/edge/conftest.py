"""A real cloud for gateway tests: ``pams-cloud serve`` in a process of its own.

Stopping that process is a real outage for the gateway: connections are refused until
it is started again on the same port.
"""

from __future__ import annotations

import os
import ssl
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.conftest import free_port

ADMIN = ("admin@example.com", "correct horse battery")
GATEWAY = "gw-test"


class CloudProcess:
    def __init__(self, data_dir: Path, database_url: str | None = None) -> None:
        self.data_dir = data_dir
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self._common = ["--data-dir", str(data_dir)]
        if database_url:
            self._common += ["--database-url", database_url]
        self._env = {**os.environ, "PAMS_CLOUD_ARGON2_PROFILE": "cheapest"}
        self._process: subprocess.Popen[bytes] | None = None
        self._tls: list[str] = []
        self._ca_file: str | None = None
        self._cli("migrate")
        self._cli("admin", "create", "--email", ADMIN[0], "--password", ADMIN[1])

    def _cli(self, *args: str, extra_env: dict[str, str] | None = None) -> str:
        done = subprocess.run(
            [sys.executable, "-m", "cloud.cli", *args, *self._common],
            capture_output=True,
            text=True,
            check=False,
            env={**self._env, **(extra_env or {})},
        )
        assert done.returncode == 0, done.stderr
        return done.stdout

    @property
    def _verify(self) -> ssl.SSLContext | bool:
        if self._ca_file is None:
            return True
        return ssl.create_default_context(cafile=self._ca_file)

    def add_gateway(self, gateway_id: str) -> str:
        token_file = self.data_dir / f"{gateway_id}.token"
        self._cli("gateway", "add", gateway_id, "--token-file", str(token_file))
        return token_file.read_text(encoding="utf-8").strip()

    def serve_tls(self, certfile: Path, keyfile: Path, ca_file: Path) -> None:
        """Serve HTTPS with this certificate from now on (takes effect at start)."""
        self._tls = ["--ssl-certfile", str(certfile), "--ssl-keyfile", str(keyfile)]
        self._ca_file = str(ca_file)
        self.url = f"https://127.0.0.1:{self.port}"

    def start(self, **env: str) -> None:
        self._process = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "cloud.cli",
                "serve",
                "--port",
                str(self.port),
                "--log-level",
                "warning",
                *self._tls,
                *self._common,
            ],
            env={**self._env, **env},
        )
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            try:
                health = httpx.get(
                    f"{self.url}/health", timeout=0.5, verify=self._verify
                )
                if health.status_code == 200:
                    return
            except httpx.HTTPError:
                time.sleep(0.1)
        raise TimeoutError("the cloud did not start")

    def stop(self) -> None:
        if self._process is not None:
            self._process.terminate()
            self._process.wait(timeout=15)
            self._process = None

    def stats(self, gateway_id: str) -> dict[str, Any]:
        with httpx.Client(base_url=self.url, timeout=10, verify=self._verify) as client:
            login = client.post(
                "/api/v1/auth/token", data={"username": ADMIN[0], "password": ADMIN[1]}
            )
            login.raise_for_status()
            headers = {"Authorization": f"Bearer {login.json()['access_token']}"}
            answer = client.get(f"/api/v1/gateways/{gateway_id}/stats", headers=headers)
            answer.raise_for_status()
            return dict(answer.json())


@pytest.fixture
def cloud(tmp_path: Path) -> Iterator[CloudProcess]:
    process = CloudProcess(tmp_path / "cloud")
    try:
        yield process
    finally:
        process.stop()


@pytest.fixture
def token(cloud: CloudProcess, monkeypatch: pytest.MonkeyPatch) -> str:
    """Registers GATEWAY with the cloud; the gateway reads it from PAMS_EDGE_TOKEN."""
    value = cloud.add_gateway(GATEWAY)
    monkeypatch.setenv("PAMS_EDGE_TOKEN", value)
    return value
