"""Risk feeds the draw (issue #16): a plan with `"risk_source": "screening"` is weighted by the latest screening run,
which its commitment pins (id, time, digests, hash of the risk list); a later run changes nothing, an altered or
deleted run stops the draw and fails `yibao draw verify`. The pure rules first, then the command line end to end
(SQLite, and PostgreSQL when it answers)."""

from __future__ import annotations

import copy
import io
import json
from decimal import Decimal
from pathlib import Path

import pytest
from playwright.sync_api import expect
from sqlmodel import Session, col, select

from bureau.assignments import utc_iso
from bureau.db import make_engine
from bureau.draw import (
    NO_SCREENING_RUN,
    DrawError,
    make_commitment,
    run_draw,
    screening_basis,
    validate_plan,
    verify_transcript,
)
from bureau.models import Institution, ScreeningHit, ScreeningRun
from staff_app.supervisor_vm import DrawViewModel, LoginViewModel
from sync.canonical import content_hash
from tests.browser import choose, chromium_page, fill, gone, open_app, screenshot, until_taken, wait_shown
from tests.claims_gen import generate, institution_code
from tests.support import (
    SMALL_INSPECTORS,
    STAFF_PASSWORD,
    add_staff,
    init_bureau,
    run_cli,
    serve_in_thread,
    start_app,
    stop,
)
from tests.test_draw import make_plan, make_snapshot

RISK = [{"code": "P35010230000", "risk_score": 12.5, "hits": 3, "amount_yuan": "80.00"},
        {"code": "P35010230002", "risk_score": 100.0, "hits": 9, "amount_yuan": "900.00"},
        {"code": "H99999999999", "risk_score": 40.0, "hits": 1, "amount_yuan": "10.00"}]  # not in the registry


def basis(risk=RISK, run_id: str = "run-1") -> dict:
    return screening_basis(run_id, "2026-11-20T08:00:00Z", "r" * 64, "i" * 64, risk)


def screened_plan(**overrides) -> dict:
    return make_plan(**{"strata": [{"kind": "pharmacy", "count": 2}], "risk_weighted": True,
                        "risk_source": "screening", **overrides})


# ---- the pure draw ---------------------------------------------------------------------------------------------


def test_the_run_weights_each_institution_100_times_one_plus_its_score_and_an_absent_one_scores_0():
    snapshot = make_snapshot({"pharmacy": 4}, risk={"P35010230001": 100, "P35010230003": 100})  # registry risk unused
    transcript = run_draw(screened_plan(), snapshot, screening=basis())
    assert transcript["screening"]["risk"] == [["H99999999999", "40.00"], ["P35010230000", "12.50"],
                                               ["P35010230002", "100.00"]]
    assert transcript["screening"]["risk_hash"] == content_hash(transcript["screening"]["risk"])
    weights = {"P35010230000": 1250 + 100, "P35010230001": 100, "P35010230002": 10000 + 100, "P35010230003": 100}
    first, second = transcript["steps"][:2]
    assert first["modulus"] == sum(weights.values()) == 11650
    assert second["modulus"] == 11650 - weights[first["picked"]]
    assert verify_transcript(transcript) == []
    registry_weighted = run_draw({k: v for k, v in screened_plan().items() if k != "risk_source"}, snapshot)
    assert registry_weighted["steps"][0]["modulus"] == 51 + 101 + 51 + 101 and "screening" not in registry_weighted


def test_risk_source_is_checked_and_a_screening_plan_needs_a_run():
    assert validate_plan(screened_plan()) == []
    assert validate_plan(make_plan(risk_source="registry")) == []
    (error,) = validate_plan(make_plan(risk_source="duckdb"))
    assert error["field"] == "risk_source" and '"screening"' in error["message"]
    (error,) = validate_plan(screened_plan(risk_weighted=False))
    assert error["field"] == "risk_source" and "risk_weighted" in error["message"]
    snapshot = make_snapshot({"pharmacy": 4})
    for attempt in (lambda: make_commitment(screened_plan(), snapshot), lambda: run_draw(screened_plan(), snapshot)):
        with pytest.raises(DrawError, match="没有智能监控筛查记录"):
            attempt()


