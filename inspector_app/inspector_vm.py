"""View-models: everything a screen shows and every action it offers, testable without a browser.

Views render these and forward taps; they hold no state of their own. Every action that changes the inspection is
durable when it returns (`onsite`); a message in Chinese says what went wrong.
"""

from __future__ import annotations

import threading
from contextlib import AbstractContextManager
from dataclasses import dataclass, field, replace
from datetime import datetime
from pathlib import Path
from typing import Any, Callable, Collection

from sqlalchemy.engine import Engine
from sqlmodel import Session, col, select

import checklists
from checklists import scoring
from checklists.onsite_record import record_rules
from checklists.templates import Item
from documents import signature
from inspector_app import device, keyring, onsite, photos
from inspector_app.evidence_store import EvidenceStore
from inspector_app.store import (
    CheckIn,
    Identity,
    identities,
    open_store,
)
from inspector_app.sync_protocol import SyncProgress
from inspector_app.vault import DataKey
from sync.bureau_http import BureauRefused, BureauUnreachable

SYNC_TIMEOUT_SECONDS = 20
OFFLINE_MESSAGE = "离线模式：无法连接局端，显示本机已保存的任务"
ROLE_TITLES = {"inspector_1": "检查人员（一）", "inspector_2": "检查人员（二）", "representative": "被检查单位在场人员",
               "witness": "见证人"}
PAD_SIZE = (640, 240)  # the signature pad, logical px


@dataclass
class AppState:
    """One browser session of the app: the device store, the inspector using it, and the inspectors who unlocked
    with their PIN in this session (their keys live here, in memory, and nowhere else)."""

    home: Path
    engine: Engine
    identity: Identity | None
    server_url: str | None = None
    evidence: EvidenceStore | None = None
    unlocked: dict[str, keyring.Unlocked] = field(default_factory=dict)

    @classmethod
    def open(cls, home: Path, server_url: str | None = None) -> "AppState":
        engine = open_store(home)
        evidence = EvidenceStore(home)
        evidence.sweep()
        known = identities(engine)
        return cls(home=home, engine=engine, identity=known[0] if known else None, server_url=server_url,
                   evidence=evidence)

    @property
    def active(self) -> keyring.Unlocked | None:
        return self.unlocked.get(self.identity.inspector_code) if self.identity else None

    @property
    def needs_pin(self) -> bool:
        """The inspector enrolled headless and has not chosen a PIN yet."""
        return self.identity is not None and not keyring.has_pin(self.engine, self.identity.inspector_code)

    @property
    def data_key(self) -> DataKey:
        if self.active is None:
            raise device.DeviceError("请先输入 PIN 解锁")
        return self.active.data_key

    def inspectors(self) -> list[str]:
        """Inspector codes enrolled on this tablet, in enrollment order."""
        return list(dict.fromkeys(i.inspector_code for i in identities(self.engine)))

    def unlock(self, inspector_code: str, pin: str) -> str:
        """"" when unlocked (and now the inspector using the app), else why not."""
        try:
            opened = keyring.unlock(self.engine, inspector_code, pin)
        except keyring.PinError as exc:
            return str(exc)
        self.unlocked[inspector_code] = opened
        if self.identity is None or self.active is None or self.identity.inspector_code == inspector_code:
            self.identity = opened.identity
        return ""

    def unlock_signer(self, inspector_code: str, pin: str) -> str:
        """A second team member unlocks to sign; the app stays with the inspector using it."""
        try:
            self.unlocked[inspector_code] = keyring.unlock(self.engine, inspector_code, pin)
        except keyring.PinError as exc:
            return str(exc)
        return ""

    def set_pin(self, pin: str, again: str) -> str:
        if pin != again:
            return "两次输入的 PIN 不一致"
        assert self.identity is not None  # offered only to an enrolled inspector without a PIN (`needs_pin`)
        try:
            opened = keyring.set_pin(self.engine, self.identity, pin, self.active.data_key if self.active else
                                     next((u.data_key for u in self.unlocked.values()), None))
        except keyring.PinError as exc:
            return str(exc)
        self.unlocked[opened.inspector_code] = opened
        self.identity = opened.identity
        return ""

    def change_pin(self, old: str, new: str, again: str) -> str:
        """The inspector using the app changes their PIN: only their two keys are wrapped again, nothing the data
        key encrypts is touched. "" when done, else why not."""
        if new != again:
            return "两次输入的新 PIN 不一致"
        if new == old:
            return "新 PIN 不能与原 PIN 相同"
        assert self.identity is not None  # offered only to the unlocked inspector using the app
        try:
            keyring.change_pin(self.engine, self.identity.inspector_code, old, new)
        except keyring.PinError as exc:
            return str(exc)
        return ""

    def enroll(self, server_url: str, token: str, pin: str, again: str) -> str:
        """Enroll an inspector on this tablet with their PIN: the first one, or another team member while an
        inspector is unlocked (the device data key comes from them)."""
        if pin != again:
            return "两次输入的 PIN 不一致"
        if not server_url or not token:
            return "请填写局端地址和注册码"
        try:
            identity = device.enroll(self.engine, server_url, token, pin=pin,
                                     data_key=self.active.data_key if self.active else None)
        except BureauUnreachable:
            return "无法连接局端，请检查网络或地址"
        except BureauRefused as exc:
            return f"注册失败：{exc.message}"
        except device.DeviceError as exc:
            return str(exc)
        first = self.active is None
        problem = self.unlock(identity.inspector_code, pin) if first else \
            self.unlock_signer(identity.inspector_code, pin)
        return problem

    def lock(self) -> None:
        self.unlocked.clear()

    def session(self) -> AbstractContextManager[None]:
        """Keys for the sync run's signed requests (`device.signing_key` looks them up)."""
        ordered = sorted(self.unlocked.values(), key=lambda u: u is not self.active)
        return keyring.session(ordered)

    def load_blob(self, sha256: str) -> bytes:
        """A photo's evidence image for the outbox (`sync_protocol.run(load_blob=...)`): it is encrypted here."""
        assert self.evidence is not None  # `open` always opens the evidence store
        return self.evidence.stored_image(self.data_key, sha256)

    def signers(self, team: list[str]) -> list[keyring.Unlocked]:
        return [u for code, u in self.unlocked.items() if code in team]


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


