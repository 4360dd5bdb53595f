"""The bureau's HTTP API (FastAPI). Routes stay thin: they check the caller, then call query/domain modules."""

from __future__ import annotations

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from fastapi import FastAPI
from sqlalchemy.engine import Engine

from bureau.api import routes_device, routes_health, routes_staff, routes_supervisor
from bureau.settings import BureauSettings


def create_app(settings: BureauSettings, engine: Engine, signing_key: Ed25519PrivateKey) -> FastAPI:
    app = FastAPI(title="医保基金现场检查 · 局端服务", version="1", openapi_url="/openapi.json")
    app.state.settings = settings
    app.state.engine = engine
    app.state.signing_key = signing_key
    app.include_router(routes_health.router)
    app.include_router(routes_device.router)
    app.include_router(routes_staff.router)
    app.include_router(routes_supervisor.router)
    return app
