"""Sealed sync, what a tablet calls after enrollment (every request signed by one of its enrolled keys):

* ``PUT /v1/records/{record_id}`` — a sealed record envelope; the answer is the receipt (idempotent);
* ``PUT /v1/blobs/{sha256}`` — a sealed blob header: starts an upload, or asks where to resume one;
* ``PUT /v1/blobs/{sha256}/chunks/{index}`` — one sealed chunk, raw bytes;
* ``GET /v1/sync/pull?since=N`` — correction requests and bureau key rotations since a cursor;
* ``GET /v1/log/consistency?first=A&second=B`` — proof that the log of size B extends the log of size A.

Refusals are ``{"detail": {"reason", "message"}}`` with 4xx; the logic lives in `bureau.ingest`.
"""

from __future__ import annotations

from datetime import datetime, timezone
from typing import Any, Callable

from fastapi import APIRouter, Path, Query, Request
from fastapi.responses import Response
from pydantic import BaseModel, ConfigDict, Field
from sqlmodel import Session
from starlette.concurrency import run_in_threadpool
from starlette.requests import ClientDisconnect

from bureau import ingest
from bureau.api.deps import DeviceDep, SessionDep, refuse
from sync.envelope import MAX_CHUNK_SIZE

router = APIRouter(prefix="/v1", tags=["sync"])

RECORD_ID = Path(pattern=r"^[A-Za-z0-9][A-Za-z0-9._:-]{0,127}$")
SHA256 = Path(pattern=r"^[0-9a-f]{64}$")
MAX_SEQ = 2**31 - 1  # feed cursors are INTEGER columns
MAX_LOG_SIZE = 2**62


class Envelope(BaseModel):
    """`sync.envelope.seal_record` output."""

    model_config = ConfigDict(extra="forbid", strict=True)
    format: str = Field(max_length=40)
    record_id: str = Field(max_length=128)
    device_id: str = Field(max_length=128)
    bureau_key_id: str = Field(max_length=32)
    ciphertext_b64: str = Field(max_length=16 * 1024 * 1024)


class TreeHead(BaseModel):
    size: int
    root: str
    timestamp: int
    signature: str


class Receipt(BaseModel):
    record_id: str
    record_hash: str
    log_index: int
    inclusion_proof: list[str]
    tree_head: TreeHead


class RecordAnswer(BaseModel):
    receipt: Receipt
    duplicate: bool = Field(description="the bureau already held this record: the same receipt again")


class BlobHeader(BaseModel):
    """`sync.envelope.seal_blob_chunks` header."""

    model_config = ConfigDict(extra="forbid", strict=True)
    format: str = Field(max_length=40)
    blob_sha256: str = Field(max_length=64)
    device_id: str = Field(max_length=128)
    bureau_key_id: str = Field(max_length=32)
    size: int
    chunk_size: int
    chunk_count: int
    sealed_key_b64: str = Field(max_length=4096)


class UploadState(BaseModel):
    sha256: str
    complete: bool
    received_chunks: int
    chunk_count: int
    offset: int = Field(description="sealed bytes the bureau holds durably: continue from here")


async def client_gone(_request: Request, _exc: ClientDisconnect) -> Response:
    """A tablet that lost its link mid-upload is normal here, not a server error: nothing to log, nobody to answer.
    It resumes from the last confirmed chunk."""
    return Response(status_code=499)


def _now() -> datetime:
    return datetime.now(timezone.utc)


async def _in_worker(session: Session, fn: Callable[..., Any], *args: Any, **kwargs: Any) -> Any:
    """Run a database call in a worker thread and give the session's connection back before the thread is: a
    request never holds a pooled connection while it waits for a thread, for the event loop or for the client
    (with a hundred tablets at once, that is what stalls a server)."""
    def work() -> Any:
        try:
            return fn(*args, **kwargs)
        except ingest.IngestRefused as exc:
            raise refuse(exc.status, exc.reason, exc.message) from None
        finally:
            session.rollback()
    return await run_in_threadpool(work)


@router.put("/records/{record_id}", response_model=RecordAnswer)
async def put_record(body: Envelope, device: DeviceDep, session: SessionDep, request: Request,
                     record_id: str = RECORD_ID) -> dict[str, Any]:
    state = request.app.state
    accepted = await _in_worker(session, ingest.accept_record, session, state.keys, state.log, body.model_dump(),
                                record_id=record_id, device=device, now=_now())
    return {"receipt": accepted.receipt, "duplicate": accepted.duplicate}


@router.put("/blobs/{sha256}", response_model=UploadState)
async def put_blob_header(body: BlobHeader, device: DeviceDep, session: SessionDep, request: Request,
                          sha256: str = SHA256) -> dict[str, Any]:
    state = request.app.state
    upload = await _in_worker(session, ingest.start_blob, session, state.settings, state.keys, device, sha256,
                              body.model_dump(), _now())
    return upload.to_json()


_RAW_BODY = {"requestBody": {"required": True, "content": {
    "application/octet-stream": {"schema": {"type": "string", "format": "binary"}}}}}


@router.put("/blobs/{sha256}/chunks/{index}", response_model=UploadState, openapi_extra=_RAW_BODY)
async def put_blob_chunk(device: DeviceDep, session: SessionDep, request: Request, sha256: str = SHA256,
                         index: int = Path(ge=0, lt=65536)) -> dict[str, Any]:
    chunk = await request.body()
    if len(chunk) > MAX_CHUNK_SIZE + 16:
        raise refuse(413, "chunk_too_large", "附件分块过大")
    state = request.app.state
    upload = await _in_worker(session, ingest.put_chunk, session, state.settings, state.keys, device, sha256, index,
                              chunk, _now())
    return upload.to_json()


@router.get("/sync/pull")
async def pull(device: DeviceDep, session: SessionDep, request: Request,
               since: int = Query(0, ge=0, le=MAX_SEQ)) -> dict[str, Any]:
    """Correction requests for the caller's teams after `since`, and the bureau's key rotation statements."""
    return await _in_worker(session, ingest.updates_for, session, request.app.state.keys, device.inspector_code,
                            since)


@router.get("/log/consistency")
async def consistency(device: DeviceDep, session: SessionDep, request: Request,
                      first: int = Query(ge=1, le=MAX_LOG_SIZE),
                      second: int = Query(ge=1, le=MAX_LOG_SIZE)) -> dict[str, Any]:
    proof = await _in_worker(session, request.app.state.log.consistency, session, first, second)
    if proof is None:
        raise refuse(404, "unknown_tree_head", "局端没有所请求大小的日志树头")
    return proof