STATUS_LABELS = {None: "未开始", "draft": "检查中", "finished": "待同步", "sent": "已同步"}
HOME_PAGE = 30  # cards the task list draws at a time ("显示更多" draws the next ones)


def team_assignments(engine: Engine, inspector_code: str,
                     begun: Collection[str] | None = None) -> list[device.ListedAssignment]:
    """The assignments of every team this inspector is on, whoever pulled them. One the bureau revoked stays listed
    (as revoked) while the tablet holds an inspection of it: nothing on the tablet is ever hidden. `begun`: the
    assignments with an inspection (read from the store when not given)."""
    if begun is None:
        begun = device.current_inspections(engine)
    return [a for a in device.listed_assignments(engine)
            if inspector_code in a.team and (not a.revoked or a.id in begun)]


def assignment_card(a: device.ListedAssignment, current: device.InspectionSummary | None,
                    total: int) -> AssignmentCard:
    """The task list's card of an assignment, given its current inspection (None: not begun) and its checklist's
    count of items."""
    status = STATUS_LABELS[current.status if current else None]
    if current is not None and current.version > 1:
        status = f"{status}（更正第 {current.version} 版）"
    if a.revoked:
        status = f"{status} · 局端已撤回此任务"
    return AssignmentCard(a.id, a.institution_name, a.institution_code, checklists.KINDS[a.institution_kind],
                          a.institution_address, status, current.answered if current else 0, total)


def shown_size(size: int) -> str:
    """Bytes as people read them: 512 KB, 3.4 MB."""
    return f"{size / 1024 / 1024:.1f} MB" if size >= 1024 * 1024 else f"{-(-size // 1024)} KB"


def sync_progress_text(progress: SyncProgress) -> str:
    """What the home screen says while 同步 runs."""
    parts = [f"检查记录 {progress.records_done}/{progress.records_total}"]
    if progress.blobs_total:
        parts.append(f"照片 {progress.blobs_done}/{progress.blobs_total}"
                     f"（{shown_size(progress.bytes_done)} / {shown_size(progress.bytes_total)}）")
    return "正在同步：" + " · ".join(parts) + ("（连接局端失败，正在重试…）" if progress.retrying else "")


