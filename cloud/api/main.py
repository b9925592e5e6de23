"""The API's routers, and which authentication each group needs."""

from __future__ import annotations

from fastapi import APIRouter, Depends

from cloud.api.deps import get_current_gateway, get_current_user
from cloud.api.routes import auth, devices, gateways, ingest, readings, users

# Routes that answer without a token. Everything else goes under a router whose
# dependencies demand one, so a new router is closed unless placed here on purpose.
public_router = APIRouter()
public_router.include_router(auth.router)

user_router = APIRouter(dependencies=[Depends(get_current_user)])
for resource in (users, gateways, devices, readings):
    user_router.include_router(resource.router)

gateway_router = APIRouter(dependencies=[Depends(get_current_gateway)])
gateway_router.include_router(ingest.router)

api_router = APIRouter()
api_router.include_router(public_router)
api_router.include_router(user_router)
api_router.include_router(gateway_router)
