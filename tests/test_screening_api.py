"""智能监控 over the bureau API (issue #16, supervisor screens), on SQLite and PostgreSQL: a claims upload with errors
stores nothing and names every wrong cell; import → run → the ranked institutions → one institution's hits → the run
as Excel (a registry name starting with "=" stays text); a store held by another process answers 409; only the
supervisor (and the admin) may call it: a reviewer is refused, and so is an inspector's tablet."""

from __future__ import annotations

import http.client
import io
import json
from decimal import Decimal
from urllib.parse import urlsplit

import duckdb
import pytest
import requests
from openpyxl import load_workbook
from sqlmodel import Session

from bureau.models import Institution
from bureau.screening.claims import MAX_CLAIMS_UPLOAD_BYTES
from bureau.screening.store import STORE_FILE
from bureau.service import open_bureau
from inspector_app import device
from inspector_app.store import open_store as open_tablet
from staff_app.supervisor_vm import MAX_SHOWN_ERRORS, LoginViewModel, ScreeningViewModel
from sync.request_auth import sign_request
from tests.claims_gen import generate, institution_code
from tests.support import SMALL_INSPECTORS, STAFF_PASSWORD, add_staff, init_bureau, serve_in_thread, start_bureau, stop
from tests.sync_support import issue_token

FORMULA_NAME = '=HYPERLINK("http://example.invalid","点我")'
H1, H2 = institution_code(1), institution_code(2)


def prepared(bureau_settings) -> None:
    init_bureau(bureau_settings)
    add_staff(bureau_settings, "zhuren", "supervisor")
    add_staff(bureau_settings, "shenhe", "reviewer")
    engine = open_bureau(bureau_settings).engine
    with Session(engine) as session:
        for code, name in ((H1, FORMULA_NAME), (H2, "福州市仓山区螺洲镇卫生院")):
            session.add(Institution(code=code, name=name, kind="primary", region="350104",
                                    credit_code="12100000400000624D"))
        session.merge(SMALL_INSPECTORS[0].model_copy())  # I0001, whose tablet is refused (merged: as seed_small)
        session.commit()
    engine.dispose()


@pytest.fixture
def bureau(bureau_settings, operator_passphrase):
    prepared(bureau_settings)
    running = serve_in_thread(bureau_settings)
    try:
        yield running
    finally:
        stop(running.process)


@pytest.fixture
def bureau_as_process(bureau_settings):
    """The bureau as a `yibao serve` process: the claims store's lock is held per process."""
    prepared(bureau_settings)
    running = start_bureau(bureau_settings)
    try:
        yield running
    finally:
        stop(running.process)


def token(bureau, username: str = "zhuren") -> dict[str, str]:
    client = LoginViewModel(bureau.url).login(username, STAFF_PASSWORD)
    assert client is not None
    return {"Authorization": f"Bearer {client.token}"}


def claims_csv(persons: int = 30) -> tuple[bytes, list]:
    out = io.StringIO()
    _rows, expected = generate(out, persons, 4)
    return out.getvalue().encode("utf-8"), expected


def upload(bureau, auth, data: bytes, filename: str = "结算明细.csv", **params) -> requests.Response:
    return requests.post(f"{bureau.url}/v1/screening/claims", params={"filename": filename, **params}, data=data,
                         headers={**auth, "Content-Type": "application/octet-stream"}, timeout=120)


def test_an_upload_with_errors_stores_nothing_and_names_each_cell(bureau):
    auth = token(bureau)
    good, _expected = claims_csv()
    lines = good.decode("utf-8").splitlines(keepends=True)
    cells = lines[5].split(",")
    cells[3], cells[8] = "M", "2025-02-30"  # 性别, 费用日期
    bad = "".join(lines[:5] + [",".join(cells)] + lines[6:]).encode("gbk")
    refused = upload(bureau, auth, bad, "有错.csv")
    assert refused.status_code == 422, refused.text
    detail = refused.json()["detail"]
    assert detail["reason"] == "invalid_rows" and "未导入任何数据" in detail["message"]
    assert [(e["line"], e["column"], e["value"]) for e in detail["errors"]] == [(6, "性别", "M"), (6, "费用日期", "2025-02-30")]
    assert detail["errors"][0]["message"] == "应为 男 或 女"

    header = upload(bureau, auth, "结算ID,机构\nS1,H35010000001\n".encode(), "表头错.csv")
    assert header.status_code == 422 and header.json()["detail"]["reason"] == "unreadable_file"
    assert "表头错.csv 第 1 行（表头）" in header.json()["detail"]["message"]
    link = http.client.HTTPConnection(urlsplit(bureau.url).netloc, timeout=30)
    link.putrequest("POST", "/v1/screening/claims?filename=big.csv")
    for name, value in {**auth, "Content-Length": str(MAX_CLAIMS_UPLOAD_BYTES + 1)}.items():
        link.putheader(name, value)
    link.endheaders()
    too_large = link.getresponse()  # refused on the declared size, before any byte of the body is read
    refusal = json.loads(too_large.read())["detail"]
    assert too_large.status == 413 and refusal["reason"] == "body_too_large" and "8192 MiB" in refusal["message"]
    link.close()
    wrong_kind = upload(bureau, auth, b"PK\x03\x04", "结算明细.xlsx")
    assert wrong_kind.status_code == 422 and wrong_kind.json()["detail"]["reason"] == "unsupported_file"

    imported = upload(bureau, auth, good)  # the same settlements: none was stored by the refused upload
    assert imported.status_code == 200, imported.text
    assert imported.json()["replaced"] == 0 and imported.json()["rows"] == len(lines) - 1
    again = upload(bureau, auth, good)
    assert again.status_code == 422 and "已导入过" in again.json()["detail"]["errors"][0]["message"]
    replaced = upload(bureau, auth, good, replace="true")
    assert replaced.status_code == 200 and replaced.json()["replaced"] == imported.json()["settlements"]