@dataclass
class HomeViewModel:
    """The assignment list (one per browser session). The bureau is asked for assignments when an inspector arrives
    (unlock, PIN set, enrollment) and on every 同步 — in the screen's worker thread, as they wait for the link;
    drawing the list reads the device alone. `stopping` cancels a running 同步."""

    state: AppState
    cards: list[AssignmentCard] = field(default_factory=list)
    shown: int = HOME_PAGE  # how many of the cards the list draws
    offline: bool = False
    message: str = ""
    notice: str = ""  # the last 同步's result (or another word for the home screen) ...
    notice_failed: bool = False  # ... and whether it says something went wrong
    stopping: threading.Event = field(default_factory=threading.Event)

    def unlock(self, inspector_code: str, pin: str, say: Callable[[str], None]) -> str:
        """`AppState.unlock`, then the assignments from the bureau (`say` tells the screen when that starts)."""
        return self._arrive(self.state.unlock(inspector_code, pin), say)

    def set_pin(self, pin: str, again: str, say: Callable[[str], None]) -> str:
        return self._arrive(self.state.set_pin(pin, again), say)

    def enroll(self, server_url: str, token: str, pin: str, again: str, say: Callable[[str], None]) -> str:
        return self._arrive(self.state.enroll(server_url, token, pin, again), say)

    def _arrive(self, problem: str, say: Callable[[str], None]) -> str:
        if not problem:
            self.shown = HOME_PAGE
            say("正在连接局端，更新检查任务…")
            self.refresh()
        return problem

    def refresh(self) -> None:
        """Pull from the bureau when it answers; otherwise show what the device already holds, and say so."""
        identity = self.state.identity
        if identity is None:
            self.cards, self.message = [], "本设备尚未注册检查人员"
            return
        self.offline, self.message = False, ""
        active = self.state.active
        assert active is not None  # the assignment list is shown only once the inspector has unlocked
        try:
            result = device.pull_assignments(self.state.engine, identity, device.client_for(active), active.data_key)
            if result.refused:
                self.message = f"有 {result.refused} 项任务的局端签名无效，已拒收"
        except BureauUnreachable:
            self.offline, self.message = True, OFFLINE_MESSAGE
        except BureauRefused as exc:
            self.offline, self.message = True, f"局端拒绝：{exc.message}"
        self.load()

    def load(self) -> None:
        """The cards, from the device alone: two queries, however many inspections the tablet holds."""
        identity = self.state.identity
        if identity is None:
            self.cards = []
            return
        current = device.current_inspections(self.state.engine)
        listed = team_assignments(self.state.engine, identity.inspector_code, current)
        totals = {kind: len(checklists.template_for_kind(kind).items) for kind in {a.institution_kind for a in listed}}
        self.cards = [assignment_card(a, current.get(a.id), totals[a.institution_kind]) for a in listed]

    @property
    def page(self) -> list[AssignmentCard]:
        """The cards the list draws."""
        return self.cards[:self.shown]

    def more(self) -> list[AssignmentCard]:
        """The next page of cards, now drawn too."""
        start, self.shown = self.shown, self.shown + HOME_PAGE
        return self.cards[start:self.shown]

    def sync(self, progress: Callable[[SyncProgress], None] | None = None) -> str:
        """Send the outbox with the keys unlocked in this session (`progress` hears how far it is; `stopping` stops
        it between records and chunks), then the assignments; say what was sent, what the bureau refused (and why),
        and what is still waiting."""
        if self.state.identity is None:
            return "本设备尚未注册检查人员"
        try:
            with self.state.session():
                report = device.sync(self.state.engine, timeout=SYNC_TIMEOUT_SECONDS, load_blob=self.state.load_blob,
                                     progress=progress, cancel=self.stopping)
        except device.DeviceError as exc:
            self.notice, self.notice_failed = str(exc), True
            return self.notice
        self.load()
        if report.error is None:
            self.offline, self.message = False, ""
        elif report.reason == "timeout":
            self.offline, self.message = True, OFFLINE_MESSAGE
        sent = [f"{n} {unit}" for n, unit in ((report.records_sent, "份检查记录"), (report.blobs_sent, "张照片")) if n]
        parts = [f"已同步 {'、'.join(sent)}"] if sent else []
        if report.blobs_set_aside:
            parts.append(f"{report.blobs_set_aside} 张照片无法发送，已保留在本机")
        if report.set_aside:
            parts.append(f"{len(report.set_aside)} 份记录被局端拒收：" + "；".join(m["message"] for m in report.set_aside))
        if report.unverified:
            parts.append(f"{len(report.unverified)} 份记录的局端回执无法验证，已保留待重试")
        if report.error:
            parts.append(report.error if report.reason != "timeout" else "无法连接局端，记录保留在本机，稍后再同步")
        self.notice = "；".join(parts) or "没有待同步的检查记录"
        self.notice_failed = bool(report.error or report.set_aside or report.unverified or report.blobs_set_aside)
        return self.notice


@dataclass
class ItemRow:
    item: Item
    section_title: str
    category_title: str
    answer: onsite.AnswerData | None
    photos: list[onsite.PhotoInfo]
    staff_codes: list[str]
    problems: list[str]

    @property
    def result(self) -> str | None:
        return self.answer.result if self.answer else None


SUSPICION_PAGE = 20  # 疑点 cards the 疑点清单 draws at a time (an assignment carries up to 500)


