"""The API's routers, and which authentication each group needs."""

from __future__ import annotations

from fastapi import APIRouter, Depends

from cloud.api.deps import get_current_gateway, get_scope
from cloud.api.routes import (
    alarms,
    audit,
    auth,
    billing,
    buildings,
    community,
    devices,
    equipment,
    gateways,
    imports,
    ingest,
    inspections,
    leases,
    maintenance,
    meters,
    people,
    properties,
    readings,
    units,
    users,
    work_orders,
)

# Routes that answer without a token. Everything else goes under a router whose
# dependencies demand one, so a new router is closed unless placed here on purpose.
public_router = APIRouter()
public_router.include_router(auth.router)

# Every user route gets the caller's Scope (which needs a valid access token).
user_router = APIRouter(dependencies=[Depends(get_scope)])
for router in (
    users.router,
    properties.router,
    buildings.router,
    units.router,
    people.router,
    leases.router,
    equipment.router,
    inspections.router,
    meters.points_router,
    meters.router,
    gateways.router,
    devices.router,
    readings.router,
    imports.router,
    audit.router,
    billing.router,
    *alarms.ROUTERS,
    work_orders.router,
    work_orders.sla_router,
    work_orders.watchers_router,
    maintenance.plans_router,
    maintenance.rounds_router,
    maintenance.tasks_router,
    maintenance.me_router,
    maintenance.badges_router,
    community.notices_router,
    community.channels_router,
    community.complaints_router,
    community.surveys_router,
    community.me_router,
):
    user_router.include_router(router)

gateway_router = APIRouter(dependencies=[Depends(get_current_gateway)])
gateway_router.include_router(ingest.router)

api_router = APIRouter()
api_router.include_router(public_router)
api_router.include_router(user_router)
api_router.include_router(gateway_router)
