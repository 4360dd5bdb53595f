"""Request checks that hold for every route, before any of them runs.

NUL characters: PostgreSQL stores no NUL in text or JSON, so a username, reason or note carrying one would reach the
database only to fail there (a 500 on PostgreSQL, silently stored on SQLite). They are refused at the door, in the
path, the query and JSON bodies, with the API's one error shape. Binary bodies (registry files, blob chunks) are
octets and pass untouched.
"""

from __future__ import annotations

import json
from typing import Any

from starlette.types import ASGIApp, Message, Receive, Scope, Send

NUL_REFUSAL = {"detail": {"reason": "nul_character", "message": "请求中含有空字符（NUL），局端不能保存，请删除后重试"}}


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


class RefuseNul:
    """ASGI middleware: 422 `nul_character` for a NUL in the path, the query string or a JSON body."""

    def __init__(self, app: ASGIApp):
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        raw = (scope.get("raw_path") or scope["path"].encode()) + b"?" + scope.get("query_string", b"")
        if b"%00" in raw or b"\x00" in raw or "\x00" in scope["path"]:
            await _refuse(send)
            return
        headers = dict(scope.get("headers") or [])
        if not headers.get(b"content-type", b"").startswith(b"application/json"):
            await self.app(scope, receive, send)
            return
        messages: list[Message] = []
        body = b""
        while True:
            message = await receive()
            messages.append(message)
            if message["type"] != "http.request":
                break
            body += message.get("body", b"")
            if not message.get("more_body"):
                break
        if json_body_holds_nul(body):
            await _refuse(send)
            return

        async def replay() -> Message:
            return messages.pop(0) if messages else await receive()

        await self.app(scope, replay, send)


async def _refuse(send: Send) -> None:
    payload = json.dumps(NUL_REFUSAL, ensure_ascii=False).encode("utf-8")
    await send({"type": "http.response.start", "status": 422,
                "headers": [(b"content-type", b"application/json"), (b"content-length", str(len(payload)).encode())]})
    await send({"type": "http.response.body", "body": payload})
