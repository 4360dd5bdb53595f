"""How a client reads the bureau's HTTP answers: the tablet's signed client and the staff screens' client share
these (timeouts, the two ways a call fails, and the link failure named in a few words)."""

from __future__ import annotations

from typing import Any

import requests

# Seconds: connect, read. A bureau that is down or out of reach shows within the connect timeout, so a screen can say
# "无法连接局端" at once; the bureau answers an ordinary call in milliseconds. A sync's own deadline bounds its retries.
DEFAULT_TIMEOUT = (3.0, 10.0)
# A call whose answer the bureau must compute first (a registry file checked and imported, a draw run).
LONG_TIMEOUT = (3.0, 120.0)


def link_failure(exc: requests.RequestException) -> str:
    """What went wrong on the link, in a few words: the request's error and its innermost cause
    (``ConnectionError/ConnectionResetError``, ``ReadTimeout``)."""
    inner: BaseException = exc
    while inner.__cause__ is not None or (inner.__context__ is not None and not inner.__suppress_context__):
        cause = inner.__cause__ or inner.__context__
        assert cause is not None  # the loop condition: one of the two is set
        inner = cause
    for arg in getattr(inner, "args", ()):  # urllib3 wraps the OS error as an argument
        if isinstance(arg, BaseException):
            inner = arg
    return type(exc).__name__ if inner is exc else f"{type(exc).__name__}/{type(inner).__name__}"


class BureauUnreachable(Exception):
    """No answer from the bureau: the device keeps working from its own store."""


class BureauRefused(Exception):
    """The bureau answered and said no; `reason` is its machine-readable reason."""

    def __init__(self, status: int, reason: str, message: str, detail: dict[str, Any] | None = None):
        super().__init__(message)
        self.status, self.reason, self.message = status, reason, message
        self.detail = detail or {}


def raise_for_refusal(response: requests.Response) -> None:
    if response.status_code < 400:
        return
    try:
        detail = response.json().get("detail")
    except ValueError:
        detail = None
    if isinstance(detail, dict):
        raise BureauRefused(response.status_code, detail.get("reason", "refused"), detail.get("message", ""), detail)
    raise BureauRefused(response.status_code, f"http_{response.status_code}", f"局端拒绝请求（HTTP {response.status_code}）")
