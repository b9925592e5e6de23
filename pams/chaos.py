"""``pams sim chaos``: a building, a gateway and a cloud, and everything going wrong.

The demo's three processes run with the gateway reaching the cloud through a loopback
proxy. On a random (seeded) timeline the harness:

- kills the gateway with SIGKILL ``kills`` times and starts it again;
- cuts the cloud off ``outages`` times, alternately by stopping the cloud process and
  by resetting every connection at the proxy, for a few seconds each;
- once, waits for a batch to be on its way and kills the cloud in the middle of that
  ingest, then starts it again.

Then it lets the gateway drain and asks the cloud which of the gateway's sequence
numbers it holds. ``lost`` counts sequence numbers committed on the gateway that the
cloud neither stored nor was told were evicted; ``duplicates`` counts extra copies of
a reading (same device, point and timestamp).
"""

from __future__ import annotations

import logging
import random
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx

from pams.demo import ADMIN_EMAIL, GATEWAY_ID, DemoError, DemoRun
from sim.netfault import LoopbackProxy

logger = logging.getLogger(__name__)


@dataclass(frozen=True, order=True)
class Strike:
    at_s: float
    kind: str  # "kill", "outage-stop", "outage-cut", "cloud-crash"
    length_s: float = 0.0


def timeline(
    duration_s: float, kills: int, outages: int, rng: random.Random
) -> list[Strike]:
    """Random moments for every strike, outages not overlapping one another."""
    margin = min(5.0, duration_s / 10)
    span = (margin, max(margin, duration_s - margin - 8))
    strikes = [Strike(rng.uniform(*span), "kill") for _ in range(kills)]
    slots = sorted(rng.uniform(*span) for _ in range(outages))
    last_end = 0.0
    for n, start in enumerate(slots):
        start = max(start, last_end + 1)
        length = rng.uniform(3, 8)
        strikes.append(
            Strike(start, "outage-stop" if n % 2 == 0 else "outage-cut", length)
        )
        last_end = start + length
    strikes.append(Strike(rng.uniform(*span), "cloud-crash"))
    return sorted(strikes)


class Chaos:
    def __init__(self, run: DemoRun, proxy: LoopbackProxy, rng: random.Random) -> None:
        self.run = run
        self.proxy = proxy
        self.rng = rng
        self.counts = {"kills": 0, "outages": 0, "cloud_crashes": 0}
        self.cloud_down = False

    def strike(
        self, strike: Strike, restore: list[tuple[float, Callable[[], None]]]
    ) -> bool:
        """Carry out one strike; False when it must wait (the cloud is down now)."""
        now = time.monotonic()
        if strike.kind == "kill":
            self.run.kill_gateway()
            time.sleep(self.rng.uniform(0.2, 2.0))
            self.run.start_gateway()
            self.counts["kills"] += 1
        elif strike.kind in ("outage-stop", "cloud-crash") and self.cloud_down:
            return False
        elif strike.kind == "outage-stop":
            self.run.stop_cloud()
            self.cloud_down = True
            restore.append((now + strike.length_s, self._cloud_back))
            self.counts["outages"] += 1
        elif strike.kind == "outage-cut":
            self.proxy.cut()
            restore.append((now + strike.length_s, self.proxy.restore))
            self.counts["outages"] += 1
        elif strike.kind == "cloud-crash":
            if not self.proxy.wait_in_flight(timeout_s=10):
                logger.warning("no ingest in flight within 10 s; trying again later")
                return False
            self.run.stop_cloud(kill=True)
            self.run.start_cloud()
            self.counts["cloud_crashes"] += 1
        return True

    def _cloud_back(self) -> None:
        self.run.start_cloud()
        self.cloud_down = False


def run_chaos(
    workdir: Path,
    scenario: Path,
    *,
    duration_s: float,
    kills: int,
    outages: int,
    seed: int | None = None,
) -> dict[str, Any]:
    seed = seed if seed is not None else random.SystemRandom().randrange(2**32)
    rng = random.Random(seed)
    run = DemoRun(workdir=workdir, scenario=scenario)
    proxy = LoopbackProxy(run.cloud_port)
    run.uplink_port = proxy.port
    proxy.start()
    try:
        run.start()
        chaos = Chaos(run, proxy, rng)
        _play(chaos, timeline(duration_s, kills, outages, rng), duration_s)
        (run.edge_dir / "last_run.json").unlink(missing_ok=True)
        gateway = run.stop_gateway(timeout_s=120)
        if not gateway["drained"]:
            raise DemoError(f"the gateway did not drain its buffer: {gateway}")
        report = _integrity(run, int(gateway["last_seq"]))
    finally:
        run.stop_all()
        proxy.close()
    return {
        "readings_generated": report["upto"],
        "in_cloud": report["stored_records"],
        "lost": report["missing"],
        "duplicates": report["duplicate_readings"],
        "evicted": report["reported_gaps"],
        "kills": chaos.counts["kills"],
        "outages": chaos.counts["outages"],
        "cloud_crashes_mid_ingest": chaos.counts["cloud_crashes"],
        "seed": seed,
    }


def _play(chaos: Chaos, strikes: list[Strike], duration_s: float) -> None:
    started = time.monotonic()
    restore: list[tuple[float, Callable[[], None]]] = []
    pending = list(strikes)
    while time.monotonic() - started < duration_s or restore or pending:
        now = time.monotonic()
        for entry in [r for r in restore if r[0] <= now]:
            restore.remove(entry)
            entry[1]()
        if pending and now - started >= pending[0].at_s:
            strike = pending.pop(0)
            if not chaos.strike(strike, restore):  # retry once the cloud is back
                later = Strike(now - started + 2.0, strike.kind, strike.length_s)
                pending = sorted([*pending, later])
        time.sleep(0.05)


def _integrity(run: DemoRun, upto: int) -> dict[str, Any]:
    with httpx.Client(base_url=run.cloud_url, timeout=60) as client:
        login = client.post(
            "/api/v1/auth/token",
            data={"username": ADMIN_EMAIL, "password": run.admin_password},
        )
        login.raise_for_status()
        answer = client.get(
            f"/api/v1/gateways/{GATEWAY_ID}/integrity",
            params={"upto": upto},
            headers={"Authorization": f"Bearer {login.json()['access_token']}"},
        )
        answer.raise_for_status()
        return dict(answer.json())
