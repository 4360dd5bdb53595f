from fastapi import APIRouter
from sqlalchemy import text

from bureau.api.deps import SessionDep

router = APIRouter(tags=["health"])


@router.get("/v1/health")
def health(session: SessionDep) -> dict:
    # sqlmodel's exec() overloads omit TextClause, though its implementation passes any Executable to SQLAlchemy
    session.exec(text("SELECT 1"))  # type: ignore[call-overload]
    return {"status": "ok", "service": "yibao-bureau"}