def test_the_commitment_pins_the_run_and_a_plan_without_risk_source_commits_as_before():
    snapshot = make_snapshot({"pharmacy": 4})
    plain = make_plan()
    assert make_commitment(plain, snapshot, basis()) == make_commitment(plain, snapshot)
    assert set(make_commitment(plain, snapshot)) == {"plan_id", "plan_hash", "registry_hash", "commitment_hash"}
    commitment = make_commitment(screened_plan(), snapshot, basis())
    assert commitment["screening"] == {k: basis()[k] for k in
                                       ("run_id", "ran_at", "result_digest", "input_digest", "risk_hash")}
    committed = {**commitment, "committed_at": "2026-11-21T08:00:00Z"}
    later = basis([{**RISK[0], "risk_score": 90.0}, *RISK[1:]], run_id="run-2")
    with pytest.raises(DrawError, match="与承诺时固定的筛查运行 'run-1' 不同"):
        run_draw(screened_plan(), snapshot, committed, later)
    transcript = run_draw(screened_plan(), snapshot, committed, basis())
    assert verify_transcript(transcript) == []


def test_a_transcript_whose_run_was_edited_does_not_verify():
    snapshot = make_snapshot({"pharmacy": 4})
    committed = {**make_commitment(screened_plan(), snapshot, basis()), "committed_at": "2026-11-21T08:00:00Z"}
    transcript = run_draw(screened_plan(), snapshot, committed, basis())

    edited = copy.deepcopy(transcript)
    edited["screening"]["risk"][1][1] = "99.00"
    assert any("screening.risk_hash" in d for d in verify_transcript(edited))
    edited["screening"]["risk_hash"] = content_hash(edited["screening"]["risk"])
    assert any("commitment.screening" in d for d in verify_transcript(edited))

    dropped = {k: v for k, v in transcript.items() if k != "screening"}
    assert any(d.startswith("screening:") for d in verify_transcript(dropped))
    plain = run_draw(make_plan(), snapshot)
    assert verify_transcript({**plain, "screening": transcript["screening"]}) == [
        f"screening: 记录中多出此项（{json.dumps(transcript['screening'], ensure_ascii=False, sort_keys=True)[:119]}…）"]


# ---- the command line against a bureau database ----------------------------------------------------------------

PLAN = {"plan_id": "2026-筛查加权", "strata": [{"kind": "hospital", "count": 3}], "team_size": 2,
        "risk_weighted": True, "risk_source": "screening"}
PUBLIC_RANDOM = ["03 07 12 19 25 33 + 09"]
CODES = [institution_code(n) for n in range(10)]  # claims name the first 8; the last 2 are absent from any run


@pytest.fixture
def bureau(bureau_settings, tmp_path):
    """A bureau whose registry holds the claims' hospitals (registry risk the reverse of what screening will find)
    and three inspectors, and the claims imported into its store."""
    init_bureau(bureau_settings)
    engine = make_engine(bureau_settings.database_url)
    with Session(engine) as session:
        for n, code in enumerate(CODES):
            session.add(Institution(code=code, name=f"测试医院{n}", kind="hospital", region="350102",
                                    credit_code="12100000400000624D", risk_score=0 if n in (1, 2) else 100))
        for inspector in SMALL_INSPECTORS:
            session.merge(inspector.model_copy())
        session.commit()
    engine.dispose()
    claims = io.StringIO()
    generate(claims, 120, 8)
    (tmp_path / "claims.csv").write_text(claims.getvalue(), encoding="utf-8")
    return bureau_settings


def cli(settings, *args: str, check: bool = True):
    return run_cli(*args, "--db", settings.database_url, "--data", str(settings.data_dir), check=check)


def write_json(path: Path, data) -> str:
    path.write_text(json.dumps(data, ensure_ascii=False), encoding="utf-8")
    return str(path)


def stored_run(settings, run_id: str) -> ScreeningRun:
    engine = make_engine(settings.database_url)
    with Session(engine) as session:
        run = session.get(ScreeningRun, run_id)
        assert run is not None
        session.expunge(run)
    engine.dispose()
    return run