@dataclass
class SuspicionRow:
    """One 疑点 of the assignment as its card shows it: what the bureau's screening found, the verdict so far."""

    suspicion: dict[str, Any]
    check: onsite.CheckData | None
    photos: list[onsite.PhotoInfo]

    @property
    def hit_id(self) -> str:
        return str(self.suspicion["hit_id"])

    @property
    def when(self) -> str:
        """The settlement's date, or the month of a person-month rule."""
        return str(self.suspicion.get("date") or self.suspicion.get("month") or "—")


def suspicion_caption(suspicion: dict[str, Any]) -> str:
    """What a photo of a 疑点 is captioned with (and the 笔录 prints under it)."""
    return f"疑点 {suspicion['rule_name']} {suspicion['settlement_id'] or suspicion.get('month') or ''}".strip()


class InspectionViewModel:
    """One inspection as the inspector works through it: check-in, the checklist, photos, findings, 疑点."""

    def __init__(self, state: AppState, assignment_id: str):
        self.state, self.assignment_id = state, assignment_id
        self.assignment = device.assignment(state.engine, assignment_id)
        assert state.identity is not None  # inspection screens are shown only once an inspector has unlocked
        self.inspection = onsite.start_inspection(state.engine, assignment_id, state.identity.inspector_code)
        self.template = checklists.resolve_template(
            f"{self.inspection.template_id}@{self.inspection.template_hash}")
        self._thumbs: dict[str, bytes] = {}
        self.refresh()

    def refresh(self) -> None:
        self.facts = onsite.facts(self.state.engine, self.state.data_key, self.inspection.id)
        self.inspection = self.facts.inspection

    @property
    def key(self) -> DataKey:
        return self.state.data_key

    @property
    def locked(self) -> bool:
        return self.inspection.status != "draft"

    @property
    def checked_in(self) -> bool:
        return self.facts.checkin is not None

    @property
    def signed(self) -> bool:
        """Someone has signed: the content is frozen until the signatures are voided."""
        return bool(self.facts.marks) or self.facts.refusal is not None

    def sections(self) -> list[tuple[checklists.Section, list[str]]]:
        return [(section, [item.id for item in items]) for section, items in self.template.items_by_section()]

    def row(self, item_id: str) -> ItemRow:
        item = self.template.item(item_id)
        answer = self.facts.answers.get(item_id)
        item_photos = self.facts.photos_of(item_id)
        return ItemRow(item, self.template.section_title(item.section), checklists.CATEGORIES[item.category].title,
                       answer, item_photos, self.facts.staff.get(item_id, []),
                       onsite.item_problems(item, answer, len(item_photos)) if answer else [])

    def progress(self) -> scoring.Progress:
        return onsite.progress(self.facts)

    def section_progress(self, item_ids: list[str]) -> tuple[int, int]:
        still_open = onsite.open_items(self.facts)
        return sum(1 for i in item_ids if i not in still_open), len(item_ids)

    def _do(self, action, *args, **kwargs) -> str:
        try:
            action(*args, **kwargs)
        except device.DeviceError as exc:
            return str(exc)
        finally:
            self.refresh()
        return ""

    def answer(self, item_id: str, result: str, note: str = "", amount: str | None = None) -> str:
        """Store an answer; "" when saved, else why not (the previous answer stays). The note and amount fields save
        on every keystroke, so a saved answer updates what is shown in place instead of re-reading the inspection."""
        try:
            saved = onsite.save_answer(self.state.engine, self.key, self.inspection.id, item_id, result, note, amount)
        except device.DeviceError as exc:
            self.refresh()
            return str(exc)
        self.facts = replace(self.facts, answers={**self.facts.answers, item_id: saved})
        return ""

    def add_photo(self, item_id: str, data: bytes, source: str) -> str:
        """A photo of a checklist item, of a 疑点 (`item_id` its hit id) or of a refusal to sign."""
        suspicion = next((s for s in self.facts.suspicions if s["hit_id"] == item_id), None)
        if suspicion is not None:
            caption = suspicion_caption(suspicion)
        elif item_id == onsite.REFUSAL_ITEM:
            caption = "拒签现场"
        else:
            item = self.template.item(item_id)
            caption = f"{item.id} {item.text}"
        try:
            return self._do(onsite.add_photo, self.state.engine, self.state.evidence, self.key, self.inspection.id,
                            item_id, data, source=source, caption_item=caption)
        except photos.PhotoError as exc:
            return exc.message_zh

    def remove_photo(self, photo_id: str) -> str:
        return self._do(onsite.remove_photo, self.state.engine, self.state.evidence, self.inspection.id, photo_id)

    def set_staff_codes(self, item_id: str, text: str) -> str:
        return self._do(onsite.save_staff_codes, self.state.engine, self.key, self.inspection.id, item_id, text)

    def thumbnail(self, sha256: str) -> bytes:
        """Decrypted once per screen: opening an inspection reads thumbnails and nothing bigger."""
        if sha256 not in self._thumbs:
            assert self.state.evidence is not None  # `AppState.open` always opens the evidence store
            self._thumbs[sha256] = self.state.evidence.get(self.key, sha256, "thumbnail")
        return self._thumbs[sha256]

    def findings(self) -> list[dict[str, Any]]:
        return onsite.findings(self.facts)

    def suspicion_rows(self) -> list[SuspicionRow]:
        return [SuspicionRow(s, self.facts.checks.get(s["hit_id"]), self.facts.photos_of(s["hit_id"]))
                for s in self.facts.suspicions]

    def suspicion_row(self, hit_id: str) -> SuspicionRow:
        return next(row for row in self.suspicion_rows() if row.hit_id == hit_id)

    @property
    def suspicions_label(self) -> str:
        """"疑点 3（待核 2）"; empty when the assignment carries none."""
        total = len(self.facts.suspicions)
        pending = sum(1 for s in self.facts.suspicions if s["hit_id"] not in self.facts.checks)
        return f"疑点 {total}（待核 {pending}）" if total else ""

    @property
    def suspicions_left_out(self) -> str:
        """When the screening found more 疑点 at the institution than an assignment carries: how many, and which
        are here (`suspicions_total` comes beside the signed assignment)."""
        total, carried = (self.assignment.signed or {}).get("suspicions_total"), len(self.facts.suspicions)
        return f"局端筛查共发现该机构疑点 {total} 条，此处列出金额最高的 {carried} 条" \
            if isinstance(total, int) and total > carried else ""

    def check_suspicion(self, hit_id: str, verdict: str, note: str, amount: str | None = None) -> str:
        """Store a verdict; "" when saved, else why not (the previous verdict stays). Like `answer`, a saved verdict
        updates what is shown in place: the note and amount fields save on every keystroke."""
        try:
            saved = onsite.save_suspicion_check(self.state.engine, self.key, self.inspection.id, hit_id, verdict, note,
                                                amount)
        except device.DeviceError as exc:
            self.refresh()
            return str(exc)
        self.facts = replace(self.facts, checks={**self.facts.checks, hit_id: saved})
        return ""

    def void_signatures(self) -> str:
        return self._do(onsite.void_signatures, self.state.engine, self.state.evidence, self.inspection.id)


