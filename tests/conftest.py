"""Fixtures shared by the whole test tree: free ports, PostgreSQL, a real MQTT broker.

PostgreSQL: ``PAMS_TEST_DATABASE_URL`` names a server database (CI sets it); each test
session creates its own throw-away database there and drops it at the end, so parallel
workers never see each other's rows. Without the variable the PostgreSQL cases skip,
unless ``PAMS_TEST_REQUIRE_POSTGRES=1`` (CI), where they fail instead.

MQTT: a private ``mosquitto`` on a free loopback port when the binary is installed,
otherwise an embedded amqtt broker; ``PAMS_TEST_REQUIRE_MOSQUITTO=1`` (CI) turns the
fallback into a failure.
"""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest


def free_port() -> int:
    """A TCP port on 127.0.0.1 that nothing listens on right now."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def wait_for_port(port: int, timeout_s: float = 10.0) -> None:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.2):
                return
        except OSError:
            time.sleep(0.05)
    raise TimeoutError(f"nothing listens on 127.0.0.1:{port} after {timeout_s} s")


# --- PostgreSQL -------------------------------------------------------------------


def _require(flag: str) -> bool:
    return os.environ.get(flag, "") not in ("", "0", "false")


@pytest.fixture(scope="session")
def postgres_url() -> Iterator[str]:
    """URL of a fresh, empty PostgreSQL database for this test session."""
    base = os.environ.get("PAMS_TEST_DATABASE_URL")
    if not base:
        if _require("PAMS_TEST_REQUIRE_POSTGRES"):
            pytest.fail(
                "PAMS_TEST_REQUIRE_POSTGRES is set but PAMS_TEST_DATABASE_URL is not"
            )
        pytest.skip("PAMS_TEST_DATABASE_URL is not set; PostgreSQL cases skipped")
    import sqlalchemy as sa

    name = f"pams_test_{uuid.uuid4().hex[:12]}"
    admin = sa.create_engine(base, isolation_level="AUTOCOMMIT")
    try:
        with admin.connect() as conn:
            conn.execute(sa.text(f'CREATE DATABASE "{name}"'))
    except sa.exc.OperationalError as exc:
        if _require("PAMS_TEST_REQUIRE_POSTGRES"):
            raise
        pytest.skip(f"PostgreSQL at {base} is unreachable: {exc}")
    url = sa.make_url(base).set(database=name)
    try:
        yield url.render_as_string(hide_password=False)
    finally:
        with admin.connect() as conn:
            conn.execute(sa.text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


@pytest.fixture(params=["sqlite", "postgres"])
def database_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """Each cloud test that takes this runs once on SQLite and once on PostgreSQL.

    The PostgreSQL database is shared by the session: tests must not assume it is empty
    (use fresh ids), or use ``clean_postgres_url``.
    """
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'cloud.db'}"
    return str(request.getfixturevalue("postgres_url"))


# --- MQTT broker ------------------------------------------------------------------


@dataclass(frozen=True)
class Broker:
    host: str
    port: int
    kind: str  # "mosquitto" or "amqtt"


def _mosquitto_binary() -> str | None:
    found = shutil.which("mosquitto")
    if found:
        return found
    for candidate in ("/usr/sbin/mosquitto", "/usr/local/sbin/mosquitto"):
        if Path(candidate).exists():
            return candidate
    return None


@pytest.fixture(scope="session")
def mqtt_broker(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Broker]:
    """A real MQTT broker on a private loopback port, for the whole session."""
    binary = _mosquitto_binary()
    if binary is None:
        if _require("PAMS_TEST_REQUIRE_MOSQUITTO"):
            pytest.fail(
                "PAMS_TEST_REQUIRE_MOSQUITTO is set but mosquitto is not installed"
            )
        yield from _amqtt_broker()
        return
    port = free_port()
    conf = tmp_path_factory.mktemp("mosquitto") / "mosquitto.conf"
    conf.write_text(
        f"listener {port} 127.0.0.1\nallow_anonymous true\npersistence false\n",
        encoding="utf-8",
    )
    proc = subprocess.Popen(
        [binary, "-c", str(conf)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        wait_for_port(port)
        yield Broker("127.0.0.1", port, "mosquitto")
    finally:
        proc.terminate()
        proc.wait(timeout=10)


def _amqtt_broker() -> Iterator[Broker]:
    """Embedded amqtt broker in a thread of its own, bound to loopback."""
    import asyncio
    import threading

    from amqtt.broker import Broker as AmqttBroker

    port = free_port()
    config = {
        "listeners": {"default": {"type": "tcp", "bind": f"127.0.0.1:{port}"}},
        "auth": {"allow-anonymous": True, "plugins": ["auth_anonymous"]},
        "topic-check": {"enabled": False},
    }
    loop = asyncio.new_event_loop()
    broker = AmqttBroker(config, loop=loop)
    thread = threading.Thread(target=loop.run_forever, name="amqtt", daemon=True)
    thread.start()
    asyncio.run_coroutine_threadsafe(broker.start(), loop).result(timeout=10)
    try:
        yield Broker("127.0.0.1", port, "amqtt")
    finally:
        asyncio.run_coroutine_threadsafe(broker.shutdown(), loop).result(timeout=10)
        loop.call_soon_threadsafe(loop.stop)
        thread.join(timeout=5)