def test_import_run_ranked_list_drill_down_and_excel(bureau):
    auth = token(bureau)
    before = requests.get(f"{bureau.url}/v1/screening/latest", headers=auth, timeout=30).json()
    assert before["run"] is None and before["institutions"] == []
    good, expected = claims_csv()
    assert upload(bureau, auth, good).status_code == 200

    unknown = requests.post(f"{bureau.url}/v1/screening/runs", json={"rules": ["R-NOPE"]}, headers=auth, timeout=30)
    assert unknown.status_code == 422 and "未知的规则：R-NOPE" in unknown.json()["detail"]["message"]
    ran = requests.post(f"{bureau.url}/v1/screening/runs", json={}, headers=auth, timeout=120)
    assert ran.status_code == 200, ran.text
    run = ran.json()
    assert run["hits"] == len(expected) and run["institutions"] == 4
    assert run["institutions_with_hits"] == len({e.institution for e in expected})

    latest = requests.get(f"{bureau.url}/v1/screening/latest", headers=auth, timeout=30).json()
    assert latest["run"]["id"] == run["id"] and latest["total"] == 4
    ranked = latest["institutions"]
    assert [r["rank"] for r in ranked] == [1, 2, 3, 4]
    assert [r["risk_score"] for r in ranked] == sorted((r["risk_score"] for r in ranked), reverse=True)
    by_code = {r["code"]: r for r in ranked}
    assert by_code[H1]["name"] == FORMULA_NAME and by_code[H2]["name"] == "福州市仓山区螺洲镇卫生院"
    assert by_code[institution_code(0)]["name"] is None and by_code[institution_code(0)]["hits"] == 0
    assert sum(r["hits"] for r in ranked) == len(expected)
    assert {r["code"] for r in latest["top_by_amount"]} == {H1, H2}
    amounts = [Decimal(r["amount_yuan"]) for r in latest["top_by_amount"]]
    assert amounts == sorted(amounts, reverse=True)
    second_page = requests.get(f"{bureau.url}/v1/screening/latest", params={"offset": 1, "limit": 2},
                               headers=auth, timeout=30).json()
    assert [r["code"] for r in second_page["institutions"]] == [r["code"] for r in ranked[1:3]]

    hits_url = f"{bureau.url}/v1/screening/runs/{run['id']}/institutions/{H2}/hits"
    drill = requests.get(hits_url, headers=auth, timeout=30).json()
    planted = [e for e in expected if e.institution == H2]
    assert drill["total"] == len(planted) and drill["institution"]["name"] == "福州市仓山区螺洲镇卫生院"
    assert {(h["rule"], h["settlement_id"], h["person"], h["day"] or h["month"]) for h in drill["hits"]} == \
        {(e.rule, e.settlement_id, e.person, e.when) for e in planted}
    gender = next(h for h in drill["hits"] if h["rule"] == "R-GENDER")
    assert gender["rule_name"] == "限性别项目与参保人性别不符" and gender["amount_yuan"] == "40.00"
    assert "限男性使用" in gender["evidence"]
    paged = requests.get(hits_url, params={"offset": 1, "limit": 2}, headers=auth, timeout=30).json()
    assert [h["seq"] for h in paged["hits"]] == [h["seq"] for h in drill["hits"][1:3]]
    missing = requests.get(f"{bureau.url}/v1/screening/runs/{'0' * 32}/institutions/{H2}/hits", headers=auth,
                           timeout=30)
    assert missing.status_code == 404 and missing.json()["detail"]["reason"] == "no_such_run"
    outside = requests.get(f"{bureau.url}/v1/screening/runs/{run['id']}/institutions/H99999999999/hits",
                           headers=auth, timeout=30)
    assert outside.status_code == 404 and outside.json()["detail"]["reason"] == "not_in_run"

    exported = requests.get(f"{bureau.url}/v1/screening/runs/{run['id']}/export.xlsx", headers=auth, timeout=60)
    assert exported.status_code == 200
    assert "attachment" in exported.headers["Content-Disposition"]
    book = load_workbook(io.BytesIO(exported.content))
    assert book.sheetnames == ["机构风险排名", "疑点明细"]
    institutions = list(book["机构风险排名"].iter_rows(min_row=3, values_only=True))
    assert [row[1] for row in institutions] == [r["code"] for r in ranked]
    h1_row = next(row for row in institutions if row[1] == H1)
    assert h1_row[2] == "'" + FORMULA_NAME and Decimal(str(h1_row[5])) == Decimal(by_code[H1]["amount_yuan"])
    assert book["机构风险排名"]["F3"].number_format == "#,##0.00"
    hits = list(book["疑点明细"].iter_rows(min_row=3, values_only=True))
    assert len(hits) == len(expected) and [row[0] for row in hits] == list(range(1, len(expected) + 1))
    assert all(row[1].data_type == "s" for row in book["机构风险排名"].iter_rows(min_row=3))  # codes stay text


