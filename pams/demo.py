"""``pams demo``: a simulated building, its gateway and the cloud, on one machine.

Each part runs as its own process, exactly as it would in production: the cloud
(``pams cloud serve`` on SQLite), the simulator (``pams sim run`` with the demo
building), and the gateway (``pams edge run`` with a site configuration generated from
the simulator's wiring). Everything binds to loopback. This module only orchestrates
and counts: it imports none of the parts, and reads the gateway's progress from its
Prometheus endpoint and the cloud's from its API.
"""

from __future__ import annotations

import contextlib
import json
import os
import secrets
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
from prometheus_client.parser import text_string_to_metric_families

from pams import demo_billing
from pams.technician import TechnicianPhone, alarm_report, describe, enrol

GATEWAY_ID = "demo-gw"
ADMIN_EMAIL = "demo@pams.example.com"
DOOR_EVENT_KINDS = ("door_opened", "door_closed", "door_forced", "door_held_open")


class DemoError(Exception):
    """A part of the demo did not start or did not answer."""


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def pams_command(*args: str) -> list[str]:
    return [sys.executable, "-m", "pams", *args]


@dataclass
class Progress:
    """What the live view shows, refreshed from the gateway and the cloud."""

    devices: dict[str, tuple[str, bool]] = field(default_factory=dict)
    committed: int = 0
    synced: int = 0
    buffered: int = 0
    in_cloud: int = 0
    cloud_up: bool = False
    alarms_raised: dict[str, int] = field(default_factory=dict)
    actions: dict[str, dict[str, int]] = field(default_factory=dict)

    def by_protocol(self) -> dict[str, int]:
        counts: dict[str, int] = {}
        for protocol, online in self.devices.values():
            if online:
                counts[protocol] = counts.get(protocol, 0) + 1
        return counts


