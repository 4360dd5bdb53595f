"""View-models of the bureau staff screens (科室负责人): sign-in, registry import, the draw, coverage, tokens.

They talk to the bureau only through `StaffClient` (HTTP), so the tablet build carries no bureau code.
"""

from __future__ import annotations

import io
from dataclasses import dataclass, field
from decimal import Decimal, InvalidOperation
from typing import Any, Callable

import qrcode

from staff_app.staff_client import (
    BureauRefused,
    BureauUnreachable,
    StaffClient,
    refusal_text,
)
from ui_kit.common import shown_time
from ui_kit.labels import KIND_LABELS

REGISTRY_LABELS = {"institutions": "定点医药机构名录", "inspectors": "执法检查人员名录", "conflicts": "利益冲突登记"}
MAX_SHOWN_ERRORS = 200  # of a claims file's errors (the bureau lists up to 1000)
ASSIGNMENT_STATUSES = ("已下达", "已提交", "已撤回")  # issued; a record received (bureau.ingest); withdrawn


@dataclass
class LoginViewModel:
    server_url: str
    message: str = ""

    def login(self, username: str, password: str) -> StaffClient | None:
        client = StaffClient(self.server_url)
        try:
            client.login(username.strip(), password)
        except (BureauRefused, BureauUnreachable) as exc:
            self.message = refusal_text(exc)
            return None
        return client


@dataclass
class RegistryImportViewModel:
    client: StaffClient
    kind: str = "institutions"
    filename: str = ""
    data: bytes = b""
    errors: list[dict[str, Any]] = field(default_factory=list)
    message: str = ""
    imported: dict[str, Any] | None = None

    def choose(self, filename: str, data: bytes) -> None:
        """A new file: check it at once (dry run) so the table of problems shows before anything is imported."""
        self.filename, self.data, self.imported = filename, data, None
        self.check()

    def check(self) -> None:
        try:
            answer = self.client.upload_registry(self.kind, self.filename, self.data, dry_run=True)
        except (BureauRefused, BureauUnreachable) as exc:
            self.errors, self.message = [], refusal_text(exc)
            return
        self.errors = answer["errors"]
        self.message = (f"{self.filename}：发现 {len(self.errors)} 处错误，修改后重新选择文件" if self.errors
                        else f"{self.filename}：检查通过，可以导入")

    @property
    def can_import(self) -> bool:
        return bool(self.data) and not self.errors and self.imported is None

    def run_import(self) -> None:
        try:
            self.imported = self.client.upload_registry(self.kind, self.filename, self.data, dry_run=False)
        except BureauRefused as exc:
            self.errors = exc.detail.get("errors", [])
            self.message = exc.message
            return
        except BureauUnreachable as exc:
            self.message = refusal_text(exc)
            return
        i = self.imported
        self.message = (f"已导入 {REGISTRY_LABELS[self.kind]} {i['rows']} 行：新增 {i['created']}，更新 {i['updated']}，"
                        f"停用 {i['deactivated']}")


@dataclass
class StratumInput:
    kind: str
    mode: str = "ratio"  # ratio | count
    value: str = ""


def screening_label(run: dict[str, Any]) -> str:
    """A screening run as the draw screen names it: the start of its id and when it ran."""
    return f"{run['run_id'][:8]}（{shown_time(run['ran_at'])} 运行）"


