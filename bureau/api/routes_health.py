from fastapi import APIRouter
from sqlalchemy import text

from bureau.api.deps import SessionDep

router = APIRouter(tags=["health"])


@router.get("/v1/health")
def health(session: SessionDep) -> dict:
    session.exec(text("SELECT 1"))
    return {"status": "ok", "service": "yibao-bureau"}