@dataclass
class OfficerForm:
    inspector_code: str
    name: str = ""
    badge_no: str = ""
    id_shown: bool = False
    from_registry: bool = False  # name and 执法证号 came signed with the assignment: shown, not typed


class CheckInViewModel:
    """到场登记: the team, the tablet's own inspector first, with names and 执法证号 from the bureau's registry (typed
    only for an assignment issued before assignments named them) and that each showed their ID; the representative;
    time, place and GPS."""

    def __init__(self, state: AppState, assignment_id: str):
        self.inspection_vm = InspectionViewModel(state, assignment_id)
        self.state = state
        assignment = self.inspection_vm.assignment
        saved = self.inspection_vm.facts.checkin
        registry = onsite.registry_officers(assignment)
        known = {o["inspector_code"]: o for o in (saved["officers"] if saved else [] if registry
                                                   else self._last_officers())}
        own = state.identity.inspector_code if state.identity else None
        order = [o["inspector_code"] for o in saved["officers"]] if saved else \
            sorted(assignment.team, key=lambda code: code != own)
        order += [code for code in assignment.team if code not in order]

        def officer(code: str) -> OfficerForm:
            typed = known.get(code, {})
            shown = bool(saved) and typed.get("id_shown", False)
            if code in registry:
                return OfficerForm(code, **registry[code], id_shown=shown, from_registry=True)
            return OfficerForm(code, typed.get("name", ""), typed.get("badge_no", ""), shown)

        self.officers = [officer(code) for code in order]
        self.representative = {"name": "", "role": "", "phone": "", "id_number": "",
                               **(saved["representative"] if saved else {})}
        # issue #15: the 记录人 (by default the second officer), the 法定代表人, the notices read aloud
        self.recorder = (saved or {}).get("recorder") or (order[1] if len(order) > 1 else order[0])
        self.legal = {"title": onsite.LEGAL_TITLES[0], "name": "", "id_number": "",
                      **((saved or {}).get("legal_representative") or {})}
        kept = {n["id"]: n for n in (saved or {}).get("notices") or []}
        self.notice_rules = record_rules().notices
        self.notices = {n.id: {"given": kept.get(n.id, {}).get("given", False), "answer": kept.get(n.id, {}).get(
            "answer", ""), "detail": kept.get(n.id, {}).get("detail", "")} for n in self.notice_rules}
        self.place = saved["place"] if saved else assignment.institution_address
        self.gps: dict[str, str | None] | None = saved["gps"] if saved else None
        self.gps_note: str = saved["gps_note"] if saved else ""
        self.checked_in_at: str | None = saved["checked_in_at"] if saved else None

    def _last_officers(self) -> list[dict[str, Any]]:
        """Names and ID numbers from this tablet's latest check-in, so a team need not type them every time (for
        an assignment that does not name its members)."""
        with Session(self.state.engine) as session:
            latest = session.exec(select(CheckIn).order_by(col(CheckIn.updated_at).desc())).first()
        if latest is None:
            return []
        try:
            checkin = onsite.facts(self.state.engine, self.state.data_key, latest.inspection_id).checkin
        except device.DeviceError:
            return []
        assert checkin is not None  # that inspection has the check-in row just read
        return checkin["officers"]

    def set_position(self, latitude: float, longitude: float, accuracy: float | None) -> None:
        """A fix from the tablet's location service, as decimal strings (never floats in a record)."""
        self.gps = {"lat": f"{latitude:.7f}", "lon": f"{longitude:.7f}",
                    "accuracy_m": None if accuracy is None else str(round(accuracy))}
        self.gps_note = ""

    def no_position(self, why: str) -> None:
        """Recorded, not faked: why there is no fix."""
        self.gps, self.gps_note = None, why

    def problems(self) -> list[str]:
        return onsite.checkin_problems(self.value(), self.inspection_vm.assignment.team)

    def value(self) -> dict[str, Any]:
        return {"officers": [{k: v for k, v in vars(o).items() if k != "from_registry"} for o in self.officers],
                "representative": self.representative,
                "place": self.place, "gps": self.gps, "gps_note": self.gps_note,
                "checked_in_at": self.checked_in_at, "recorder": self.recorder, "legal_representative": self.legal,
                "notices": [{"id": notice_id, **entry} for notice_id, entry in self.notices.items()]}

    def save(self) -> list[str]:
        """Store what is entered; returns what is still missing (the check-in is done when nothing is). The time
        of the first save is the check-in time."""
        self.checked_in_at = self.checked_in_at or onsite.local_now().isoformat()
        try:
            onsite.save_checkin(self.state.engine, self.state.data_key, self.inspection_vm.inspection.id,
                                self.value())
        except device.DeviceError as exc:
            return [str(exc)]
        return self.problems()


