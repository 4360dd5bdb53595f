"""The bureau's HTTP API (FastAPI). Routes stay thin: they check the caller, then call query/domain modules.

`create_app` builds the app of one process; `app_from_env` is the factory each `yibao serve` worker process calls.
Nothing a request relies on lives in one process's memory: the merkle log's tree is a cache of the database.
"""

from __future__ import annotations

from datetime import datetime, timezone

from fastapi import FastAPI
from sqlalchemy.engine import Engine
from sqlmodel import Session

from bureau import review
from bureau.api import (
    routes_device,
    routes_health,
    routes_ledger,
    routes_review,
    routes_screening,
    routes_staff,
    routes_supervisor,
    routes_sync,
)
from bureau.api.guards import LimitBody, RefuseNul
from bureau.keystore import BureauKeys
from bureau.service import open_bureau, open_keys
from bureau.settings import BureauSettings, resolve_settings
from bureau.transparency import TransparencyLog


def create_app(settings: BureauSettings, engine: Engine, keys: BureauKeys) -> FastAPI:
    app = FastAPI(title="医保基金现场检查 · 局端服务", version="1", openapi_url="/openapi.json")
    app.state.settings = settings
    app.state.engine = engine
    app.state.signing_key = keys.signing
    app.state.keys = keys
    app.state.log = TransparencyLog(engine, keys.signing)  # `yibao serve` verified the log before starting
    with Session(engine) as session:  # records stored before ingest opened their review cases itself
        review.backfill_cases(session, datetime.now(timezone.utc))
    app.include_router(routes_health.router)
    app.include_router(routes_device.router)
    app.include_router(routes_sync.router)
    # Starlette types handlers as taking any Exception; it calls this one only with ClientDisconnect
    app.add_exception_handler(routes_sync.ClientDisconnect, routes_sync.client_gone)  # type: ignore[arg-type]
    app.include_router(routes_staff.router)
    app.include_router(routes_supervisor.router)
    app.include_router(routes_screening.router)
    app.include_router(routes_review.router)
    app.include_router(routes_ledger.router)
    app.add_middleware(RefuseNul)
    app.add_middleware(LimitBody)  # outermost: no body is read past its route's limit
    return app


def app_from_env() -> FastAPI:
    """The app of one worker process (uvicorn's factory): the settings from the environment (`YIBAO_DATA`,
    `YIBAO_DATABASE_URL`, `YIBAO_BUREAU_PASSPHRASE`), which `yibao serve` sets after checking them."""
    settings = resolve_settings()
    return create_app(settings, open_bureau(settings).engine, open_keys(settings))
