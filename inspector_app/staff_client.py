"""Bureau staff's HTTP client (supervisor, reviewer screens): signs in, then sends the session token."""

from __future__ import annotations

from typing import Any

import requests

from sync.client import DEFAULT_TIMEOUT, BureauRefused, BureauUnreachable, raise_for_refusal


class StaffClient:
    def __init__(self, server_url: str, session: requests.Session | None = None):
        self.server_url = server_url.rstrip("/")
        self.http = session or requests.Session()
        self.token: str | None = None
        self.account: dict[str, Any] = {}

    def _send(self, method: str, path: str, *, json_body: Any = None, data: bytes | None = None,
              params: dict[str, Any] | None = None) -> Any:
        headers = {"Authorization": f"Bearer {self.token}"} if self.token else {}
        if data is not None:
            headers["Content-Type"] = "application/octet-stream"
        try:
            response = self.http.request(method, self.server_url + path, json=json_body, data=data, params=params,
                                         headers=headers, timeout=DEFAULT_TIMEOUT)
        except requests.RequestException as exc:
            raise BureauUnreachable(f"无法连接局端服务 {self.server_url}：{type(exc).__name__}") from None
        raise_for_refusal(response)
        return response.json()

    def login(self, username: str, password: str) -> dict[str, Any]:
        self.account = self._send("POST", "/v1/staff/login", json_body={"username": username, "password": password})
        self.token = self.account["token"]
        return self.account

    def upload_registry(self, kind: str, filename: str, data: bytes, dry_run: bool) -> dict[str, Any]:
        return self._send("POST", f"/v1/registry/{kind}", data=data,
                          params={"filename": filename, "dry_run": str(dry_run).lower()})

    def commit_plan(self, plan: dict[str, Any]) -> dict[str, Any]:
        return self._send("POST", "/v1/draws/commit", json_body=plan)

    def run_draw(self, plan: dict[str, Any], dry_run: bool) -> dict[str, Any]:
        return self._send("POST", "/v1/draws/run", json_body=plan, params={"dry_run": str(dry_run).lower()})

    def draws(self) -> list[dict[str, Any]]:
        return self._send("GET", "/v1/draws")["draws"]

    def coverage(self) -> dict[str, Any]:
        return self._send("GET", "/v1/coverage")

    def enroll_token(self, inspector_code: str) -> dict[str, Any]:
        return self._send("POST", "/v1/enroll-tokens", json_body={"inspector_code": inspector_code})


__all__ = ["StaffClient", "BureauRefused", "BureauUnreachable"]
