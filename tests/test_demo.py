"""The main job end to end: ``pams demo --json`` as a newcomer would run it."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest


@pytest.mark.slow
def test_demo_polls_every_family_and_loses_nothing(tmp_path: Path) -> None:
    done = subprocess.run(
        [
            sys.executable,
            "-m",
            "pams",
            "demo",
            "--duration",
            "25",
            "--json",
            "--workdir",
            str(tmp_path / "demo"),
        ],
        capture_output=True,
        text=True,
        timeout=110,
        check=False,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    summary = json.loads(done.stdout.strip().splitlines()[-1])

    by_protocol = summary["devices"]["by_protocol"]
    assert by_protocol.get("modbus-tcp", 0) >= 3
    assert by_protocol.get("modbus-rtu", 0) >= 2
    assert by_protocol.get("osdp", 0) >= 1
    assert by_protocol.get("ble", 0) >= 3
    assert by_protocol.get("mqtt", 0) >= 4
    readings = summary["readings"]
    assert readings["polled"] > 1000
    assert readings["in_cloud"] == readings["polled"]
    assert readings["lost"] == 0
    assert summary["events"]["card_reads"] >= 1
    billing = summary["billing"]
    assert [invoice["number"][:4] for invoice in billing["invoices"]] == ["INV-"] * 3
    assert {line["meter"] for line in billing["usage_lines"]} == {
        "apt-101",
        "apt-102",
        "apt-103",
    }
    assert all(line["readings"] >= 2 for line in billing["usage_lines"])
    leaks = [a for a in summary["alarms"] if a["type"] == "water_leak"]
    assert leaks, summary["alarms"]
    assert all(a["pushed"] for a in leaks), leaks
    assert all(0 <= a["push_latency_ms"] < 5000 for a in leaks), leaks
    assert {"type": "close_valve", "verified": True} in [
        {"type": a["type"], "verified": a["verified"]} for a in summary["actions"]
    ]
    assert "technician's phone: CRITICAL water_leak" in done.stderr
