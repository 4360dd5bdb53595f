"""`yibao draw commit | run | verify` end to end against a bureau database (SQLite, and PostgreSQL when it answers)."""

from __future__ import annotations

import json
from datetime import datetime, timezone
from pathlib import Path

import pytest
from sqlmodel import Session, select

from bureau import keystore
from bureau.assignments import signed_content
from bureau.db import make_engine
from bureau.draw import make_commitment
from bureau.draw_records import load_snapshot
from bureau.models import Assignment, AssignmentMember, DrawRecord
from bureau.registry import import_registry
from sync.assignments import assignment_signature_valid
from sync.canonical import canonical_bytes
from tests.support import PASSPHRASE, init_bureau, repo_root, run_cli

DEMO = repo_root() / "bureau" / "demo"
PLAN = {
    "plan_id": "2026-闽榕-第1批",
    "title": "2026 年第一批双随机抽查",
    "strata": [{"kind": "hospital", "ratio": "0.25"}, {"kind": "primary", "ratio": "0.10"},
               {"kind": "private", "count": 2}, {"kind": "pharmacy", "ratio": "0.20"}],
    "team_size": 2,
    "max_assignments_per_inspector": 2,
    "risk_weighted": True,
    "include_followups": True,
    "random_sources": ["2026-11-24 福彩双色球开奖号码（含蓝球）", "2026-11-24 上证综指收盘点位"],
}
PUBLIC_RANDOM = ["03 07 12 19 25 33 + 09", "3421.57"]


@pytest.fixture
def bureau(bureau_settings):
    """A bureau with keys and the demo registries imported."""
    init_bureau(bureau_settings)
    engine = make_engine(bureau_settings.database_url)
    with Session(engine) as session:
        for kind in ("institutions", "inspectors", "conflicts"):
            data = (DEMO / f"{kind}.csv").read_bytes()
            import_registry(session, kind, data, f"{kind}.csv", datetime.now(timezone.utc))
        session.commit()
    engine.dispose()
    return bureau_settings


def cli(settings, *args: str, check: bool = True):
    return run_cli(*args, "--db", settings.database_url, "--data", str(settings.data_dir), check=check)


def write_json(path: Path, data) -> str:
    path.write_text(json.dumps(data, ensure_ascii=False), encoding="utf-8")
    return str(path)


def test_commit_then_run_issues_signed_assignments_that_match_a_verifiable_transcript(bureau, tmp_path):
    committed = json.loads(cli(bureau, "draw", "commit", write_json(tmp_path / "plan.json", PLAN)).stdout)
    engine = make_engine(bureau.database_url)
    with Session(engine) as session:
        assert committed == {**make_commitment(PLAN, load_snapshot(session)), "committed_at": committed["committed_at"]}

    plan_file = write_json(tmp_path / "plan-random.json", {**PLAN, "public_random": PUBLIC_RANDOM})
    preview = cli(bureau, "draw", "run", plan_file, "--dry-run", "--out", str(tmp_path / "preview.json"))
    assert json.loads(preview.stdout)["assignments_issued"] == 0 and "警告" not in preview.stderr
    with Session(engine) as session:
        assert session.exec(select(Assignment)).all() == []

    summary = json.loads(cli(bureau, "draw", "run", plan_file, "--out", str(tmp_path / "t.json")).stdout)
    transcript = json.loads((tmp_path / "t.json").read_text(encoding="utf-8"))
    assert (tmp_path / "t.json").read_bytes() == canonical_bytes(transcript) + b"\n"
    preview_transcript = json.loads((tmp_path / "preview.json").read_text(encoding="utf-8"))
    assert {k: v for k, v in transcript.items() if k != "drawn_at"} == \
           {k: v for k, v in preview_transcript.items() if k != "drawn_at"}
    assert transcript["committed"] is True
    assert transcript["commitment"]["commitment_hash"] == committed["commitment_hash"]
    assert [s["quota"] for s in transcript["strata"]] == [2, 2, 2, 3]
    assert summary["selected"] == summary["assignments_issued"] == 9

    public = keystore.open_signing_key(bureau, PASSPHRASE.encode()).public_key()
    with Session(engine) as session:
        issued = session.exec(select(Assignment).where(Assignment.plan_id == PLAN["plan_id"])).all()
        assert sorted((a.institution_code, tuple(a.team), a.reason) for a in issued) == \
               sorted((s["institution"], tuple(s["team"]), s["reason"]) for s in transcript["selected"])
        assert {a.status for a in issued} == {"已下达"}
        assert all(assignment_signature_valid({**signed_content(a), "signature": a.signature}, public) for a in issued)
        assert len(session.exec(select(AssignmentMember)).all()) == 18
        record = session.get(DrawRecord, PLAN["plan_id"])
        assert record.selected == 9 and record.transcript_hash == summary["transcript_hash"]
    engine.dispose()

    verified = run_cli("draw", "verify", str(tmp_path / "t.json"))
    assert json.loads(verified.stdout)["valid"] is True and "验证通过" in verified.stderr

    transcript["selected"][0]["team"].reverse()
    tampered = write_json(tmp_path / "tampered.json", transcript)
    refused = run_cli("draw", "verify", tampered, check=False)
    assert refused.returncode == 1
    assert "不一致：selected[0].team[0]" in refused.stderr and json.loads(refused.stdout)["valid"] is False

    again = cli(bureau, "draw", "run", plan_file, "--out", str(tmp_path / "t2.json"), check=False)
    assert again.returncode == 1 and "不能重复抽取" in again.stderr


