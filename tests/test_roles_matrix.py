"""Role × endpoint: every route of the bureau's API, for every kind of caller, is either allowed or refused — none
left unchecked. The routes are enumerated from the app itself, so a new endpoint without an entry here fails.

Callers: anonymous, an enrolled device (signed requests), 科室负责人 (supervisor), 审核人员 (reviewer), 管理员 (admin).
Allowed: any answer but an authentication or role refusal (2xx, or a 4xx about the request itself: validation, not
found, conflict). Refused: 401 or 403 with an authentication or role reason. On SQLite and on PostgreSQL."""

from __future__ import annotations

import json
from datetime import datetime, timezone
from urllib.parse import urlencode

import pytest
from fastapi.testclient import TestClient
from sqlmodel import Session

from bureau import enrollment, keystore
from bureau.api import create_app
from bureau.service import open_bureau
from sync.keys import generate_signing_key, key_id, public_key_to_b64
from sync.request_auth import sign_request
from tests.support import PASSPHRASE, STAFF_PASSWORD, init_bureau, seed_small
from tests.test_review_support import add_review_staff

ROLES = ("anonymous", "device", "supervisor", "reviewer", "admin")
EVERYONE = frozenset(ROLES)
DEVICE = frozenset({"device"})
SUPERVISION = frozenset({"supervisor", "admin"})
STAFF = frozenset({"supervisor", "reviewer", "admin"})
REVIEW_READ = frozenset({"reviewer", "supervisor"})
REVIEW_ACT = frozenset({"reviewer"})
OVERVIEW = frozenset({"reviewer", "supervisor", "admin"})
AUTH_REASONS = {"not_signed_in", "session_expired", "wrong_role", "unknown_device", "device_revoked",
                "bad_auth_headers", "clock_skew", "bad_signature"}