@dataclass
class DemoRun:
    """One demo: the working directory, the processes, and how to reach them."""

    workdir: Path
    scenario: Path
    cloud_port: int = field(default_factory=free_port)
    metrics_port: int = field(default_factory=free_port)
    admin_password: str = field(default_factory=lambda: secrets.token_urlsafe(16))
    uplink_port: int | None = None  # the gateway reaches the cloud here (a proxy)
    processes: dict[str, subprocess.Popen[bytes]] = field(default_factory=dict)
    billing_site: demo_billing.BillingSite | None = None
    phone: TechnicianPhone | None = None

    @property
    def cloud_url(self) -> str:
        return f"http://127.0.0.1:{self.cloud_port}"

    @property
    def uplink_url(self) -> str:
        return f"http://127.0.0.1:{self.uplink_port or self.cloud_port}"

    @property
    def cloud_dir(self) -> Path:
        return self.workdir / "cloud"

    @property
    def edge_dir(self) -> Path:
        return self.workdir / "edge"

    # --- starting ----------------------------------------------------------------

    def start(self) -> None:
        self.workdir.mkdir(parents=True, exist_ok=True)
        for sub in ("cloud", "edge", "sim", "logs"):
            (self.workdir / sub).mkdir(exist_ok=True)
        self._prepare_cloud()
        self.start_cloud(wait=False)
        wiring = self.workdir / "sim" / "wiring.json"
        self._spawn("sim", "sim", "run", str(self.scenario), "--wiring", str(wiring))
        self._wait_for(lambda: wiring.exists(), "the simulator's wiring file", 30)
        self._wait_for(self._cloud_healthy, "the cloud's /health", 30)
        self._enrol_technician()
        self.prepare_billing()
        self.site.write_text(
            site_config(json.loads(wiring.read_text()), self), encoding="utf-8"
        )
        self.start_gateway()

    @property
    def site(self) -> Path:
        return self.edge_dir / "site.toml"

    def _enrol_technician(self) -> None:
        """A technician's phone subscribed to Web Push; each push prints a line."""
        self.phone = TechnicianPhone(
            on_push=lambda push: print(describe(push), file=sys.stderr, flush=True)
        )
        with httpx.Client(base_url=self.cloud_url, timeout=10) as client:
            try:
                enrol(client, self.admin_headers(client), GATEWAY_ID, self.phone)
            except RuntimeError as exc:
                raise DemoError(f"cannot enrol the technician: {exc}") from exc

    def admin_headers(self, client: httpx.Client) -> dict[str, str]:
        login = client.post(
            "/api/v1/auth/token",
            data={"username": ADMIN_EMAIL, "password": self.admin_password},
        )
        if login.status_code != 200:
            raise DemoError(f"cannot log in to the cloud: {login.text}")
        return {"Authorization": f"Bearer {login.json()['access_token']}"}

    def alarms(self) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
        """The cloud's alarms and actions, and which reached the phone."""
        if self.phone is None:
            return [], []
        with httpx.Client(base_url=self.cloud_url, timeout=10) as client:
            return alarm_report(client, self.admin_headers(client), self.phone)

    def start_cloud(self, *, wait: bool = True) -> None:
        self._spawn(
            "cloud",
            "cloud",
            "serve",
            "--host",
            "127.0.0.1",
            "--port",
            str(self.cloud_port),
            "--data-dir",
            str(self.cloud_dir),
        )
        if wait:
            self._wait_for(self._cloud_healthy, "the cloud's /health", 30)

    def stop_cloud(self, *, kill: bool = False) -> None:
        """Stop the cloud: SIGTERM (it finishes requests in hand) or SIGKILL."""
        self._stop("cloud", signal.SIGKILL if kill else signal.SIGTERM)

    def start_gateway(self) -> None:
        self._spawn("edge", "edge", "run", "--config", str(self.site))

    def kill_gateway(self) -> None:
        """SIGKILL: what a power cut or the OOM killer does to the gateway."""
        self._stop("edge", signal.SIGKILL)

    def _stop(self, name: str, sig: signal.Signals) -> None:
        proc = self.processes.pop(name)
        proc.send_signal(sig)
        try:
            proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()

    def _prepare_cloud(self) -> None:
        data = ["--data-dir", str(self.cloud_dir)]
        self._check("cloud", "migrate", *data)
        self._check(
            "cloud",
            "admin",
            "create",
            "--email",
            ADMIN_EMAIL,
            "--password",
            self.admin_password,
            *data,
        )
        token_file = self.edge_dir / "gateway.token"
        self._check(
            "cloud",
            "gateway",
            "add",
            GATEWAY_ID,
            "--token-file",
            str(token_file),
            *data,
        )

    def _check(self, *args: str) -> None:
        result = subprocess.run(  # noqa: S603
            pams_command(*args), capture_output=True, text=True, check=False, env=_env()
        )
        if result.returncode != 0:
            raise DemoError(
                f"`pams {' '.join(args[:3])}` failed: {result.stderr.strip()}"
            )

    def _spawn(self, name: str, *args: str) -> None:
        log = (self.workdir / "logs" / f"{name}.log").open("ab")
        self.processes[name] = subprocess.Popen(  # noqa: S603
            pams_command(*args),
            stdout=log,
            stderr=subprocess.STDOUT,
            env=_env(),
            # Ctrl-C reaches only the demo, which then stops the parts in order.
            start_new_session=True,
        )

    def _wait_for(self, ready: Any, what: str, timeout_s: float) -> None:
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            for name, proc in self.processes.items():
                if proc.poll() is not None:
                    raise DemoError(
                        f"{name} exited early; see {self.workdir}/logs/{name}.log"
                    )
            if ready():
                return
            time.sleep(0.1)
        raise DemoError(f"timed out after {timeout_s} s waiting for {what}")

    def _cloud_healthy(self) -> bool:
        try:
            return httpx.get(f"{self.cloud_url}/health", timeout=1).status_code == 200
        except httpx.HTTPError:
            return False

    def prepare_billing(self) -> None:
        """The estate office's records for billing (``pams.demo_billing``)."""
        try:
            with contextlib.closing(self._api()) as client:
                self.billing_site = demo_billing.prepare(client, GATEWAY_ID)
        except (demo_billing.DemoBillingError, httpx.HTTPError) as exc:
            raise DemoError(f"billing setup failed: {exc}") from exc

    def bill(self) -> dict[str, Any]:
        """Bill today from the readings the gateway sent; a short summary."""
        if self.billing_site is None:
            raise DemoError("billing was not prepared")
        try:
            with contextlib.closing(self._api()) as client:
                return demo_billing.bill(client, self.billing_site)
        except (demo_billing.DemoBillingError, httpx.HTTPError) as exc:
            raise DemoError(f"billing run failed: {exc}") from exc

    def _api(self) -> httpx.Client:
        return demo_billing.session(self.cloud_url, ADMIN_EMAIL, self.admin_password)

    # --- watching ----------------------------------------------------------------

    def progress(self, previous: Progress | None = None) -> Progress:
        progress = Progress()
        with contextlib.suppress(httpx.HTTPError):
            text = httpx.get(f"http://127.0.0.1:{self.metrics_port}/", timeout=1).text
            _read_metrics(text, progress)
        with contextlib.suppress(httpx.HTTPError, DemoError):
            progress.in_cloud = self.cloud_stats()["readings"]
            progress.cloud_up = True
        if previous is not None and not progress.devices:
            progress.devices = previous.devices
        return progress

    def cloud_stats(self) -> dict[str, Any]:
        with httpx.Client(base_url=self.cloud_url, timeout=5) as client:
            login = client.post(
                "/api/v1/auth/token",
                data={"username": ADMIN_EMAIL, "password": self.admin_password},
            )
            if login.status_code != 200:
                raise DemoError(f"cannot log in to the cloud: {login.text}")
            token = login.json()["access_token"]
            stats = client.get(
                f"/api/v1/gateways/{GATEWAY_ID}/stats",
                headers={"Authorization": f"Bearer {token}"},
            )
            stats.raise_for_status()
            return dict(stats.json())

    # --- stopping ----------------------------------------------------------------

    def stop_gateway(self, timeout_s: float = 60) -> dict[str, Any]:
        """Stop polling, let the gateway drain its buffer, and read its summary."""
        edge = self.processes["edge"]
        edge.send_signal(signal.SIGTERM)
        try:
            edge.wait(timeout=timeout_s)
        except subprocess.TimeoutExpired as exc:
            edge.kill()
            raise DemoError("the gateway did not stop within its drain time") from exc
        summary = self.edge_dir / "last_run.json"
        if not summary.exists():
            raise DemoError(
                f"the gateway left no summary; see {self.workdir}/logs/edge.log"
            )
        return dict(json.loads(summary.read_text()))

    def stop_all(self) -> None:
        if self.phone is not None:
            self.phone.close()
        for proc in self.processes.values():
            if proc.poll() is None:
                proc.send_signal(signal.SIGTERM)
        for proc in self.processes.values():
            try:
                proc.wait(timeout=15)
            except subprocess.TimeoutExpired:
                proc.kill()