@dataclass
class DrawViewModel:
    """The plan form, commit, public random values, preview and publish."""

    client: StaffClient
    plan_id: str = ""
    strata: list[StratumInput] = field(default_factory=lambda: [StratumInput(k) for k in KIND_LABELS])
    team_size: str = "2"
    max_per_inspector: str = "4"
    risk_weighted: bool = False
    risk_source: str = "registry"  # registry | screening (the latest screening run), when weighted
    include_followups: bool = True
    public_random: str = ""
    commitment: dict[str, Any] | None = None
    preview: dict[str, Any] | None = None
    published: dict[str, Any] | None = None
    errors: list[str] = field(default_factory=list)
    message: str = ""

    def plan(self, with_random: bool) -> dict[str, Any] | None:
        """The plan JSON from the form; None (with `errors` set) when the form itself is incomplete."""
        self.errors = []
        strata: list[dict[str, str | int]] = []
        for s in self.strata:
            value = s.value.strip()
            if not value:
                continue
            if s.mode == "ratio":
                try:
                    ratio = Decimal(value.rstrip("%")) / (100 if value.endswith("%") else 1)
                except InvalidOperation:
                    self.errors.append(f"{KIND_LABELS[s.kind]}：比例应为小数（如 0.10）或百分数（如 10%）")
                    continue
                strata.append({"kind": s.kind, "ratio": str(ratio)})
            elif value.isdigit():
                strata.append({"kind": s.kind, "count": int(value)})
            else:
                self.errors.append(f"{KIND_LABELS[s.kind]}：家数应为整数")
        if not self.plan_id.strip():
            self.errors.append("请填写计划编号")
        if not strata:
            self.errors.append("至少填写一类机构的抽取比例或家数")
        numbers = {}
        for label, text in (("每组人数", self.team_size), ("每人任务上限", self.max_per_inspector)):
            if not text.strip().isdigit():
                self.errors.append(f"{label}应为整数")
            else:
                numbers[label] = int(text)
        values = [v.strip() for v in self.public_random.replace("，", ",").replace("\n", ",").split(",") if v.strip()]
        if with_random and not values:
            self.errors.append("请填写公开随机数（如某期福利彩票开奖号码）")
        if self.errors:
            return None
        plan = {"plan_id": self.plan_id.strip(), "strata": strata, "team_size": numbers["每组人数"],
                "max_assignments_per_inspector": numbers["每人任务上限"], "risk_weighted": self.risk_weighted,
                "include_followups": self.include_followups}
        if self.risk_weighted and self.risk_source == "screening":
            plan["risk_source"] = "screening"
        if with_random:
            plan["public_random"] = values
        return plan

    def _call(self, action) -> Any:
        try:
            return action()
        except BureauRefused as exc:
            self.errors = [f"{e['field']}: {e['message']}" for e in exc.detail.get("errors", [])] or [exc.message]
        except BureauUnreachable as exc:
            self.errors = [refusal_text(exc)]
        return None

    def commit(self) -> None:
        plan = self.plan(with_random=False)
        if plan is not None:
            self.commitment = self._call(lambda: self.client.commit_plan(plan))
            if self.commitment:
                self.message = f"已承诺：请在公开随机数产生之前公布承诺值 {self.commitment['commitment_hash']}"
                if "screening" in self.commitment:
                    self.message += f"（风险分取自智能监控筛查 {screening_label(self.commitment['screening'])}）"

    def run_preview(self) -> None:
        plan = self.plan(with_random=True)
        if plan is not None:
            self.preview = self._call(lambda: self.client.run_draw(plan, dry_run=True))

    def publish(self) -> None:
        plan = self.plan(with_random=True)
        if plan is not None:
            self.published = self._call(lambda: self.client.run_draw(plan, dry_run=False))
            if self.published:
                n = len(self.published["transcript"]["selected"])
                self.message = f"已下达 {n} 项检查任务；抽取记录哈希 {self.published['transcript_hash']}"

    @property
    def warnings(self) -> list[str]:
        return (self.preview or {}).get("transcript", {}).get("warnings", [])


@dataclass
class AssignmentsViewModel:
    """检查任务: a drawn plan's assignments, and 撤回 of one with a written reason (a team member recused after the
    draw, the institution closed). The team's tablets drop a withdrawn assignment on their next pull."""

    client: StaffClient
    plans: list[str] = field(default_factory=list)  # drawn plans, newest first
    plan_id: str = ""
    assignments: list[dict[str, Any]] = field(default_factory=list)
    message: str = ""
    failed: bool = False

    def load(self) -> None:
        """The drawn plans, and the assignments of the chosen one (the newest when none is chosen)."""
        if self.failed:  # the last load's error is stale now
            self.message, self.failed = "", False
        try:
            self.plans = [d["plan_id"] for d in self.client.draws() if d["drawn"]]
            if self.plan_id not in self.plans:
                self.plan_id = self.plans[0] if self.plans else ""
            self.assignments = self.client.plan_assignments(self.plan_id)["assignments"] if self.plan_id else []
        except (BureauRefused, BureauUnreachable) as exc:
            self.message, self.failed = refusal_text(exc), True

    def choose(self, plan_id: str) -> None:
        self.plan_id, self.message = plan_id, ""

    def counts(self) -> dict[str, int]:
        """How many of the plan's assignments are in each status, in the order an assignment goes through them."""
        counts = {status: 0 for status in ASSIGNMENT_STATUSES}
        for a in self.assignments:
            counts[a["status"]] = counts.get(a["status"], 0) + 1
        return {status: n for status, n in counts.items() if n}

    def revoke(self, assignment_id: str, reason: str) -> str:
        """Withdraw one; "" when done (the list is reloaded), else what stopped it (for the reason field)."""
        if not reason.strip():
            return "撤回检查任务须写明理由"
        target = next(a for a in self.assignments if a["id"] == assignment_id)
        try:
            self.client.revoke_assignment(assignment_id, reason.strip())
        except (BureauRefused, BureauUnreachable) as exc:
            return refusal_text(exc)
        self.message = f"已撤回对 {target['institution']['name']} 的检查任务；检查组平板下次同步时移除"
        self.load()
        return ""