MATRIX: dict[tuple[str, str], frozenset[str]] = {
    ("GET", "/openapi.json"): EVERYONE, ("HEAD", "/openapi.json"): EVERYONE,
    ("GET", "/docs"): EVERYONE, ("HEAD", "/docs"): EVERYONE,
    ("GET", "/docs/oauth2-redirect"): EVERYONE, ("HEAD", "/docs/oauth2-redirect"): EVERYONE,
    ("GET", "/redoc"): EVERYONE, ("HEAD", "/redoc"): EVERYONE,
    ("GET", "/v1/health"): EVERYONE,
    ("POST", "/v1/devices/enroll"): EVERYONE,  # the one-time token is the credential
    ("POST", "/v1/staff/login"): EVERYONE,
    ("GET", "/v1/assignments"): DEVICE,
    ("PUT", "/v1/records/{record_id}"): DEVICE,
    ("PUT", "/v1/blobs/{sha256}"): DEVICE,
    ("PUT", "/v1/blobs/{sha256}/chunks/{index}"): DEVICE,
    ("GET", "/v1/sync/pull"): DEVICE,
    ("GET", "/v1/log/consistency"): DEVICE,
    ("POST", "/v1/staff/logout"): STAFF,
    ("POST", "/v1/enroll-tokens"): SUPERVISION,
    ("POST", "/v1/registry/{kind}"): SUPERVISION,
    ("POST", "/v1/draws/commit"): SUPERVISION,
    ("POST", "/v1/draws/run"): SUPERVISION,
    ("GET", "/v1/draws"): SUPERVISION,
    ("GET", "/v1/draws/{plan_id}/transcript"): SUPERVISION,
    ("GET", "/v1/draws/assignments"): SUPERVISION,
    ("GET", "/v1/coverage"): SUPERVISION,
    ("POST", "/v1/assignments/{assignment_id}/revoke"): SUPERVISION,
    ("POST", "/v1/screening/claims"): SUPERVISION,
    ("POST", "/v1/screening/runs"): SUPERVISION,
    ("GET", "/v1/screening/latest"): SUPERVISION,
    ("GET", "/v1/screening/runs/{run_id}/institutions/{code}/hits"): SUPERVISION,
    ("GET", "/v1/screening/runs/{run_id}/export.xlsx"): SUPERVISION,
    ("GET", "/v1/screening/confirmations"): REVIEW_READ,
    ("GET", "/v1/review/queue"): REVIEW_READ,
    ("GET", "/v1/review/records/{record_id}"): REVIEW_READ,
    ("GET", "/v1/review/blobs/{sha256}"): REVIEW_READ,
    ("GET", "/v1/review/records/{record_id}/proposal"): REVIEW_READ,
    ("GET", "/v1/review/records/{record_id}/statement/attachment"): REVIEW_READ,
    ("GET", "/v1/review/records/{record_id}/decision.pdf"): REVIEW_READ,
    ("GET", "/v1/review/records/{record_id}/documents"): REVIEW_READ,
    ("GET", "/v1/review/records/{record_id}/documents/{key}.pdf"): REVIEW_READ,
    ("POST", "/v1/review/records/{record_id}/documents/{key}/service-receipt.pdf"): REVIEW_ACT,
    ("GET", "/v1/review/records/{record_id}/case-file.zip"): REVIEW_ACT,
    ("POST", "/v1/review/records/{record_id}/start"): REVIEW_ACT,
    ("POST", "/v1/review/records/{record_id}/return"): REVIEW_ACT,
    ("POST", "/v1/review/records/{record_id}/close"): REVIEW_ACT,
    ("POST", "/v1/review/records/{record_id}/proposal"): REVIEW_ACT,
    ("POST", "/v1/review/records/{record_id}/reopen"): REVIEW_ACT,
    ("POST", "/v1/review/records/{record_id}/notify"): REVIEW_ACT,
    # the step says who (bureau.procedure): approve_filing, as PATH_VALUES names it, is a 负责人's (supervisor);
    # a reviewer's steps are refused to a supervisor in test_procedure_flow
    ("POST", "/v1/review/records/{record_id}/procedure/{step}"): frozenset({"supervisor"}),
    ("GET", "/v1/review/records/{record_id}/procedure/{document}.pdf"): REVIEW_READ,
    ("POST", "/v1/review/records/{record_id}/statement"): REVIEW_ACT,
    ("POST", "/v1/review/records/{record_id}/decide"): REVIEW_ACT,
    ("POST", "/v1/review/records/{record_id}/withdraw"): REVIEW_ACT,
    ("GET", "/v1/ledger"): REVIEW_READ,
    ("GET", "/v1/followups"): REVIEW_READ,
    ("GET", "/v1/dashboard"): OVERVIEW,
}
PATH_VALUES = {"record_id": "rec-matrix-0001", "sha256": "a" * 64, "index": "0", "kind": "institutions",
               "plan_id": "matrix-plan", "assignment_id": "matrix-assignment", "run_id": "0" * 32,
               "code": "H35010200002", "step": "approve_filing", "document": "notice", "key": "decision"}
REQUESTS = {  # what an allowed caller sends: enough to get past validation where that is easy, else a 4xx
    ("POST", "/v1/staff/login"): {"json": {"username": "zhuren", "password": STAFF_PASSWORD}},
    ("POST", "/v1/registry/{kind}"): {"params": {"filename": "x.csv", "dry_run": "true"},
                                      "raw": "机构编码\n".encode()},
    ("PUT", "/v1/blobs/{sha256}/chunks/{index}"): {"raw": b"\x00" * 32},
    ("GET", "/v1/log/consistency"): {"params": {"first": "1", "second": "1"}},
    ("POST", "/v1/assignments/{assignment_id}/revoke"): {"json": {"reason": "回避"}},
    ("GET", "/v1/draws/assignments"): {"params": {"plan_id": "matrix-plan"}},
    ("POST", "/v1/screening/claims"): {"params": {"filename": "x.csv"}, "raw": "结算ID\n".encode()},
}