def _env() -> dict[str, str]:
    env = dict(os.environ)
    env.setdefault("PYTHONUNBUFFERED", "1")
    return env


def _read_metrics(text: str, progress: Progress) -> None:
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            if sample.name == "pams_edge_device_online":
                progress.devices[sample.labels["device"]] = (
                    sample.labels["protocol"],
                    sample.value == 1,
                )
            elif (
                sample.name == "pams_edge_records_committed_total"
                and sample.labels.get("kind") == "reading"
            ):
                progress.committed = int(sample.value)
            elif sample.name == "pams_edge_records_synced_total":
                progress.synced = int(sample.value)
            elif sample.name == "pams_edge_buffer_depth":
                progress.buffered = int(sample.value)
            elif sample.name == "pams_edge_alarms_raised_total":
                alarm_type = sample.labels["type"]
                raised = progress.alarms_raised.get(alarm_type, 0) + int(sample.value)
                progress.alarms_raised[alarm_type] = raised
            elif sample.name == "pams_edge_actions_total":
                outcome = (
                    "verified" if sample.labels["verified"] == "true" else "failed"
                )
                counts = progress.actions.setdefault(sample.labels["action"], {})
                counts[outcome] = int(sample.value)


def site_config(wiring: dict[str, Any], run: DemoRun) -> str:
    """The gateway's site configuration for the simulator's wiring, as TOML."""
    lines = [
        "[gateway]",
        f'id = "{GATEWAY_ID}"',
        f'data_dir = "{run.edge_dir}"',
        "",
        "[cloud]",
        f'url = "{run.uplink_url}"',
        f'token_file = "{run.edge_dir / "gateway.token"}"',
        "sync_interval_s = 0.5",
        "",
        "[health]",
        f"port = {run.metrics_port}",
        "",
    ]
    endpoints: dict[tuple[str, int], list[dict[str, Any]]] = {}
    for device in wiring.get("modbus_tcp", []):
        endpoints.setdefault((device["host"], device["port"]), []).append(device)
    for (host, port), devices in endpoints.items():
        lines += [
            "[[modbus_tcp]]",
            f'id = "tcp-{port}"',
            f'host = "{host}"',
            f"port = {port}",
            "",
        ]
        for device in devices:
            lines += [
                "[[modbus_tcp.devices]]",
                f'id = "{device["device_id"]}"',
                f"unit_id = {device['unit_id']}",
                f'profile = "{device["profile"]}"',
                "poll_interval_s = 1.0",
                "",
            ]
    for line in wiring.get("modbus_rtu", []):
        lines += [
            "[[modbus_rtu]]",
            f'id = "{line["line"]}"',
            f'port = "{line["port"]}"',
            f"baudrate = {line['baudrate']}",
            f'parity = "{line["parity"]}"',
            f"stopbits = {line['stopbits']}",
            "timeout_s = 0.5",
            "",
        ]
        for device in line["devices"]:
            lines += [
                "[[modbus_rtu.devices]]",
                f'id = "{device["device_id"]}"',
                f"unit_id = {device['unit_id']}",
                f'profile = "{device["profile"]}"',
                "poll_interval_s = 2.0",
                "",
            ]
    lines += _push_sections(wiring)
    lines += _alarm_sections(wiring)
    return "\n".join(lines)