def test_a_committed_plan_draws_by_the_pinned_run_and_verifies_against_it(bureau, tmp_path):
    cli(bureau, "claims", "import", str(tmp_path / "claims.csv"))
    first = json.loads(cli(bureau, "screen", "run", "--out", str(tmp_path / "r1.json")).stdout)
    run = stored_run(bureau, first["run"])
    committed = json.loads(cli(bureau, "draw", "commit", write_json(tmp_path / "plan.json", PLAN)).stdout)
    assert committed["screening"] == {"run_id": run.id, "ran_at": utc_iso(run.ran_at),
                                      "result_digest": first["result_digest"], "input_digest": first["input_digest"],
                                      "risk_hash": committed["screening"]["risk_hash"]}
    second = json.loads(cli(bureau, "screen", "run", "--rules", "R-GENDER", "--out", str(tmp_path / "r2.json")).stdout)
    assert second["result_digest"] != first["result_digest"]

    plan_file = write_json(tmp_path / "plan-random.json", {**PLAN, "public_random": PUBLIC_RANDOM})
    summary = json.loads(cli(bureau, "draw", "run", plan_file, "--out", str(tmp_path / "t.json")).stdout)
    transcript = json.loads((tmp_path / "t.json").read_text(encoding="utf-8"))
    assert summary["screening_run"] == transcript["screening"]["run_id"] == run.id
    assert transcript["commitment"]["screening"] == committed["screening"]
    score = {row["code"]: Decimal(str(row["risk_score"])) for row in run.risk}
    assert transcript["screening"]["risk"] == sorted([c, f"{s:.2f}"] for c, s in score.items())
    weights = {code: int(100 * (1 + score.get(code, Decimal(0)))) for code in CODES}
    assert {weights[c] for c in CODES[8:]} == {100} and weights[CODES[1]] > 100  # absent → 0; planted hits count
    assert transcript["steps"][0]["modulus"] == sum(weights.values())
    drawn = [s["picked"] for s in transcript["steps"] if s["purpose"] == "stratum"]
    assert [s["modulus"] for s in transcript["steps"][:3]] == \
           [sum(weights.values()) - sum(weights[c] for c in drawn[:n]) for n in range(3)]

    verified = cli(bureau, "draw", "verify", str(tmp_path / "t.json"))  # the second run changes nothing
    assert json.loads(verified.stdout) == {"valid": True, "plan_id": PLAN["plan_id"], "committed": True,
                                           "selected": 3, "transcript_hash": summary["transcript_hash"],
                                           "screening_run": run.id, "screening_checked": True}
    alone = run_cli("draw", "verify", str(tmp_path / "t.json"))  # the public holds the transcript, not the database
    assert json.loads(alone.stdout)["screening_checked"] is False and f"未核对筛查运行 {run.id}" in alone.stderr

    other = {**PLAN, "plan_id": "2026-筛查加权-2"}
    cli(bureau, "draw", "commit", write_json(tmp_path / "other.json", other))  # pins the second run
    engine = make_engine(bureau.database_url)
    with Session(engine) as session:
        stored = session.get(ScreeningRun, second["run"])
        stored.risk = [{**row, "risk_score": 100.0} for row in stored.risk]
        session.add(stored)
        session.commit()
    other_file = write_json(tmp_path / "other-random.json", {**other, "public_random": PUBLIC_RANDOM})
    refused = cli(bureau, "draw", "run", other_file, "--dry-run", "--out", str(tmp_path / "o.json"), check=False)
    assert refused.returncode == 1 and f"筛查运行 {second['run']} 的疑点或风险分与其 result_digest 不符" in refused.stderr

    with Session(engine) as session:
        hit = session.exec(select(ScreeningHit).where(ScreeningHit.run_id == run.id)
                           .order_by(col(ScreeningHit.seq))).first()
        hit.evidence += "（改）"
        session.add(hit)
        session.commit()
    tampered = cli(bureau, "draw", "verify", str(tmp_path / "t.json"), check=False)
    assert tampered.returncode == 1 and json.loads(tampered.stdout)["valid"] is False
    assert f"不一致：screening: 筛查运行 {run.id} 的疑点或风险分与其 result_digest 不符" in tampered.stderr

    with Session(engine) as session:
        for row in session.exec(select(ScreeningHit).where(ScreeningHit.run_id == run.id)):
            session.delete(row)
        session.delete(session.get(ScreeningRun, run.id))
        session.commit()
    engine.dispose()
    deleted = cli(bureau, "draw", "verify", str(tmp_path / "t.json"), check=False)
    assert deleted.returncode == 1 and f"不一致：screening.run_id: 数据库中没有筛查运行 {run.id}" in deleted.stderr


def test_without_a_screening_run_commit_and_draw_refuse_and_a_bad_source_is_named(bureau, tmp_path):
    refused = cli(bureau, "draw", "commit", write_json(tmp_path / "plan.json", PLAN), check=False)
    assert refused.returncode == 1 and NO_SCREENING_RUN in refused.stderr
    plan_file = write_json(tmp_path / "plan-random.json", {**PLAN, "plan_id": "未承诺", "public_random": PUBLIC_RANDOM})
    drawn = cli(bureau, "draw", "run", plan_file, "--dry-run", "--out", str(tmp_path / "t.json"), check=False)
    assert drawn.returncode == 1 and NO_SCREENING_RUN in drawn.stderr
    bad = cli(bureau, "draw", "commit", write_json(tmp_path / "bad.json", {**PLAN, "risk_source": "最新"}), check=False)
    assert bad.returncode == 1 and "bad.json：risk_source: 应为" in bad.stderr