def all_routes(routes):
    """The app's routes, flattened (FastAPI keeps included routers as nodes of their own)."""
    for route in routes:
        if hasattr(route, "effective_candidates"):
            yield from all_routes(route.effective_candidates())
        else:
            yield route


@pytest.fixture
def api(bureau_settings):
    init_bureau(bureau_settings)
    seed_small(bureau_settings)
    add_review_staff(bureau_settings)
    bureau = open_bureau(bureau_settings)
    app = create_app(bureau_settings, bureau.engine, keystore.open_keys(bureau_settings, PASSPHRASE.encode()))
    with TestClient(app) as client:
        yield app, client, bureau.engine
    bureau.engine.dispose()


class Callers:
    def __init__(self, client: TestClient, engine):
        self.client = client
        self.tokens = {role: self.login(user) for role, user in
                       (("supervisor", "zhuren"), ("reviewer", "shenhe"), ("admin", "guanli"))}
        with Session(engine) as session:
            token = enrollment.issue_token(session, "I0001", datetime.now(timezone.utc))
            session.commit()
        self.device_key = generate_signing_key()
        enrolled = client.post("/v1/devices/enroll", json={"token": token, "device_id": "matrix-device-01",
                                                           "public_key": public_key_to_b64(self.device_key.public_key())})
        assert enrolled.status_code == 200, enrolled.text
        assert enrolled.json()["key_id"] == key_id(self.device_key.public_key())

    def login(self, username: str) -> str:
        answer = self.client.post("/v1/staff/login", json={"username": username, "password": STAFF_PASSWORD})
        assert answer.status_code == 200, answer.text
        return answer.json()["token"]

    def call(self, role: str, method: str, template: str):
        path = template.format(**{k: v for k, v in PATH_VALUES.items() if "{" + k + "}" in template})
        spec = REQUESTS.get((method, template), {})
        query = urlencode(spec.get("params", {}))
        path_qs = path + (f"?{query}" if query else "")
        body = spec["raw"] if "raw" in spec else json.dumps(spec.get("json", {})).encode() \
            if method in ("POST", "PUT") else b""
        headers = {"Content-Type": "application/octet-stream" if "raw" in spec else "application/json"} if body else {}
        if role == "device":
            headers.update(sign_request(self.device_key, key_id(self.device_key.public_key()), method, path_qs, body))
        elif role != "anonymous":
            fresh = template == "/v1/staff/logout"  # signing out must not end the session the other cells use
            token = self.login({"supervisor": "zhuren", "reviewer": "shenhe", "admin": "guanli"}[role]) if fresh \
                else self.tokens[role]
            headers["Authorization"] = f"Bearer {token}"
        return self.client.request(method, path_qs, content=body or None, headers=headers)


def _refused(response) -> bool:
    if response.status_code not in (401, 403):
        return False
    detail = response.json().get("detail")
    return isinstance(detail, dict) and detail.get("reason") in AUTH_REASONS


def test_every_route_for_every_caller(api):
    app, client, engine = api
    routes = {(method, route.path) for route in all_routes(app.routes) for method in (route.methods or ())}
    assert routes - set(MATRIX) == set(), "routes without a matrix entry (add them with the roles they admit)"
    assert set(MATRIX) - routes == set(), "matrix entries for routes that no longer exist"
    callers = Callers(client, engine)
    cells = []
    for method, path in sorted(MATRIX):
        for role in ROLES:
            response = callers.call(role, method, path)
            refused = _refused(response)
            allowed = role in MATRIX[(method, path)]
            assert response.status_code < 500, (method, path, role, response.status_code, response.text[:300])
            assert refused != allowed, (method, path, role, "allowed" if allowed else "refused", response.status_code,
                                        response.text[:300])
            cells.append((method, path, role))
    assert len(cells) == len(MATRIX) * len(ROLES)
