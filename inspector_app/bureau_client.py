"""The tablet's HTTP client to the bureau (requests). Every call after enrollment is signed by the inspector's key."""

from __future__ import annotations

import json
from typing import Any
from urllib.parse import urlencode

import requests
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from sync.bureau_http import (
    DEFAULT_TIMEOUT,
    BureauRefused,
    BureauUnreachable,
    link_failure,
    raise_for_refusal,
)
from sync.canonical import canonical_bytes
from sync.request_auth import sign_request


class BureauClient:
    def __init__(self, server_url: str, key: Ed25519PrivateKey | None = None, key_id: str | None = None,
                 session: requests.Session | None = None, timeout: tuple[float, float] = DEFAULT_TIMEOUT):
        self.server_url = server_url.rstrip("/")
        self.key, self.key_id = key, key_id
        self.http = session or requests.Session()
        self.timeout = timeout

    def _send(self, method: str, path: str, params: dict[str, Any] | None = None, body: Any = None,
              signed: bool = True, raw: bytes | None = None) -> Any:
        """`body` goes as canonical JSON, `raw` as application/octet-stream."""
        path_qs = path + (f"?{urlencode(params)}" if params else "")
        if raw is not None:
            data, headers = raw, {"Content-Type": "application/octet-stream"}
        else:
            data = canonical_bytes(body) if body is not None else b""
            headers = {"Content-Type": "application/json"} if body is not None else {}
        if signed:
            assert self.key is not None and self.key_id is not None, "signed call on an unenrolled client"
            headers.update(sign_request(self.key, self.key_id, method, path_qs, data))
        try:
            response = self.http.request(method, self.server_url + path_qs, data=data or None, headers=headers,
                                         timeout=self.timeout)
        except requests.RequestException as exc:
            raise BureauUnreachable(f"无法连接局端服务 {self.server_url}：{link_failure(exc)}") from None
        raise_for_refusal(response)
        try:
            return response.json()
        except json.JSONDecodeError:
            raise BureauRefused(response.status_code, "bad_response", "局端返回的内容无法解析") from None

    def health(self) -> dict[str, Any]:
        return self._send("GET", "/v1/health", signed=False)

    def enroll(self, token: str, device_id: str, public_key_b64: str) -> dict[str, Any]:
        return self._send("POST", "/v1/devices/enroll", body={"token": token, "device_id": device_id,
                                                              "public_key": public_key_b64}, signed=False)

    def pull_assignments(self, since: int) -> dict[str, Any]:
        return self._send("GET", "/v1/assignments", params={"since": since})

    # --- sealed sync (see bureau/api/routes_sync.py) ---

    def put_record(self, record_id: str, envelope: dict[str, Any]) -> dict[str, Any]:
        return self._send("PUT", f"/v1/records/{record_id}", body=envelope)

    def put_blob_header(self, sha256: str, header: dict[str, Any]) -> dict[str, Any]:
        return self._send("PUT", f"/v1/blobs/{sha256}", body=header)

    def put_blob_chunk(self, sha256: str, index: int, chunk: bytes) -> dict[str, Any]:
        return self._send("PUT", f"/v1/blobs/{sha256}/chunks/{index}", raw=chunk)

    def pull_updates(self, since: int) -> dict[str, Any]:
        return self._send("GET", "/v1/sync/pull", params={"since": since})

    def log_consistency(self, first: int, second: int) -> dict[str, Any]:
        return self._send("GET", "/v1/log/consistency", params={"first": first, "second": second})