# ---- the supervisor's draw screen (view-model against a running bureau) ----------------------------------------


@pytest.fixture
def running(bureau, operator_passphrase):
    add_staff(bureau, "zhuren", "supervisor")
    server = serve_in_thread(bureau)
    try:
        yield server
    finally:
        stop(server.process)


def test_the_draw_screen_offers_the_screening_run_as_risk_source(running, tmp_path):
    client = LoginViewModel(running.url).login("zhuren", STAFF_PASSWORD)
    assert client is not None
    vm = DrawViewModel(client, plan_id="界面-筛查加权", risk_source="screening", public_random="福彩3D 2026-12-01 4 0 8")
    vm.strata[0].mode, vm.strata[0].value = "count", "3"  # hospitals
    assert "risk_source" not in vm.plan(with_random=False)  # not weighted: no risk is used at all
    vm.risk_weighted = True
    assert vm.plan(with_random=False)["risk_source"] == "screening"
    vm.commit()
    assert vm.errors == [NO_SCREENING_RUN] and vm.commitment is None

    running.cli("claims", "import", str(tmp_path / "claims.csv"))
    run_id = json.loads(running.cli("screen", "run", "--out", str(tmp_path / "r.json")).stdout)["run"]
    vm.commit()
    assert vm.errors == [] and vm.commitment["screening"]["run_id"] == run_id
    assert f"（风险分取自智能监控筛查 {run_id[:8]}（" in vm.message
    vm.run_preview()
    assert vm.errors == [] and vm.preview["transcript"]["screening"]["run_id"] == run_id
    vm.publish()
    assert vm.errors == [] and vm.published["transcript"]["selected"] == vm.preview["transcript"]["selected"]
    verified = running.cli("draw", "verify", write_json(tmp_path / "t.json", vm.published["transcript"]))
    assert json.loads(verified.stdout)["screening_run"] == run_id


@pytest.mark.browser
def test_the_risk_source_choice_in_the_browser(running, tmp_path):
    if not running.settings.database_url.startswith("sqlite"):
        pytest.skip("the browser walk runs once, on SQLite; the view-model test covers PostgreSQL")
    app, url = start_app(tmp_path / "desk", running.url)
    try:
        with chromium_page(viewport=(1400, 1000)) as page:
            open_app(page, url)
            page.get_by_role("button", name="局端人员登录").click()
            gone(page, "请输入科室负责人提供的注册码")
            fill(page, "账号", "zhuren")
            fill(page, "密码", STAFF_PASSWORD)
            page.get_by_role("button", name="登录", exact=True).click()
            page.get_by_text("双随机抽查").click()
            gone(page, "名录库导入")
            fill(page, "计划编号", "界面-筛查加权")
            fill(page, "比例（如 0.10）或家数", "0.3", nth=0)  # hospitals: 3 of 10
            switch = page.get_by_role("switch", name="按风险分加权（风险越高，被抽中的机会越大）")
            until_taken(lambda: switch.click(), lambda: expect(switch).to_be_checked(timeout=3000),
                        "the weighting switch did not take")
            choose(page, "最近一次智能监控筛查")
            page.get_by_role("button", name="承诺计划（公布承诺值）").click()
            wait_shown(page, "数据库中没有智能监控筛查记录")
            screenshot(page, "supervisor-draw-no-screening-run")

            running.cli("claims", "import", str(tmp_path / "claims.csv"))
            run_id = json.loads(running.cli("screen", "run", "--out", str(tmp_path / "r.json")).stdout)["run"]
            page.get_by_role("button", name="承诺计划（公布承诺值）").click()
            wait_shown(page, f"风险分取自智能监控筛查 {run_id[:8]}")
            fill(page, "公开随机数（承诺之后产生，如某期彩票开奖号码，用逗号或换行分隔）", "福彩3D 2026-12-01 4 0 8")
            page.get_by_role("button", name="预览抽取结果").click()
            wait_shown(page, "预览：抽中 3 家")
            screenshot(page, "supervisor-draw-screening-preview")
    finally:
        stop(app)