class RecordPartsViewModel:
    """询问与调取资料: the question/answer pairs, the documents taken and a 先行登记保存, each list saved whole as it is
    typed (sealed); a row left empty is dropped when saved."""

    def __init__(self, state: AppState, assignment_id: str):
        self.state = state
        self.inspection_vm = InspectionViewModel(state, assignment_id)
        parts = self.inspection_vm.facts.parts
        self.inquiries: list[dict[str, str]] = [dict(p) for p in parts.get("inquiries") or []]
        self.documents: list[dict[str, str]] = [dict(d) for d in parts.get("documents_taken") or []]
        preservation = parts.get("preservation") or {}
        self.approved_by: str = preservation.get("approved_by", "")
        self.items: list[dict[str, str]] = [dict(i) for i in preservation.get("items") or []]
        self.decision_by: str | None = preservation.get("decision_by")

    def save(self, part: str) -> str:
        """Store one part (``inquiries``, ``documents_taken`` or ``preservation``); the problem, or empty."""
        where = (self.state.engine, self.state.data_key, self.inspection_vm.inspection.id)
        try:
            if part == "inquiries":
                onsite.save_inquiries(*where, self.inquiries)
            elif part == "documents_taken":
                onsite.save_documents_taken(*where, self.documents)
            else:
                self.decision_by = onsite.save_preservation(*where, self.approved_by, self.items)["decision_by"]
        except device.DeviceError as exc:
            return str(exc)
        return ""

    def deadline_text(self) -> str:
        law = record_rules().preservation
        if not self.decision_by:
            return f"先行登记保存须经行政机关负责人批准，并在 {law.days} 个工作日内作出处理决定（{law.basis}）。"
        day = datetime.fromisoformat(self.decision_by)
        return (f"处理决定最迟于 {day.year}年{day.month:02d}月{day.day:02d}日 作出（{law.basis}，{law.days} 个工作日，"
                f"按周一至周五计，遇法定节假日、调休以实际工作日为准）。")


