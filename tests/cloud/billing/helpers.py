"""Builders shared by the billing tests: local times, tariffs, simple series."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime, time
from decimal import Decimal
from zoneinfo import ZoneInfo

from cloud.billing import (
    BoundaryRule,
    ConsumptionSeries,
    MeterInstallation,
    MeterKind,
    MeterReading,
    Register,
    Tariff,
    TariffVersion,
    Tier,
    TierCycle,
    TouPricing,
    TouSchedule,
    TouWindow,
    build_series,
)

TZ = "Asia/Shanghai"
SHANGHAI = ZoneInfo(TZ)
D = Decimal


def at(year: int, month: int, day: int, hour: int = 0, minute: int = 0) -> datetime:
    """Local time in Shanghai (UTC+8, no daylight saving)."""
    return datetime(year, month, day, hour, minute, tzinfo=SHANGHAI)


LONG_AGO = at(2020, 1, 1)


def zhejiang_tiers() -> tuple[Tier, ...]:
    """浙江 一户一表: ≤2760 at 0.538, 2761–4800 at 0.588, above at 0.838 元/kWh."""
    return (
        Tier(D(2760), D("0.538")),
        Tier(D(4800), D("0.588")),
        Tier(None, D("0.838")),
    )


def zhejiang(cycle: TierCycle | None = None) -> Tariff:
    return Tariff(
        "zj-residential",
        MeterKind.ELECTRICITY,
        (TariffVersion(LONG_AGO, zhejiang_tiers()),),
        cycle=cycle or TierCycle(12, 1),
    )


def junlian(tier2_boundary: BoundaryRule | None = None) -> Tariff:
    """筠连 water: ≤240 at 1.30, 240–360 at 1.95, above at 3.90 元/m³, annual."""
    tiers = (
        Tier(D(240), D("1.30")),
        Tier(D(360), D("1.95"), boundary=tier2_boundary),
        Tier(None, D("3.90")),
    )
    return Tariff("junlian-water", MeterKind.WATER, (TariffVersion(LONG_AGO, tiers),))


def zhejiang_tou() -> TouPricing:
    """Zhejiang residential 峰谷: peak 08–22 at 0.568, valley 22–08 at 0.288 (tier 1).

    The window hours are the usual Zhejiang ones and an assumption of this test;
    the rates are the source's.
    """
    schedule = TouSchedule(
        (TouWindow(time(8), time(22), "peak"), TouWindow(time(22), time(8), "valley"))
    )
    return TouPricing(schedule, {"peak": D("0.568"), "valley": D("0.288")})


def zhejiang_tou_tariff() -> Tariff:
    return Tariff(
        "zj-tou",
        MeterKind.ELECTRICITY,
        (TariffVersion(LONG_AGO, zhejiang_tiers(), tou=zhejiang_tou()),),
    )


def flat(rate: str, tariff_id: str = "flat") -> Tariff:
    return Tariff(
        tariff_id,
        MeterKind.ELECTRICITY,
        (TariffVersion(LONG_AGO, (Tier(None, D(rate)),)),),
    )


def installation(
    installation_id: str = "m1",
    *,
    installed_at: datetime = LONG_AGO,
    initial: str = "0",
    register: Register | None = None,
    multiplier: str = "1",
    removed_at: datetime | None = None,
    final: str | None = None,
    max_rate_per_hour: str | None = None,
) -> MeterInstallation:
    return MeterInstallation(
        installation_id=installation_id,
        meter_point_id="unit-101-elec",
        register=register or Register.digits(6, 1),
        installed_at=installed_at,
        initial_reading=D(initial),
        removed_at=removed_at,
        final_reading=None if final is None else D(final),
        multiplier=D(multiplier),
        max_rate_per_hour=None if max_rate_per_hour is None else D(max_rate_per_hour),
    )


def readings(
    installation_id: str,
    values: Sequence[tuple[datetime, str]],
    *,
    estimated: bool = False,
) -> list[MeterReading]:
    return [
        MeterReading(
            f"{installation_id}-r{number}", installation_id, moment, D(value), estimated
        )
        for number, (moment, value) in enumerate(values, start=1)
    ]


def series(
    installations: Sequence[MeterInstallation],
    values: Sequence[MeterReading],
    now: datetime | None = None,
) -> ConsumptionSeries:
    return build_series(
        "unit-101-elec", installations, values, now=now or at(2030, 1, 1)
    )
