"""Schemathesis against the bureau's own OpenAPI document, on a real server on loopback (SQLite and PostgreSQL):
whatever it sends, signed by an enrolled tablet or not, the bureau never answers with a 5xx."""

from __future__ import annotations

import pytest
import requests
import schemathesis
from hypothesis import HealthCheck, settings

from bureau.settings import BureauSettings
from inspector_app import device
from inspector_app.store import open_store
from sync.request_auth import sign_request
from tests.conftest import _fresh_pg_schema_url, _postgres_unavailable_reason
from tests.support import init_bureau, seed_small, start_bureau, stop
from tests.sync_support import issue_token


class DeviceAuth(requests.auth.AuthBase):
    """Signs the request exactly as it goes on the wire, like `inspector_app.bureau_client.BureauClient`."""

    def __init__(self, identity):
        self.key, self.key_id = device.signing_key(identity), identity.key_id

    def __call__(self, request):
        body = request.body or b""
        body = body.encode() if isinstance(body, str) else body
        request.headers.update(sign_request(self.key, self.key_id, request.method, request.path_url, body))
        return request


@pytest.fixture(scope="module", params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def fuzzed_bureau(request, tmp_path_factory):
    tmp = tmp_path_factory.mktemp("openapi")
    urls = None
    if request.param == "sqlite":
        url = f"sqlite:///{tmp / 'bureau.db'}"
    else:
        if reason := _postgres_unavailable_reason():
            pytest.skip(reason)
        urls = _fresh_pg_schema_url()
        url = next(urls)
    settings_ = BureauSettings(tmp / "data", url)
    init_bureau(settings_)
    seed_small(settings_)
    bureau = start_bureau(settings_)
    engine = open_store(tmp / "tablet")
    identity = device.enroll(engine, bureau.url, issue_token(settings_, "I0001"))
    yield bureau, DeviceAuth(identity)
    stop(bureau.process)
    engine.dispose()
    if urls is not None:
        next(urls, None)


@pytest.fixture(scope="module")
def api_schema(fuzzed_bureau):
    bureau, _ = fuzzed_bureau
    return schemathesis.openapi.from_url(bureau.url + "/openapi.json")


schema = schemathesis.pytest.from_fixture("api_schema")


@pytest.mark.slow
@schema.parametrize()
@settings(max_examples=25, deadline=None, suppress_health_check=list(HealthCheck))
def test_no_server_errors(case, fuzzed_bureau):
    bureau, auth = fuzzed_bureau
    for signed in (True, False):
        response = case.call(base_url=bureau.url, auth=auth if signed else None, timeout=30)
        assert response.status_code < 500, (case.method, case.path, response.status_code, response.text[:300])


def test_the_sync_endpoints_are_documented(fuzzed_bureau):
    bureau, _ = fuzzed_bureau
    paths = requests.get(bureau.url + "/openapi.json", timeout=5).json()["paths"]
    assert {"/v1/records/{record_id}", "/v1/blobs/{sha256}", "/v1/blobs/{sha256}/chunks/{index}", "/v1/sync/pull",
            "/v1/log/consistency"} <= set(paths)
    assert "/v1/submissions" not in paths