class ReviewViewModel:
    """核对与签名: the content everyone signs, its hash, who has signed, and locking."""

    def __init__(self, state: AppState, assignment_id: str):
        self.state = state
        self.inspection_vm = InspectionViewModel(state, assignment_id)
        self.review = onsite.review(state.engine, state.data_key, self.inspection_vm.inspection.id)
        self.message = ""

    @property
    def facts(self) -> onsite.Facts:
        return self.review.facts

    def signing_status(self) -> list[tuple[str, str]]:
        """(role, status text) for the signature buttons."""
        out = []
        for role in onsite.SIGNING_ROLES:
            mark = self.facts.marks.get(role)
            if role == "representative" and self.facts.refusal is not None:
                out.append((role, "已记录拒签"))
            elif mark is None:
                out.append((role, "未签名"))
            elif mark["review_hash"] != self.review.hash:
                out.append((role, "内容已改变，须重签"))
            else:
                out.append((role, f"已签名：{mark['signature']['signer_name']}" + "".join(
                    f"（{signature.unbound_text(code)}，请其输入本人 PIN 后重签）" for code in self.unbound(role))))
        return out

    def unbound(self, role: str) -> list[str]:
        """The inspector signing as `role` by hand, if their own key is not unlocked here to sign the record."""
        keyed = [u.inspector_code for u in self.state.signers(self.inspection_vm.assignment.team)]
        officers = self.facts.checkin["officers"] if self.facts.checkin else []
        return signature.unbound_inspectors(officers, [role], keyed)

    def remaining(self) -> list[str]:
        # review() gives a hash exactly when nothing is missing (no problems)
        review = self.review
        return review.problems if review.hash is None else onsite.signing_problems(self.facts, review.hash)

    def suspicion_checks(self) -> list[tuple[dict[str, Any], dict[str, Any]]]:
        """(疑点, its check) for each 疑点 checked, as the content to sign carries them."""
        carried = {s["hit_id"]: s for s in self.facts.suspicions}
        checks = (self.review.content or {}).get("suspicion_checks") or []
        return [(carried[c["hit_id"]], c) for c in checks]

    def lock(self) -> bool:
        vm = self.inspection_vm
        assert self.state.evidence is not None  # `AppState.open` always opens the evidence store
        try:
            onsite.lock(self.state.engine, self.state.evidence, self.state.data_key, vm.inspection.id,
                        self.state.signers(vm.assignment.team))
        except device.DeviceError as exc:
            self.message = str(exc)
            return False
        return True


def signer_code(facts: onsite.Facts, role: str) -> str | None:
    """The inspector who signs as inspector_1 / inspector_2: the team's first and second officer at check-in."""
    if role not in ("inspector_1", "inspector_2") or facts.checkin is None:
        return None
    officers = facts.checkin["officers"]
    index = 0 if role == "inspector_1" else 1
    return officers[index]["inspector_code"] if index < len(officers) else None


class SignatureViewModel:
    """One signature pad: strokes saved as they are drawn, the signer's name, confirmation. A team member enrolled
    on this tablet enters their PIN first, so that their own key also signs the record."""

    def __init__(self, state: AppState, assignment_id: str, role: str):
        self.state, self.role = state, role
        self.inspection_vm = InspectionViewModel(state, assignment_id)
        facts = self.inspection_vm.facts
        self.review = onsite.review(state.engine, state.data_key, self.inspection_vm.inspection.id)
        self.code = signer_code(facts, role)
        self.strokes = onsite.strokes_of(state.engine, state.data_key, self.inspection_vm.inspection.id, role)
        mark = facts.marks.get(role)
        self.confirmed = mark is not None
        self.name = mark["signature"]["signer_name"] if mark else self._default_name(facts)
        self.message = ""

    def _default_name(self, facts: onsite.Facts) -> str:
        if facts.checkin is None:
            return ""
        if self.code is not None:
            return next(o["name"] for o in facts.checkin["officers"] if o["inspector_code"] == self.code)
        if self.role == "representative":
            return facts.checkin["representative"]["name"]
        if self.role == "witness" and facts.refusal is not None:
            return facts.refusal["witness_name"]
        return ""

    @property
    def title(self) -> str:
        return ROLE_TITLES[self.role]

    @property
    def needs_pin(self) -> bool:
        return (self.code is not None and self.code not in self.state.unlocked
                and keyring.has_pin(self.state.engine, self.code))

    def unlock(self, pin: str) -> str:
        assert self.code is not None  # offered only when `needs_pin`: a team member enrolled on this tablet
        return self.state.unlock_signer(self.code, pin)

    def add_stroke(self, started_at: datetime, points: list[signature.Point]) -> str:
        if len(points) < 1:
            return ""
        try:
            onsite.add_stroke(self.state.engine, self.state.data_key, self.inspection_vm.inspection.id, self.role,
                              started_at.isoformat(), points)
        except device.DeviceError as exc:
            return str(exc)
        self.strokes.append({"started_at": started_at.isoformat(), "points": [list(p) for p in points]})
        return ""

    def clear(self) -> None:
        onsite.clear_signature(self.state.engine, self.inspection_vm.inspection.id, self.role)
        self.strokes, self.confirmed = [], False

    def confirm(self, name: str) -> bool:
        if self.needs_pin:
            self.message = "请先输入该检查人员的 PIN"
            return False
        try:
            onsite.confirm_signature(self.state.engine, self.state.data_key, self.inspection_vm.inspection.id,
                                     self.role, name, PAD_SIZE)
        except signature.SignatureError as exc:
            self.message = exc.message_zh
            return False
        except device.DeviceError as exc:
            self.message = str(exc)
            return False
        self.confirmed, self.name = True, name
        return True


