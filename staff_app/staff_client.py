"""Bureau staff's HTTP client (supervisor, reviewer screens): signs in, then sends the session token."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import requests

from sync.bureau_http import (
    DEFAULT_TIMEOUT,
    LONG_TIMEOUT,
    BureauRefused,
    BureauUnreachable,
    link_failure,
    raise_for_refusal,
)

UPLOAD_CHUNK = 1024 * 1024
# A claims file is imported, and the claims screened, before the bureau answers: minutes for a city's year
SCREENING_TIMEOUT = (3.0, 3600.0)


def refusal_text(exc: Exception) -> str:
    """A failed call in the words the staff screens show."""
    if isinstance(exc, BureauUnreachable):
        return "无法连接局端服务"
    return exc.message if isinstance(exc, BureauRefused) else str(exc)


class StaffClient:
    def __init__(self, server_url: str, session: requests.Session | None = None):
        self.server_url = server_url.rstrip("/")
        self.http = session or requests.Session()
        self.token: str | None = None
        self.account: dict[str, Any] = {}

    def _request(self, method: str, path: str, *, json_body: Any = None, data: bytes | Iterator[bytes] | None = None,
                 params: dict[str, Any] | None = None,
                 timeout: tuple[float, float] = DEFAULT_TIMEOUT) -> requests.Response:
        headers = {"Authorization": f"Bearer {self.token}"} if self.token else {}
        if data is not None:
            headers["Content-Type"] = "application/octet-stream"
        try:
            response = self.http.request(method, self.server_url + path, json=json_body, data=data, params=params,
                                         headers=headers, timeout=timeout)
        except requests.RequestException as exc:
            raise BureauUnreachable(f"无法连接局端服务 {self.server_url}：{link_failure(exc)}") from None
        raise_for_refusal(response)
        return response

    def _send(self, method: str, path: str, **kwargs: Any) -> Any:
        return self._request(method, path, **kwargs).json()

    def _bytes(self, path: str, timeout: tuple[float, float] = DEFAULT_TIMEOUT) -> bytes:
        return self._request("GET", path, timeout=timeout).content

    def login(self, username: str, password: str) -> dict[str, Any]:
        self.account = self._send("POST", "/v1/staff/login", json_body={"username": username, "password": password})
        self.token = self.account["token"]
        return self.account

    def upload_registry(self, kind: str, filename: str, data: bytes, dry_run: bool) -> dict[str, Any]:
        return self._send("POST", f"/v1/registry/{kind}", data=data,
                          params={"filename": filename, "dry_run": str(dry_run).lower()}, timeout=LONG_TIMEOUT)

    def commit_plan(self, plan: dict[str, Any]) -> dict[str, Any]:
        return self._send("POST", "/v1/draws/commit", json_body=plan)

    def run_draw(self, plan: dict[str, Any], dry_run: bool) -> dict[str, Any]:
        return self._send("POST", "/v1/draws/run", json_body=plan, params={"dry_run": str(dry_run).lower()},
                          timeout=LONG_TIMEOUT)

    def draws(self) -> list[dict[str, Any]]:
        return self._send("GET", "/v1/draws")["draws"]

    def plan_assignments(self, plan_id: str) -> dict[str, Any]:
        return self._send("GET", "/v1/draws/assignments", params={"plan_id": plan_id})

    def revoke_assignment(self, assignment_id: str, reason: str) -> dict[str, Any]:
        return self._send("POST", f"/v1/assignments/{assignment_id}/revoke", json_body={"reason": reason})

    def coverage(self) -> dict[str, Any]:
        return self._send("GET", "/v1/coverage")

    def enroll_token(self, inspector_code: str) -> dict[str, Any]:
        return self._send("POST", "/v1/enroll-tokens", json_body={"inspector_code": inspector_code})

    # --- 智能监控 (screening) ---

    def upload_claims(self, filename: str, data: bytes, replace: bool,
                      sent: Callable[[int], None] = lambda _n: None) -> dict[str, Any]:
        """Upload a claims file a chunk at a time, telling `sent` how many bytes have gone; the import's report."""
        def chunks() -> Iterator[bytes]:
            for start in range(0, len(data), UPLOAD_CHUNK):
                yield data[start:start + UPLOAD_CHUNK]
                sent(min(len(data), start + UPLOAD_CHUNK))

        return self._send("POST", "/v1/screening/claims", data=chunks(),
                          params={"filename": filename, "replace": str(replace).lower()}, timeout=SCREENING_TIMEOUT)

    def run_screening(self, rules: list[str] | None = None) -> dict[str, Any]:
        return self._send("POST", "/v1/screening/runs", json_body={"rules": rules}, timeout=SCREENING_TIMEOUT)

    def screening_latest(self, offset: int, limit: int) -> dict[str, Any]:
        return self._send("GET", "/v1/screening/latest", params={"offset": offset, "limit": limit})

    def screening_hits(self, run_id: str, code: str, offset: int, limit: int) -> dict[str, Any]:
        return self._send("GET", f"/v1/screening/runs/{run_id}/institutions/{code}/hits",
                          params={"offset": offset, "limit": limit})

    def screening_xlsx(self, run_id: str) -> bytes:
        return self._bytes(f"/v1/screening/runs/{run_id}/export.xlsx", timeout=LONG_TIMEOUT)

    def screening_confirmations(self) -> dict[str, Any]:
        """Per rule, the 疑点 carried to site and how many were confirmed or excluded there."""
        return self._send("GET", "/v1/screening/confirmations")

    # --- review (审核人员; 科室负责人 reads) ---

    def review_queue(self, params: dict[str, str]) -> dict[str, Any]:
        return self._send("GET", "/v1/review/queue", params=params)

    def review_case(self, record_id: str, version: int | None = None) -> dict[str, Any]:
        return self._send("GET", f"/v1/review/records/{record_id}", params={"version": version} if version else None)

    def review_action(self, record_id: str, action: str, body: dict[str, Any] | None = None) -> dict[str, Any]:
        """One review action (start, return, close, proposal, reopen, notify, statement, decide, withdraw): the case
        as it is afterwards."""
        return self._send("POST", f"/v1/review/records/{record_id}/{action}", json_body=body or {})

    def procedure_step(self, record_id: str, step: str, body: dict[str, Any]) -> dict[str, Any]:
        """One step of the penalty procedure (立案, 听证, 送达, 缴款 …): the case as it is afterwards."""
        return self._send("POST", f"/v1/review/records/{record_id}/procedure/{step}", json_body=body)

    def procedure_pdf(self, record_id: str, document: str) -> bytes:
        """告知书 (notice), 听证通知书 (hearing-notice), 听证笔录 (hearing-record) or 暂停医疗保障基金结算通知书
        (interim-suspension) or its 解除 notice (interim-suspension-lifted)."""
        return self._bytes(f"/v1/review/records/{record_id}/procedure/{document}.pdf", timeout=LONG_TIMEOUT)

    def proposal(self, record_id: str, params: dict[str, Any]) -> dict[str, Any]:
        return self._send("GET", f"/v1/review/records/{record_id}/proposal", params=params)

    def review_blob(self, sha256: str) -> bytes:
        return self._bytes(f"/v1/review/blobs/{sha256}")

    def decision_pdf(self, record_id: str) -> bytes:
        return self._bytes(f"/v1/review/records/{record_id}/decision.pdf", timeout=LONG_TIMEOUT)

    def case_documents(self, record_id: str) -> dict[str, Any]:
        """The documents a decision issues: `documents` [{key, title, number, file_name}], the principal first."""
        return self._send("GET", f"/v1/review/records/{record_id}/documents")

    def case_document(self, record_id: str, key: str) -> bytes:
        """One of them (decision, agreement, referral-N) as PDF."""
        return self._bytes(f"/v1/review/records/{record_id}/documents/{key}.pdf", timeout=LONG_TIMEOUT)

    def case_file(self, record_id: str) -> bytes:
        """The 案卷 ZIP: every document, the signed record, receipts, evidence and audit log (`yibao case verify`)."""
        return self._bytes(f"/v1/review/records/{record_id}/case-file.zip", timeout=LONG_TIMEOUT)

    def ledger(self, year: int) -> dict[str, Any]:
        return self._send("GET", "/v1/ledger", params={"year": year})

    def followups(self) -> dict[str, Any]:
        return self._send("GET", "/v1/followups")

    def dashboard(self, year: int) -> dict[str, Any]:
        return self._send("GET", "/v1/dashboard", params={"year": year})


__all__ = ["StaffClient", "BureauRefused", "BureauUnreachable"]