@dataclass
class CoverageViewModel:
    client: StaffClient
    report: dict[str, Any] | None = None
    message: str = ""

    def load(self) -> None:
        try:
            self.report = self.client.coverage()
        except (BureauRefused, BureauUnreachable) as exc:
            self.message = refusal_text(exc)


def qr_png(text: str) -> bytes:
    image = qrcode.make(text, box_size=8, border=2)
    out = io.BytesIO()
    image.save(out, format="PNG")
    return out.getvalue()


@dataclass
class EnrollTokenViewModel:
    client: StaffClient
    token: str = ""
    inspector_code: str = ""
    message: str = ""

    def issue(self, inspector_code: str) -> None:
        try:
            answer = self.client.enroll_token(inspector_code.strip())
        except (BureauRefused, BureauUnreachable) as exc:
            self.token, self.message = "", refusal_text(exc)
            return
        self.token, self.inspector_code = answer["token"], answer["inspector_code"]
        self.message = f"人员 {self.inspector_code} 的注册码（72 小时内有效，仅可使用一次）"

    def qr(self) -> bytes:
        return qr_png(f"{self.client.server_url}#enroll={self.token}")


def money_text(yuan: str) -> str:
    """"12345.6" → "12,345.60"."""
    return f"{Decimal(yuan):,.2f}"


def confirmation_line(figures: dict[str, Any]) -> str:
    """One rule's 规则核实情况 as the screen shows it under the rule's name; the rate is 属实 ÷ 已核."""
    rate = figures["confirmation_rate"]
    shown_rate = f"{Decimal(rate) * 100:.1f}%" if rate is not None else "—（尚未核查）"
    return (f"带到现场 {figures['carried']} · 已核 {figures['checked']} · 属实 {figures['confirmed']} · "
            f"排除 {figures['excluded']} · 属实金额 ¥{money_text(figures['confirmed_amount_yuan'])} · 属实率 {shown_rate}")


def size_text(size: int) -> str:
    return f"{size / 1024 / 1024:.1f} MB" if size >= 1024 * 1024 else f"{max(1, size // 1024)} KB"