class RefusalViewModel:
    """拒签: the reason, the witness, the witness's signature (`SignatureViewModel` role "witness") and a photo."""

    def __init__(self, state: AppState, assignment_id: str):
        self.state = state
        self.inspection_vm = InspectionViewModel(state, assignment_id)
        refusal = self.inspection_vm.facts.refusal
        self.reason = refusal["reason"] if refusal else ""
        self.witness_name = refusal["witness_name"] if refusal else ""
        self.witness_id_number = (refusal.get("witness_id_number") or "") if refusal else ""
        self.media_note = refusal["media_note"] if refusal else ""
        self.recorded = refusal is not None
        self.witness_signed = "witness" in self.inspection_vm.facts.marks

    def photos(self) -> list[onsite.PhotoInfo]:
        return self.inspection_vm.facts.photos_of(onsite.REFUSAL_ITEM)

    def record(self, reason: str, witness_name: str, media_note: str, witness_id_number: str = "") -> str:
        try:
            onsite.record_refusal(self.state.engine, self.state.data_key, self.inspection_vm.inspection.id, reason,
                                  witness_name, media_note, witness_id_number)
        except device.DeviceError as exc:
            return str(exc)
        self.reason, self.witness_name, self.media_note, self.recorded = reason, witness_name, media_note, True
        self.witness_id_number = onsite.id_number_text(witness_id_number)
        return ""


class RecordViewModel:
    """A locked record: its hash, the 笔录 PDF, whether it has reached the bureau, and corrections."""

    def __init__(self, state: AppState, assignment_id: str):
        self.state = state
        self.inspection_vm = InspectionViewModel(state, assignment_id)
        queued = onsite.queued(state.engine, self.inspection_vm.inspection)
        self.record_hash = queued.record_hash if queued else ""
        self.outbox_state = queued.state if queued else None
        self.problem = ""
        assert state.evidence is not None  # `AppState.open` always opens the evidence store
        try:
            self.record: dict[str, Any] | None = onsite.locked_record(
                state.engine, state.evidence, state.data_key, self.inspection_vm.inspection.id)[0]
        except device.DeviceError as exc:
            self.record, self.problem = None, str(exc)

    @property
    def printable(self) -> bool:
        """A 笔录 needs the check-in (records filled headless by `yibao device demo-inspections` have none)."""
        return self.record is not None and self.record["checkin"] is not None

    @property
    def status_text(self) -> str:
        labels: dict[str | None, str] = {"queued": "已签名锁定，等待同步到局端", "sent": "局端已接收并出具回执",
                                         "set_aside": "局端拒收，请查看同步结果"}
        return labels.get(self.outbox_state, "已签名锁定")

    def pdf(self) -> bytes:
        assert self.state.evidence is not None  # `AppState.open` always opens the evidence store
        return onsite.record_pdf_bytes(self.state.engine, self.state.evidence, self.state.data_key,
                                       self.inspection_vm.inspection.id)

    def pdf_name(self) -> str:
        assert self.record is not None  # offered only for a printable record
        version = self.record["version"]
        return f"现场检查笔录-{self.record['institution']['name']}-{self.record['record_id'][:8]}" \
               f"{f'-v{version}' if version > 1 else ''}.pdf"

    def start_correction(self, reason: str) -> str:
        try:
            onsite.start_correction(self.state.engine, self.state.data_key, self.inspection_vm.inspection.id,
                                    reason)
        except device.DeviceError as exc:
            return str(exc)
        return ""
