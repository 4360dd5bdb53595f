"""The supervisor's work through the bureau API and the screens' view-models: sign-in, roles, registry import,
commit → public random → preview → publish, coverage, enrollment tokens."""

from __future__ import annotations

import base64

import pytest
import requests

from inspector_app import device
from inspector_app.store import open_store
from staff_app.staff_client import BureauRefused
from staff_app.supervisor_vm import (
    AssignmentsViewModel,
    CoverageViewModel,
    DrawViewModel,
    EnrollTokenViewModel,
    LoginViewModel,
    RegistryImportViewModel,
)
from tests.support import (
    STAFF_PASSWORD,
    add_staff,
    demo_file,
    init_bureau,
    serve_in_thread,
    stop,
)


@pytest.fixture
def bureau_with_staff(bureau_settings, operator_passphrase):
    init_bureau(bureau_settings)
    add_staff(bureau_settings, "zhuren", "supervisor")
    add_staff(bureau_settings, "shenhe", "reviewer")
    bureau = serve_in_thread(bureau_settings)
    try:
        yield bureau
    finally:
        stop(bureau.process)


def sign_in(bureau, username="zhuren"):
    client = LoginViewModel(bureau.url).login(username, STAFF_PASSWORD)
    assert client is not None
    return client


SUPERVISOR_ENDPOINTS = [
    ("POST", "/v1/registry/institutions?filename=x.csv&dry_run=true"),
    ("POST", "/v1/draws/commit"),
    ("POST", "/v1/draws/run"),
    ("GET", "/v1/draws"),
    ("GET", "/v1/draws/p1/transcript"),
    ("GET", "/v1/draws/assignments?plan_id=p1"),
    ("POST", "/v1/assignments/a1/revoke"),
    ("GET", "/v1/coverage"),
    ("POST", "/v1/enroll-tokens"),
]


@pytest.mark.parametrize("method,path", SUPERVISOR_ENDPOINTS)
def test_supervisor_endpoints_refuse_anonymous_and_other_roles(bureau_with_staff, method, path):
    url = bureau_with_staff.url + path
    anonymous = requests.request(method, url, json={}, timeout=10)
    assert anonymous.status_code == 401 and anonymous.json()["detail"]["reason"] == "not_signed_in"
    reviewer = sign_in(bureau_with_staff, "shenhe")
    wrong_role = requests.request(method, url, json={}, timeout=10, headers={"Authorization": f"Bearer {reviewer.token}"})
    assert wrong_role.status_code == 403 and wrong_role.json()["detail"]["reason"] == "wrong_role"
    forged = requests.request(method, url, json={}, timeout=10, headers={"Authorization": "Bearer forged-token"})
    assert forged.status_code == 401


def test_wrong_password_and_lockout(bureau_with_staff):
    vm = LoginViewModel(bureau_with_staff.url)
    for _ in range(5):
        assert vm.login("zhuren", "wrong password") is None
        assert vm.message == "账号或密码错误"
    assert vm.login("zhuren", STAFF_PASSWORD) is None and "锁定" in vm.message
    assert vm.login("nobody", "whatever") is None and vm.message == "账号或密码错误"


def test_registry_import_checks_then_imports_all_or_nothing(bureau_with_staff):
    client = sign_in(bureau_with_staff)
    vm = RegistryImportViewModel(client, kind="institutions")
    bad = demo_file("institutions.csv").read_text(encoding="utf-8").replace("P35010200001", "X12", 1)
    vm.choose("bad.csv", bad.encode("gbk"))
    assert vm.errors and not vm.can_import
    assert any(e["column"] == "机构编码" and e["line"] >= 2 for e in vm.errors)
    assert client.coverage()["total"] == 0  # nothing imported

    for kind, name in (("institutions", "institutions.csv"), ("inspectors", "inspectors.csv"),
                       ("conflicts", "conflicts.csv")):
        vm = RegistryImportViewModel(client, kind=kind)
        vm.choose(name, demo_file(name).read_bytes())
        assert vm.errors == [] and vm.can_import, vm.message
        vm.run_import()
        assert vm.imported["rows"] > 0 and "已导入" in vm.message
    assert client.coverage()["total"] == 40


def import_demo(client):
    for kind, name in (("institutions", "institutions.csv"), ("inspectors", "inspectors.csv"),
                       ("conflicts", "conflicts.csv")):
        client.upload_registry(kind, name, demo_file(name).read_bytes(), dry_run=False)


def test_commit_preview_publish_and_the_device_receives_it(bureau_with_staff, tmp_path):
    client = sign_in(bureau_with_staff)
    import_demo(client)
    vm = DrawViewModel(client, plan_id="2026-Q4-鼓楼")
    vm.strata[3].value = "0.25"  # pharmacies
    vm.strata[0].mode, vm.strata[0].value = "count", "2"  # hospitals
    vm.commit()
    assert vm.errors == [] and len(vm.commitment["commitment_hash"]) == 64

    vm.run_preview()
    assert vm.errors == ["请填写公开随机数（如某期福利彩票开奖号码）"]
    vm.public_random = "2026-11-30 福彩3D 5 1 7\n双色球 03 08 15 21 27 33 + 09"
    vm.run_preview()
    assert vm.errors == [], vm.errors
    preview = vm.preview["transcript"]
    assert preview["committed"] is True
    assert client.draws()[0]["drawn"] is False  # a preview issues nothing

    vm.publish()
    assert vm.published["transcript"]["selected"] == preview["selected"]
    assert vm.published["transcript_hash"] == vm.preview["transcript_hash"]
    assert client.draws()[0]["drawn"] is True
    vm.publish()
    assert any("不能重复抽取" in e for e in vm.errors)

    # A team member's tablet receives the signed assignment.
    member = preview["selected"][0]["team"][0]
    tokens = EnrollTokenViewModel(client)
    tokens.issue(member)
    assert tokens.qr().startswith(b"\x89PNG")
    engine = open_store(tmp_path / "tablet")
    identity = device.enroll(engine, bureau_with_staff.url, tokens.token)
    assert device.pull_assignments(engine, identity).received >= 1
    codes = {a.institution_code for a in device.assignments(engine, member)}
    assert preview["selected"][0]["institution"] in codes