def test_a_registry_change_after_the_commitment_stops_the_draw(bureau, tmp_path):
    cli(bureau, "draw", "commit", write_json(tmp_path / "plan.json", PLAN))
    lines = (DEMO / "institutions.csv").read_text(encoding="utf-8").splitlines()
    lines = [line for line in lines if not line.startswith("P35010200001,")]  # one pharmacy leaves the registry
    changed = tmp_path / "institutions.csv"
    changed.write_text("\n".join(lines) + "\n", encoding="utf-8")
    assert json.loads(cli(bureau, "registry", "import", "institutions", str(changed)).stdout)["deactivated"] == 1

    plan_file = write_json(tmp_path / "plan-random.json", {**PLAN, "public_random": PUBLIC_RANDOM})
    for extra in (["--dry-run"], []):
        result = cli(bureau, "draw", "run", plan_file, "--out", str(tmp_path / "t.json"), *extra, check=False)
        assert result.returncode == 1 and "名录库自承诺后已变更" in result.stderr
    assert not (tmp_path / "t.json").exists()

    different = write_json(tmp_path / "plan2.json", {**PLAN, "team_size": 3})
    result = cli(bureau, "draw", "commit", different, check=False)
    assert result.returncode == 1 and "承诺不能更改" in result.stderr


def test_an_uncommitted_plan_runs_with_a_warning(bureau, tmp_path):
    plan_file = write_json(tmp_path / "plan.json", {**PLAN, "plan_id": "未承诺", "public_random": PUBLIC_RANDOM})
    result = cli(bureau, "draw", "run", plan_file, "--dry-run", "--out", str(tmp_path / "t.json"))
    assert "警告：该计划未经事先承诺" in result.stderr
    assert json.loads(result.stdout)["committed"] is False
    verified = run_cli("draw", "verify", str(tmp_path / "t.json"))
    assert "警告：该计划未经事先承诺" in verified.stderr


def test_bad_plans_and_impossible_rules_exit_1_and_name_the_problem(bureau, tmp_path):
    bad = write_json(tmp_path / "bad.json", {**PLAN, "strata": [{"kind": "hospital", "ratio": 0.1}]})
    result = cli(bureau, "draw", "commit", bad, check=False)
    assert result.returncode == 1 and 'strata[0].ratio: 应为 0 到 1 之间的小数，如 "0.10"' in result.stderr

    too_big = write_json(tmp_path / "big.json", {**PLAN, "team_size": 13, "public_random": PUBLIC_RANDOM})
    result = cli(bureau, "draw", "run", too_big, "--out", str(tmp_path / "t.json"), check=False)
    assert result.returncode == 1 and "不足以组成 13 人检查组" in result.stderr

    (tmp_path / "broken.json").write_text("{\"plan_id\": ", encoding="utf-8")
    assert cli(bureau, "draw", "commit", str(tmp_path / "broken.json"), check=False).returncode == 1
    assert cli(bureau, "draw", "commit", str(tmp_path / "none.json"), check=False).returncode == 2
    assert run_cli("draw", "verify", str(tmp_path / "broken.json"), check=False).returncode == 1


def test_the_draw_commands_pause_the_cycle_collector_and_give_it_back(bureau, tmp_path, monkeypatch):
    """A draw builds a registry's worth of lists that hold no cycles: its commands run with the cyclic collector
    paused (its passes over them cost a third of the work) and restore it after, also when they fail."""
    import gc

    from typer.testing import CliRunner

    import bureau.draw as draw
    from yibao.cli import app

    paused = []
    verify_transcript = draw.verify_transcript
    monkeypatch.setattr(draw, "verify_transcript", lambda t: paused.append(not gc.isenabled()) or verify_transcript(t))
    runner = CliRunner()
    plan_file = write_json(tmp_path / "plan.json", {**PLAN, "plan_id": "未承诺", "public_random": PUBLIC_RANDOM})
    where = ["--db", bureau.database_url, "--data", str(bureau.data_dir)]
    ran = runner.invoke(app, ["draw", "run", plan_file, "--dry-run", "--out", str(tmp_path / "t.json"), *where])
    assert ran.exit_code == 0, ran.output
    assert gc.isenabled()
    verified = runner.invoke(app, ["draw", "verify", str(tmp_path / "t.json")])
    assert verified.exit_code == 0 and json.loads(verified.stdout)["valid"] is True
    assert paused == [True] and gc.isenabled()
    (tmp_path / "broken.json").write_text("{", encoding="utf-8")
    assert runner.invoke(app, ["draw", "verify", str(tmp_path / "broken.json")]).exit_code == 1
    assert gc.isenabled()