@dataclass
class ScreeningViewModel:
    """智能监控: import settlement line items (结算明细) into the bureau's claims store, run the screening rules, the
    latest run's institutions ranked by risk (a page at a time) with the top by amount for the chart, one
    institution's hits (a page at a time), and the run as an Excel workbook."""

    client: StaffClient
    page_size: int = 20
    hits_page_size: int = 100
    replace: bool = False
    import_message: str = ""
    import_failed: bool = False
    import_errors: list[dict[str, Any]] = field(default_factory=list)
    error_count: int = 0
    run_message: str = ""
    run_failed: bool = False
    loaded: bool = False
    message: str = ""  # why the ranked list could not be read
    run: dict[str, Any] | None = None
    total: int = 0
    offset: int = 0
    institutions: list[dict[str, Any]] = field(default_factory=list)
    top_by_amount: list[dict[str, Any]] = field(default_factory=list)
    institution: dict[str, Any] | None = None  # the one opened, with its hits
    hits: list[dict[str, Any]] = field(default_factory=list)
    hits_total: int = 0
    hits_offset: int = 0
    hits_message: str = ""
    confirmations: list[dict[str, Any]] = field(default_factory=list)  # 规则核实情况: per rule, as the bureau counts
    confirmations_summary: dict[str, int] = field(default_factory=dict)  # assignments carrying 疑点, records received
    confirmations_message: str = ""  # why they could not be read

    def show(self) -> None:
        """The screen opened: the ranked list (the current page) and the per-rule figures, read afresh."""
        self.load()
        self.load_confirmations()

    def load_confirmations(self) -> None:
        try:
            answer = self.client.screening_confirmations()
        except (BureauRefused, BureauUnreachable) as exc:
            self.confirmations_message = refusal_text(exc)
            return
        self.confirmations, self.confirmations_message = answer["rules"], ""
        self.confirmations_summary = {"assignments": answer["assignments"], "records": answer["records"]}

    def load(self, offset: int | None = None) -> None:
        """The latest run's ranked institutions from `offset` (the current page when None)."""
        wanted = self.offset if offset is None else max(0, offset)
        try:
            answer = self.client.screening_latest(wanted, self.page_size)
        except (BureauRefused, BureauUnreachable) as exc:
            self.message = refusal_text(exc)
            return
        self.loaded, self.message = True, ""
        self.run, self.total, self.offset = answer["run"], answer["total"], answer["offset"]
        self.institutions, self.top_by_amount = answer["institutions"], answer["top_by_amount"]

    def import_claims(self, filename: str, data: bytes, tell: Callable[[str], None] = lambda _t: None) -> None:
        """Upload and import a claims file, saying how much has been sent (`tell`); the rows imported, or the first
        errors of a file with any (nothing is imported then)."""
        self.import_errors, self.error_count = [], 0

        def sent(count: int) -> None:
            tell(f"正在上传 {filename}：{count * 100 // max(1, len(data))}%（{size_text(count)} / {size_text(len(data))}）"
                 if count < len(data) else f"已上传 {filename}，正在逐行检查并导入…")

        try:
            report = self.client.upload_claims(filename, data, self.replace, sent)
        except BureauRefused as exc:
            errors = exc.detail.get("errors", [])
            self.import_errors, self.error_count = errors[:MAX_SHOWN_ERRORS], len(errors)
            self.import_message, self.import_failed = exc.message, True
            return
        except BureauUnreachable as exc:
            self.import_message, self.import_failed = refusal_text(exc), True
            return
        self.import_failed = False
        self.import_message = (f"已导入 {report['file']}：结算明细 {report['rows']} 行、结算 {report['settlements']} 笔"
                               + (f"（替换 {report['replaced']} 笔）" if report["replaced"] else ""))

    def run_screening(self) -> None:
        try:
            run = self.client.run_screening()
        except (BureauRefused, BureauUnreachable) as exc:
            self.run_message, self.run_failed = refusal_text(exc), True
            return
        self.run_failed, self.institution = False, None  # an institution opened before shows the new run's hits
        self.run_message = (f"筛查完成：规则 {len(run['rules'])} 条，疑点 {run['hits']} 条，"
                            f"涉及机构 {run['institutions_with_hits']} 家（结算明细中共 {run['institutions']} 家）")
        self.load(0)

    @property
    def has_previous(self) -> bool:
        return self.offset > 0

    @property
    def has_next(self) -> bool:
        return self.offset + self.page_size < self.total

    def open_institution(self, code: str, offset: int = 0) -> None:
        """One institution's hits in the latest run, from `offset`."""
        if self.run is None:
            self.load()
        if self.run is None:
            self.hits_message = self.message or "尚无筛查结果"
            return
        try:
            answer = self.client.screening_hits(self.run["id"], code, max(0, offset), self.hits_page_size)
        except (BureauRefused, BureauUnreachable) as exc:
            self.institution, self.hits, self.hits_message = None, [], refusal_text(exc)
            return
        self.institution, self.hits, self.hits_message = answer["institution"], answer["hits"], ""
        self.hits_total, self.hits_offset = answer["total"], answer["offset"]

    def export(self) -> bytes | None:
        """The latest run as an Excel workbook (None, with `run_message` saying why, when it cannot be had)."""
        if self.run is None:
            return None
        try:
            return self.client.screening_xlsx(self.run["id"])
        except (BureauRefused, BureauUnreachable) as exc:
            self.run_message, self.run_failed = refusal_text(exc), True
            return None

    def xlsx_name(self) -> str:
        stamp = shown_time((self.run or {}).get("ran_at"), "minute").replace("-", "").replace(":", "").replace(" ", "-")
        return f"智能监控筛查-{stamp}.xlsx"
