"""Request checks that hold for every route, before any of them runs, in the API's one error shape.

Body size (`LimitBody`): every route has a limit (`BODY_LIMITS`, else `DEFAULT_BODY_LIMIT`), enforced before the body
is read: a Content-Length above it is refused at once with 413, and a body sent without one (chunked) is counted as
it streams and cut off at the limit. Nothing behind this middleware ever holds more of a body than its route's limit.

NUL characters (`RefuseNul`): PostgreSQL stores no NUL in text or JSON, so a username, reason or note carrying one
would reach the database only to fail there (a 500 on PostgreSQL, silently stored on SQLite). They are refused at
the door, in the path, the query and JSON bodies (any `application/json` or `+json` media type, in any case). A JSON
body nested deeper than `MAX_JSON_DEPTH` is refused there too: the parsers and checks behind it recurse. Binary
bodies (registry files, blob chunks) are octets and pass untouched.
"""

from __future__ import annotations

import json
import re
from typing import Any

from fastapi import HTTPException
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from bureau.registry import MAX_FILE_BYTES
from bureau.review import MAX_ATTACHMENT_BYTES
from bureau.screening.claims import MAX_CLAIMS_UPLOAD_BYTES
from sync.envelope import MAX_CHUNK_SIZE

MiB = 1024 * 1024
DEFAULT_BODY_LIMIT = 1 * MiB  # every JSON body of the API: sign-in, enrollment, plans, review actions
BODY_LIMITS: dict[tuple[str, str], int] = {  # (method, route as FastAPI writes it) -> bytes
    # a sealed record: the largest a tablet makes (four signatures of documents.signature.MAX_POINTS each, long
    # notes on every item) seals to about 2.5 MB
    ("PUT", "/v1/records/{record_id}"): 8 * MiB,
    ("PUT", "/v1/blobs/{sha256}/chunks/{index}"): MAX_CHUNK_SIZE + 16,  # one sealed chunk and its GCM tag
    ("POST", "/v1/registry/{kind}"): MAX_FILE_BYTES,
    # a year of a city's settlement line items (结算明细), streamed to a file under the data directory, never held
    ("POST", "/v1/screening/claims"): MAX_CLAIMS_UPLOAD_BYTES,
    # the institution's written statement in base64 (4 characters for every 3 bytes), and the JSON around it
    ("POST", "/v1/review/records/{record_id}/statement"): 4 * -(-MAX_ATTACHMENT_BYTES // 3) + DEFAULT_BODY_LIMIT,
}
MAX_JSON_DEPTH = 32  # the deepest bodies the API takes (a draw plan, a review choice) nest 3 levels

_ROUTES = [(method, re.compile(re.sub(r"\{[^/{}]+\}", "[^/]+", route)), limit)
           for (method, route), limit in BODY_LIMITS.items()]
# a string, skipped whole (an unterminated one runs to the end: nothing is scanned twice), or a bracket
_JSON_TOKEN = re.compile(rb'"[^"\\]*(?:\\.[^"\\]*)*"?|[\[\]{}]', re.DOTALL)

NUL_REFUSAL = {"reason": "nul_character", "message": "请求中含有空字符（NUL），局端不能保存，请删除后重试"}
DEEP_REFUSAL = {"reason": "json_too_deep", "message": f"请求的 JSON 嵌套超过 {MAX_JSON_DEPTH} 层，局端不予处理"}


def body_limit(method: str, path: str) -> int:
    return next((limit for m, route, limit in _ROUTES if m == method and route.fullmatch(path)), DEFAULT_BODY_LIMIT)


def _size_text(size: int) -> str:
    return f"{size / MiB:.1f}".removesuffix(".0") + " MiB"


def too_large(limit: int) -> dict[str, str]:
    return {"reason": "body_too_large", "message": f"请求内容过大（此接口上限 {_size_text(limit)}），局端未接收"}


class BodyTooLarge(HTTPException):
    """Raised by the counted `receive` once a body passes its limit: an HTTPException, so a route reading its body
    answers with it as it would with its own refusal."""

    def __init__(self, limit: int):
        super().__init__(413, too_large(limit))


def _header(scope: Scope, name: bytes) -> bytes | None:
    return next((value for key, value in scope.get("headers") or () if key == name), None)


class LimitBody:
    """ASGI middleware: 413 `body_too_large` for a body above its route's limit, declared or counted."""

    def __init__(self, app: ASGIApp):
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        limit = body_limit(scope["method"], scope["path"])
        declared = _header(scope, b"content-length")
        if declared is not None and declared.strip().isdigit() and int(declared) > limit:
            await _answer(send, 413, too_large(limit))
            return
        received = 0
        started = False

        async def counted() -> Message:
            nonlocal received
            message = await receive()
            received += len(message.get("body", b""))
            if received > limit:
                raise BodyTooLarge(limit)
            return message

        async def watched(message: Message) -> None:
            nonlocal started
            started = started or message["type"] == "http.response.start"
            await send(message)

        try:
            await self.app(scope, counted, watched)
        except BodyTooLarge:  # read by a middleware, outside the routes' exception handlers
            if started:
                raise
            await _answer(send, 413, too_large(limit))


def holds_nul(value: Any) -> bool:
    """Whether any string in a parsed JSON value (keys included) contains NUL."""
    if isinstance(value, str):
        return "\x00" in value
    if isinstance(value, dict):
        return any(holds_nul(k) or holds_nul(v) for k, v in value.items())
    if isinstance(value, list):
        return any(holds_nul(v) for v in value)
    return False


def json_body_holds_nul(body: bytes) -> bool:
    if b"u0000" not in body.lower():  # the only way JSON writes NUL; most bodies stop here
        return False
    try:
        return holds_nul(json.loads(body))
    except ValueError:  # not JSON: the route's own validation says so
        return False


def nests_deeper_than(body: bytes, depth: int) -> bool:
    """Whether a JSON text opens more than `depth` arrays or objects inside one another, read without parsing it
    (brackets inside strings do not count)."""
    if body.count(b"[") + body.count(b"{") <= depth:  # most bodies stop here
        return False
    level = 0
    for token in _JSON_TOKEN.finditer(body):
        char = body[token.start()]
        if char in b"[{":
            level += 1
            if level > depth:
                return True
        elif char in b"]}":
            level -= 1
    return False


def is_json(content_type: bytes | None) -> bool:
    """What FastAPI parses as JSON: `application/json` or `application/…+json`, parameters aside, in any case."""
    media = (content_type or b"").split(b";", 1)[0].strip().lower()
    return media == b"application/json" or (media.startswith(b"application/") and media.endswith(b"+json"))


class RefuseNul:
    """ASGI middleware: 422 `nul_character` for a NUL in the path, the query string or a JSON body, and 422
    `json_too_deep` for a JSON body nested deeper than MAX_JSON_DEPTH."""

    def __init__(self, app: ASGIApp):
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        raw = (scope.get("raw_path") or scope["path"].encode()) + b"?" + scope.get("query_string", b"")
        if b"%00" in raw or b"\x00" in raw or "\x00" in scope["path"]:
            await _answer(send, 422, NUL_REFUSAL)
            return
        if not is_json(_header(scope, b"content-type")):
            await self.app(scope, receive, send)
            return
        parts: list[bytes] = []
        while True:  # the whole body, which LimitBody keeps within the route's limit
            message = await receive()
            if message["type"] != "http.request":
                return  # the client has gone: nobody to answer
            parts.append(message.get("body", b""))
            if not message.get("more_body"):
                break
        body = b"".join(parts)
        parts.clear()
        if nests_deeper_than(body, MAX_JSON_DEPTH):
            await _answer(send, 422, DEEP_REFUSAL)
            return
        if json_body_holds_nul(body):
            await _answer(send, 422, NUL_REFUSAL)
            return
        whole: list[Message] = [{"type": "http.request", "body": body, "more_body": False}]

        async def replay() -> Message:
            return whole.pop() if whole else await receive()

        await self.app(scope, replay, send)


async def _answer(send: Send, status: int, detail: dict[str, str]) -> None:
    payload = json.dumps({"detail": detail}, ensure_ascii=False).encode("utf-8")
    await send({"type": "http.response.start", "status": status,
                "headers": [(b"content-type", b"application/json"), (b"content-length", str(len(payload)).encode())]})
    await send({"type": "http.response.body", "body": payload})