def _push_sections(wiring: dict[str, Any]) -> list[str]:
    lines: list[str] = []
    mqtt = wiring.get("mqtt")
    if mqtt:
        broker = mqtt["broker"]
        lines += [
            "[mqtt]",
            f'host = "{broker["host"]}"',
            f"port = {broker['port']}",
            "",
        ]
        for device in mqtt["devices"]:
            lines += [
                "[[mqtt.devices]]",
                f'id = "{device["device_id"]}"',
                f'profile = "{device["profile"]}"',
                f'base_topic = "{device["base_topic"]}"',
                "",
            ]
    ble = wiring.get("ble")
    if ble:
        socket_ = ble["socket"]
        lines += [
            "[ble]",
            'backend = "sim"',
            f'address = "{socket_["host"]}:{socket_["port"]}"',
            "watchdog_s = 30",
            "",
        ]
        for device in ble["devices"]:
            lines += [
                "[[ble.devices]]",
                f'id = "{device["device_id"]}"',
                f'profile = "{device["profile"]}"',
                f'address = "{device["address"]}"',
            ]
            if device.get("bindkey"):
                lines.append(f'bindkey = "{device["bindkey"]}"')
            lines.append("")
    for line in wiring.get("osdp", []):
        lines += [
            "[[osdp]]",
            f'id = "{line["line"]}"',
            f'port = "{line["port"]}"',
            f"baudrate = {line['baudrate']}",
            "",
        ]
        for reader in line["readers"]:
            lines += [
                "[[osdp.readers]]",
                f'id = "{reader["device_id"]}"',
                f"address = {reader['address']}",
                f'profile = "{reader["profile"]}"',
            ]
            if reader.get("scbk"):
                lines.append(f'scbk = "{reader["scbk"]}"')
            lines.append("")
    return lines


def _alarm_sections(wiring: dict[str, Any]) -> list[str]:
    """The demo building's alarm rules and local actions, for the devices it has."""
    devices = {d["device_id"] for d in wiring.get("modbus_tcp", [])}
    devices |= {
        d["device_id"] for line in wiring.get("modbus_rtu", []) for d in line["devices"]
    }
    devices |= {d["device_id"] for d in (wiring.get("mqtt") or {}).get("devices", [])}
    devices |= {
        r["device_id"] for line in wiring.get("osdp", []) for r in line["readers"]
    }
    lines = ["[alarms]", "clear_hold_s = 2.0", ""]
    if "main-incomer" in devices:  # EN 50160: 230 V ± 10 %
        lines += [
            "[[rules]]",
            'id = "incomer-voltage"',
            'device = "main-incomer"',
            'point = "voltage_l1"',
            "above = 253",
            "below = 207",
            "for_s = 10",
            "",
        ]
    if "apt-103" in devices:  # the demo meter that goes silent at 45 s
        lines += ["[[rules]]", 'id = "apt-103-offline"', 'device = "apt-103"']
        lines += ["offline_s = 5", ""]
    if {"water-main", "leak-basement"} <= devices:
        lines += ["[[actions]]", 'on = "water_leak"', 'kind = "close_valve"']
        lines += ['device = "water-main"', ""]
    if {"door-lobby", "smoke-binstore"} <= devices:
        lines += ["[[actions]]", 'on = "smoke"', 'kind = "release_doors"']
        lines += ['devices = ["door-lobby"]', "seconds = 25", ""]
    return lines


@contextlib.contextmanager
def demo_run(workdir: Path, scenario: Path) -> Iterator[DemoRun]:
    run = DemoRun(workdir=workdir, scenario=scenario)
    try:
        run.start()
        yield run
    finally:
        run.stop_all()


def summarise(run: DemoRun, duration_s: float, before_stop: Progress) -> dict[str, Any]:
    """The JSON summary of a finished demo run."""
    gateway = run.stop_gateway()
    stats = run.cloud_stats()
    polled = int(gateway["readings_committed"])
    in_cloud = int(stats["readings"])
    kinds: dict[str, int] = stats.get("events_by_kind", {})
    alarms, actions = run.alarms()
    return {
        "duration_s": duration_s,
        "devices": {
            "total": len(before_stop.devices),
            "online": sum(1 for _, online in before_stop.devices.values() if online),
            "by_protocol": before_stop.by_protocol(),
        },
        "readings": {
            "polled": polled,
            "synced": int(gateway["readings_synced"]),
            "in_cloud": in_cloud,
            "lost": polled - in_cloud,
        },
        "events": {
            "card_reads": kinds.get("card_read", 0),
            "door_events": sum(kinds.get(k, 0) for k in DOOR_EVENT_KINDS),
            "button_presses": kinds.get("button_press", 0),
        },
        "alarms_raised": before_stop.alarms_raised,
        "billing": run.bill(),
        "alarms": alarms,
        "actions": actions,
        "actions_at_gateway": before_stop.actions,
        "cloud_url": run.cloud_url,
    }