def test_a_store_held_by_another_process_answers_409(bureau_as_process):
    bureau = bureau_as_process
    auth = token(bureau)
    holder = duckdb.connect(str(bureau.settings.data_dir / STORE_FILE))  # this test process holds the file
    try:
        busy = requests.post(f"{bureau.url}/v1/screening/runs", json={}, headers=auth, timeout=60)
        assert busy.status_code == 409, busy.text
        assert busy.json()["detail"]["reason"] == "claims_store_busy" and "另一进程" in busy.json()["detail"]["message"]
    finally:
        holder.close()
    assert requests.post(f"{bureau.url}/v1/screening/runs", json={}, headers=auth, timeout=60).status_code == 200


def test_the_screen_view_model_imports_with_progress_runs_pages_and_exports(bureau):
    client = LoginViewModel(bureau.url).login("zhuren", STAFF_PASSWORD)
    assert client is not None
    vm = ScreeningViewModel(client, page_size=3, hits_page_size=2)
    vm.load()
    assert vm.loaded and vm.run is None and vm.export() is None
    good, expected = claims_csv(persons=200)  # more than one chunk of the upload
    told: list[str] = []
    vm.import_claims("结算明细.csv", good, told.append)
    assert not vm.import_failed and vm.import_message.startswith("已导入 结算明细.csv：结算明细 ")
    assert told[0].startswith("正在上传 结算明细.csv：") and told[-1] == "已上传 结算明细.csv，正在逐行检查并导入…"
    vm.import_claims("结算明细.csv", good)
    assert vm.import_failed and "未导入任何数据" in vm.import_message
    assert (vm.error_count, len(vm.import_errors)) == (1000, MAX_SHOWN_ERRORS)  # the bureau's first 1000, 200 shown

    vm.run_screening()
    assert not vm.run_failed and f"疑点 {len(expected)} 条" in vm.run_message
    assert (vm.total, len(vm.institutions), vm.has_previous, vm.has_next) == (4, 3, False, True)
    vm.load(vm.offset + vm.page_size)
    assert [r["rank"] for r in vm.institutions] == [4] and vm.has_previous and not vm.has_next
    vm.open_institution(H1)
    assert vm.institution is not None and vm.institution["code"] == H1 and len(vm.hits) == 2
    assert vm.hits_total == sum(1 for e in expected if e.institution == H1)
    vm.open_institution(H1, 2)
    assert vm.hits_offset == 2 and vm.hits[0]["seq"] > 0
    workbook = vm.export()
    assert workbook is not None and load_workbook(io.BytesIO(workbook)).sheetnames == ["机构风险排名", "疑点明细"]
    assert vm.xlsx_name().startswith("智能监控筛查-") and vm.xlsx_name().endswith(".xlsx")


ENDPOINTS = [("POST", "/v1/screening/claims?filename=x.csv"), ("POST", "/v1/screening/runs"),
             ("GET", "/v1/screening/latest"), ("GET", f"/v1/screening/runs/{'0' * 32}/institutions/{H1}/hits"),
             ("GET", f"/v1/screening/runs/{'0' * 32}/export.xlsx")]


def test_only_the_supervisor_may_screen(bureau, tmp_path):
    reviewer = token(bureau, "shenhe")
    tablet = open_tablet(tmp_path / "tablet")  # an inspector's enrolled tablet signs its requests
    identity = device.enroll(tablet, bureau.url, issue_token(bureau.settings, "I0001"))
    for method, path in ENDPOINTS:
        anonymous = requests.request(method, bureau.url + path, json={}, timeout=30)
        assert anonymous.status_code == 401 and anonymous.json()["detail"]["reason"] == "not_signed_in"
        refused = requests.request(method, bureau.url + path, json={}, headers=reviewer, timeout=30)
        assert refused.status_code == 403 and refused.json()["detail"]["reason"] == "wrong_role", (path, refused.text)
        signed = sign_request(device.signing_key(identity), identity.key_id, method, path, b"{}")
        inspector = requests.request(method, bureau.url + path, data=b"{}", timeout=30,
                                     headers={**signed, "Content-Type": "application/json"})
        assert inspector.status_code == 401 and inspector.json()["detail"]["reason"] == "not_signed_in", path
    tablet.dispose()