def test_the_supervisor_withdraws_an_issued_assignment_and_the_tablet_drops_it(bureau_with_staff, tmp_path):
    client = sign_in(bureau_with_staff)
    import_demo(client)
    vm = AssignmentsViewModel(client)
    client.server_url, server_url = "http://127.0.0.1:9", client.server_url  # nothing listens there
    vm.load()
    assert vm.failed and vm.message == "无法连接局端服务"
    client.server_url = server_url
    vm.load()
    assert vm.plans == [] and vm.assignments == [] and not vm.failed and vm.message == ""
    for plan_id in ("2026-Q3/药店", "2026-Q4-鼓楼"):  # a "/" in a plan id is a query value, not a path
        draw = DrawViewModel(client, plan_id=plan_id, public_random="福彩3D 2026-12-01 4 0 8")
        draw.strata[3].mode, draw.strata[3].value = "count", "2"
        draw.commit()
        draw.publish()
        assert draw.errors == [], draw.errors

    vm.load()
    assert vm.plans == ["2026-Q4-鼓楼", "2026-Q3/药店"] and vm.plan_id == "2026-Q4-鼓楼"  # newest first
    vm.choose("2026-Q3/药店")
    vm.load()
    assert len(vm.assignments) == 2 and vm.counts() == {"已下达": 2}
    target = vm.assignments[0]
    assert target["institution"]["kind"] == "pharmacy" and target["records"] == 0
    assert len(target["team_names"]) == len(target["team"]) >= 2 and target["team_names"][0] != target["team"][0]

    member = target["team"][0]
    tokens = EnrollTokenViewModel(client)
    tokens.issue(member)
    engine = open_store(tmp_path / "tablet")
    identity = device.enroll(engine, bureau_with_staff.url, tokens.token)
    device.pull_assignments(engine, identity)
    assert target["id"] in {a.id for a in device.assignments(engine, member)}

    assert vm.revoke(target["id"], "  ") == "撤回检查任务须写明理由"
    assert vm.counts() == {"已下达": 2}
    assert vm.revoke(target["id"], "检查组成员与该机构负责人系近亲属，申请回避") == ""
    assert "已撤回对" in vm.message and not vm.failed, vm.message
    [withdrawn] = [a for a in vm.assignments if a["id"] == target["id"]]
    assert withdrawn["revoked"] and withdrawn["status"] == "已撤回" and withdrawn["revoked_by"] == "zhuren"
    assert withdrawn["revoked_reason"] == "检查组成员与该机构负责人系近亲属，申请回避" and withdrawn["revoked_at"]
    assert list(vm.counts().items()) == [("已下达", 1), ("已撤回", 1)]
    # A second tap, from a screen not yet refreshed, is refused with the reason.
    problem = vm.revoke(target["id"], "重复")
    assert "已于" in problem and "撤回" in problem

    device.pull_assignments(engine, identity)
    assert target["id"] not in {a.id for a in device.assignments(engine, member)}

    reviewer = sign_in(bureau_with_staff, "shenhe")
    with pytest.raises(BureauRefused) as refused:
        reviewer.plan_assignments("2026-Q3/药店")
    assert refused.value.status == 403
    with pytest.raises(BureauRefused) as refused:
        client.plan_assignments("no-such-plan")
    assert refused.value.status == 404 and "尚未抽取" in refused.value.message


def test_plan_form_errors_are_named(bureau_with_staff):
    vm = DrawViewModel(sign_in(bureau_with_staff))
    vm.team_size = "两人"
    vm.strata[1].value = "十分之一"
    vm.commit()
    assert "请填写计划编号" in vm.errors and "每组人数应为整数" in vm.errors
    assert any(e.startswith("基层医疗机构：比例") for e in vm.errors)
    vm.plan_id, vm.team_size, vm.strata[1].value = "p-1", "1", "0.1"
    vm.commit()  # the bureau's own validation: a team needs at least 2 (条例 Art. 29)
    assert any("team_size" in e for e in vm.errors), vm.errors


def test_coverage_and_tokens(bureau_with_staff):
    client = sign_in(bureau_with_staff)
    import_demo(client)
    coverage = CoverageViewModel(client)
    coverage.load()
    report = coverage.report
    assert report["total"] == 40 and report["covered"] + report["overdue"] == 40
    assert sum(r["total"] for r in report["by_region"]) == 40
    tokens = EnrollTokenViewModel(client)
    tokens.issue("NOBODY")
    assert tokens.token == "" and "NOBODY" in tokens.message
    tokens.issue("I0001")
    assert len(tokens.token) > 16
    public = base64.b64encode(b"\x07" * 32).decode()
    enrolled = requests.post(bureau_with_staff.url + "/v1/devices/enroll", timeout=10,
                             json={"token": tokens.token, "device_id": "device-tok1", "public_key": public})
    assert enrolled.status_code == 200 and enrolled.json()["inspector_code"] == "I0001"
