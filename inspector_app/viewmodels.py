"""View-models: everything a screen shows and every action it offers, testable without a browser.

Views render these and forward taps; they hold no state of their own.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from sqlalchemy.engine import Engine

import checklists
from checklists import scoring
from inspector_app import device
from inspector_app.store import Identity, identities, open_store
from sync.client import BureauRefused, BureauUnreachable

SYNC_TIMEOUT_SECONDS = 20
RESULT_LABELS = {"pass": "符合", "fail": "不符合", "na": "不适用"}


@dataclass
class AppState:
    """One running app: the device store and the inspector signed in on it."""

    home: Path
    engine: Engine
    identity: Identity | None
    server_url: str | None = None

    @classmethod
    def open(cls, home: Path, server_url: str | None = None) -> "AppState":
        engine = open_store(home)
        known = identities(engine)
        return cls(home=home, engine=engine, identity=known[0] if known else None, server_url=server_url)


@dataclass
class AssignmentCard:
    assignment_id: str
    institution_name: str
    institution_code: str
    kind_label: str
    address: str
    status_label: str
    answered: int
    total: int


@dataclass
class HomeViewModel:
    state: AppState
    cards: list[AssignmentCard] = field(default_factory=list)
    offline: bool = False
    message: str = ""

    def refresh(self) -> None:
        """Pull from the bureau when it answers; otherwise show what the device already holds, and say so."""
        identity = self.state.identity
        if identity is None:
            self.cards, self.message = [], "本设备尚未注册检查人员"
            return
        self.offline, self.message = False, ""
        try:
            result = device.pull_assignments(self.state.engine, identity)
            if result.refused:
                self.message = f"有 {result.refused} 项任务的局端签名无效，已拒收"
        except BureauUnreachable:
            self.offline, self.message = True, "离线模式：无法连接局端，显示本机已保存的任务"
        except BureauRefused as exc:
            self.offline, self.message = True, f"局端拒绝：{exc.message}"
        self.cards = [self._card(a) for a in device.assignments(self.state.engine, identity.inspector_code)]

    def _card(self, a) -> AssignmentCard:
        inspection = device.inspection_of(self.state.engine, a.id)
        answered = len(device.answers_of(self.state.engine, inspection.id)) if inspection else 0
        total = len(checklists.template_for_kind(a.institution_kind).items)
        status = {None: "未开始", "draft": "检查中", "finished": "待同步", "sent": "已同步"}[
            inspection.status if inspection else None]
        return AssignmentCard(a.id, a.institution_name, a.institution_code, checklists.KINDS[a.institution_kind],
                              a.institution_address, status, answered, total)

    def sync(self) -> str:
        """Send the outbox; say what was sent, what the bureau refused (and why), and what is still waiting."""
        if self.state.identity is None:
            return "本设备尚未注册检查人员"
        report = device.sync(self.state.engine, timeout=SYNC_TIMEOUT_SECONDS)
        self.refresh()
        parts = [f"已同步 {report.records_sent} 份检查记录"] if report.records_sent else []
        if report.set_aside:
            parts.append(f"{len(report.set_aside)} 份记录被局端拒收：" + "；".join(m["message"] for m in report.set_aside))
        if report.unverified:
            parts.append(f"{len(report.unverified)} 份记录的局端回执无法验证，已保留待重试")
        if report.error:
            parts.append(report.error if report.reason != "timeout" else "无法连接局端，记录保留在本机，稍后再同步")
        return "；".join(parts) or "没有待同步的检查记录"


@dataclass
class ItemRow:
    item_id: str
    section: str
    text: str
    evidence: str
    severity: str
    result: str | None
    note: str
    asks_amount: bool
    amount_yuan: str | None


@dataclass
class InspectionViewModel:
    state: AppState
    assignment_id: str
    message: str = ""

    def __post_init__(self) -> None:
        engine, identity = self.state.engine, self.state.identity
        self.assignment = device.assignment(engine, self.assignment_id)
        self.template = checklists.template_for_kind(self.assignment.institution_kind)
        self.inspection = device.open_inspection(engine, self.assignment_id, identity.inspector_code,
                                                 self.template.id, self.template.hash)

    @property
    def locked(self) -> bool:
        return self.inspection.status != "draft"

    def rows(self) -> list[ItemRow]:
        answers = device.answers_of(self.state.engine, self.inspection.id)
        return [
            ItemRow(item.id, self.template.section_title(item.section), item.text, item.evidence, item.severity,
                    answers[item.id].result if item.id in answers else None,
                    answers[item.id].note if item.id in answers else "",
                    item.asks_amount, answers[item.id].amount_yuan if item.id in answers else None)
            for item in self.template.items
        ]

    def answer(self, item_id: str, result: str, note: str = "", amount_yuan: str | None = None) -> None:
        device.save_answer(self.state.engine, self.inspection.id, item_id, result, note, amount_yuan)

    def _raw_answers(self) -> dict[str, dict]:
        return {k: {"result": a.result, "note": a.note, "amount_yuan": a.amount_yuan}
                for k, a in device.answers_of(self.state.engine, self.inspection.id).items()}

    def progress(self) -> scoring.Progress:
        """Live progress; an `na` still waiting for its reason counts as unanswered."""
        answers = {k: a for k, a in self._raw_answers().items() if a["result"] != "na" or a["note"].strip()}
        return scoring.score_partial(self.template, answers)

    def finish(self) -> bool:
        progress = self.progress()
        if progress.answered < progress.total:
            self.message = f"还有 {progress.total - progress.answered} 项未作答（不适用须填写理由）"
            return False
        try:
            scoring.score(self.template, self._raw_answers())
        except checklists.InputError as exc:
            self.message = f"无法完成：{exc}"
            return False
        device.finish(self.state.engine, self.inspection.id)
        self.inspection = device.inspection_of(self.state.engine, self.assignment_id)
        self.message = "检查已完成，待同步"
        return True
