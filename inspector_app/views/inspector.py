"""The inspector's screens: enrollment and PIN, the assignment list, and one inspection on site — check-in, the
checklist with photos and findings, review, signatures (or a refusal), and the locked record with its 笔录 PDF.

Views stay thin over `inspector_app.inspector_vm`; every change is saved by the view-model as it happens. Inside an
inspection, a change redraws only the item it touched (a full re-render would lose the scroll position and the
focus of the field being typed in).
"""

from __future__ import annotations

import asyncio
import io
import time
from datetime import datetime
from typing import Awaitable, Callable

import flet as ft
import flet.canvas as cv
import flet_camera as fcam
import flet_geolocator as fgl
import qrcode

from checklists.money import shown_money
from inspector_app import onsite
from inspector_app.inspector_vm import (
    PAD_SIZE,
    ROLE_TITLES,
    SUSPICION_PAGE,
    AppState,
    AssignmentCard,
    CheckInViewModel,
    HomeViewModel,
    InspectionViewModel,
    RecordPartsViewModel,
    RecordViewModel,
    RefusalViewModel,
    ReviewViewModel,
    SignatureViewModel,
    sync_progress_text,
)
from ui_kit.common import (
    HALF,
    TOUCH,
    Route,
    Status,
    UiContext,
    banner,
    big_button,
    finding_card,
    page_view,
    run_busy,
    screen_vm,
    service,
    shown_time,
)
from ui_kit.labels import RESULT_LABELS

SEVERITY_COLORS = {"A": ft.Colors.RED_800, "B": ft.Colors.DEEP_ORANGE_700, "C": ft.Colors.AMBER_900,
                   "D": ft.Colors.BLUE_GREY_700}
GPS_TIMEOUT_SECONDS = 15
CAMERA_TIMEOUT_SECONDS = 15


def tablet(ctx: UiContext) -> AppState:
    """The tablet's state for this browser session, opened when an inspector screen is first shown (a bureau staff
    session never opens the tablet's store)."""
    return service(ctx, "tablet", lambda: AppState.open(ctx.home, ctx.server_url))


def staff_entry(ctx: UiContext) -> ft.Control:
    return ft.TextButton("局端人员登录", icon=ft.Icons.ADMIN_PANEL_SETTINGS, on_click=lambda _e: ctx.go("/staff/login"),
                         height=TOUCH)


def message_text(color=ft.Colors.RED_800) -> ft.Text:
    return ft.Text("", size=16, color=color)


def show(ctx: UiContext, route: str) -> None:
    """Go to `route`; redraw when already there (a screen shown in place of another one under the same route)."""
    if ctx.page.route == route:
        ctx.render()
    else:
        ctx.go(route)


# ============================================================ PIN

class PinPad:
    """Big digit buttons and a row of dots; the PIN never appears on screen. `on_done(pin)` runs on the confirm key:
    checking a PIN takes a key derivation (a good part of a second), so it runs the check with `run_busy`, the pad's
    `keys` disabled and its `status` turning."""

    def __init__(self, on_done: Callable[[str], Awaitable[None]], confirm_label: str = "确定"):
        self.digits: list[str] = []
        self.dots = ft.Text("", size=32, weight=ft.FontWeight.BOLD, text_align=ft.TextAlign.CENTER)
        self.on_done = on_done
        self.status = Status()
        key = lambda label, handler: ft.FilledTonalButton(  # noqa: E731
            content=ft.Text(label, size=26), width=110, height=72, on_click=handler)
        rows: list[list[ft.Control]] = [[key(str(d), self._digit(str(d))) for d in range(r, r + 3)]
                                        for r in (1, 4, 7)]
        rows.append([key("清除", self._clear), key("0", self._digit("0")), key("删除", self._back)])
        confirm = big_button(confirm_label, self._confirm)
        assert isinstance(confirm, ft.LayoutControl)  # big_button makes a button, which has a width
        confirm.width = 3 * 110 + 2 * 12
        self.keys: list[ft.Control] = [*(k for row in rows for k in row), confirm]
        self.control = ft.Column([
            ft.Container(self.dots, height=48, alignment=ft.Alignment.CENTER),
            *[ft.Row(row, spacing=12, tight=True) for row in rows],
            confirm, self.status.control,
        ], spacing=12, width=3 * 110 + 2 * 12, horizontal_alignment=ft.CrossAxisAlignment.CENTER)

    def _show(self) -> None:
        self.dots.value = "●" * len(self.digits)
        self.dots.update()

    def _digit(self, digit: str):
        def handler(_e) -> None:
            if len(self.digits) < 12 and not self.status.running:
                self.digits.append(digit)
                self._show()
        return handler

    def _clear(self, _e) -> None:
        if not self.status.running:
            self.reset()

    def _back(self, _e) -> None:
        if self.digits and not self.status.running:
            self.digits.pop()
            self._show()

    async def _confirm(self, _e) -> None:
        if not self.status.running:
            await self.on_done("".join(self.digits))

    def reset(self) -> None:
        self.digits.clear()
        self._show()

    def refused(self, problem: str) -> None:
        """A PIN that did not do: say why, and start again."""
        self.reset()
        self.status.show(problem, error=True)


def home_vm(ctx: UiContext) -> HomeViewModel:
    """The assignment list of this browser session (it keeps the last pull's and the last 同步's results)."""
    return screen_vm(ctx, "home_vm", lambda: HomeViewModel(tablet(ctx)))


def unlock_view(ctx: UiContext, route: str = "/") -> ft.View:
    """Which inspector, then their PIN; then the assignments from the bureau, if it answers."""
    state, home = tablet(ctx), home_vm(ctx)
    codes = state.inspectors()
    chosen = ctx.flash.get("unlock_as") or (state.identity.inspector_code if state.identity else codes[0])

    async def done(pin: str) -> None:
        await run_busy(ctx, lambda: home.unlock(chosen, pin, pad.status.tell),
                       lambda problem: pad.refused(problem) if problem else ctx.render(),
                       status=pad.status, message="正在核对 PIN…", controls=[*pad.keys, *choices])

    def choose(code: str):
        def handler(_e) -> None:
            ctx.flash["unlock_as"] = code
            ctx.render()
        return handler

    pad = PinPad(done, "解锁")
    choices = [big_button(code, choose(code), filled=code == chosen) for code in codes] if len(codes) > 1 else []
    return page_view(route, "输入 PIN 解锁", [
        ft.Text(f"检查人员 {chosen}，请输入 PIN", size=20, text_align=ft.TextAlign.CENTER),
        ft.Row(choices, wrap=True, alignment=ft.MainAxisAlignment.CENTER), pad.control,
    ], actions=[staff_entry(ctx)], centered=True)


def set_pin_view(ctx: UiContext) -> ft.View:
    """An inspector enrolled without a PIN chooses one (entered twice) before anything else."""
    state, home = tablet(ctx), home_vm(ctx)
    first: list[str] = []
    ask = "请设置 PIN（至少 6 位，不能全相同或连续）"
    prompt = ft.Text(ask, size=20, text_align=ft.TextAlign.CENTER)

    async def done(pin: str) -> None:
        if not first:
            first.append(pin)
            prompt.value = "请再输入一次 PIN"
            pad.reset()
            pad.status.show("")
            ctx.page.update()
            return
        chosen = first.pop()

        def after(problem: str) -> None:
            if problem:
                prompt.value = ask
                pad.refused(problem)
            else:
                ctx.render()

        await run_busy(ctx, lambda: home.set_pin(chosen, pin, pad.status.tell), after, status=pad.status,
                       message="正在设置 PIN…", controls=pad.keys)

    pad = PinPad(done)
    assert state.identity is not None  # shown by home_view only for an enrolled inspector without a PIN
    return page_view("/", f"设置 PIN · {state.identity.inspector_code}", [prompt, pad.control], centered=True)


def change_pin_view(ctx: UiContext) -> ft.View:
    """The inspector using the app: the current PIN, then the new one twice."""
    state = tablet(ctx)
    if state.active is None:
        return unlock_view(ctx, "/pin")
    steps = ["请输入当前 PIN", "请输入新 PIN（至少 6 位，不能全相同或连续）", "请再输入一次新 PIN"]
    entered: list[str] = []
    prompt = ft.Text(steps[0], size=20, text_align=ft.TextAlign.CENTER)

    async def done(pin: str) -> None:
        entered.append(pin)
        pad.reset()
        if len(entered) < len(steps):
            prompt.value = steps[len(entered)]
            pad.status.show("")
            ctx.page.update()
            return
        old, new, again = entered
        entered.clear()

        def after(problem: str) -> None:
            if problem:
                prompt.value = steps[0]
                pad.refused(problem)
                return
            home_vm(ctx).notice, home_vm(ctx).notice_failed = "PIN 已修改，下次解锁请使用新 PIN", False
            ctx.go("/")

        await run_busy(ctx, lambda: state.change_pin(old, new, again), after, status=pad.status,
                       message="正在修改 PIN…", controls=pad.keys)

    pad = PinPad(done)
    assert state.identity is not None  # someone is unlocked (checked above), so an inspector is using the app
    return page_view("/pin", f"修改 PIN · {state.identity.inspector_code}", [prompt, pad.control],
                     back_to="/", ctx=ctx, centered=True)


# ============================================================ enrollment and the assignment list

def enroll_view(ctx: UiContext, route: str = "/") -> ft.View:
    """A new tablet's first inspector, or (`route` /member/add, someone unlocked) another team member."""
    adding = tablet(ctx).active is not None
    identity = tablet(ctx).identity
    server = ft.TextField(label="局端地址", value=tablet(ctx).server_url or
                          (identity.server_url if identity else ""), text_size=18)
    token = ft.TextField(label="注册码", text_size=18)
    pin = ft.TextField(label="设置 PIN（至少 6 位数字）", password=True, text_size=18,
                       keyboard_type=ft.KeyboardType.NUMBER)
    again = ft.TextField(label="再次输入 PIN", password=True, text_size=18, keyboard_type=ft.KeyboardType.NUMBER)
    status = Status()

    async def on_enroll(_e) -> None:
        entered = ((server.value or "").strip(), (token.value or "").strip(), pin.value or "", again.value or "")

        def after(problem: str) -> None:
            if problem:
                status.show(problem, error=True)
            elif adding:
                ctx.go("/")
            else:
                ctx.render()

        await run_busy(ctx, lambda: home_vm(ctx).enroll(*entered, status.tell), after, status=status,
                       message="正在向局端注册…", controls=[server, token, pin, again, button])

    button = big_button("注册", on_enroll)
    intro = "添加检查组成员：请新成员输入自己的注册码并设置自己的 PIN" if adding else "请输入科室负责人提供的注册码，并设置 PIN"
    return page_view(route, "添加检查组成员" if adding else "设备注册", [
        ft.Text(intro, size=18), server, token, pin, again, button, status.control,
    ], back_to="/" if adding else None, ctx=ctx, actions=[] if adding else [staff_entry(ctx)])


def home_view(ctx: UiContext) -> ft.View:
    state = tablet(ctx)
    if state.identity is None:
        return enroll_view(ctx)
    if state.needs_pin:
        return set_pin_view(ctx)
    if state.active is None:
        return unlock_view(ctx)
    vm = home_vm(ctx)
    vm.load()
    status = Status()
    status.show(vm.notice, error=vm.notice_failed)

    async def on_sync(_e) -> None:
        vm.stopping.clear()
        stop.disabled = False
        await run_busy(ctx, lambda: vm.sync(lambda progress: status.tell(sync_progress_text(progress))),
                       lambda _text: ctx.render() if ctx.page.route == "/" else None, status=status,
                       message="正在连接局端…", controls=[sync_button, *actions, *tiles], shown=[stop])

    def on_cancel(_e) -> None:
        vm.stopping.set()
        stop.disabled = True
        status.tell("正在取消：发送中的这一项完成后停止，未发送的保留在本机")
        ctx.page.update()

    def on_lock(_e) -> None:
        state.lock()
        ctx.render()

    sync_button = big_button("同步", on_sync, icon=ft.Icons.SYNC)
    stop = big_button("取消", on_cancel, filled=False, icon=ft.Icons.STOP_CIRCLE_OUTLINED)
    stop.visible = False
    actions: list[ft.Control] = [
        ft.TextButton("添加检查组成员", icon=ft.Icons.PERSON_ADD, on_click=lambda _e: ctx.go("/member/add"),
                      height=TOUCH),
        ft.TextButton("修改 PIN", icon=ft.Icons.PASSWORD, on_click=lambda _e: ctx.go("/pin"), height=TOUCH),
        ft.TextButton("锁定", icon=ft.Icons.LOCK, on_click=on_lock, height=TOUCH),
        staff_entry(ctx)]

    def tile(c: AssignmentCard) -> ft.ListTile:
        return ft.ListTile(
            title=ft.Text(c.institution_name, size=20, weight=ft.FontWeight.BOLD),
            subtitle=ft.Text(f"{c.kind_label} · {c.institution_code}\n{c.address}\n已答 {c.answered}/{c.total}",
                             size=15),
            trailing=ft.Text(c.status_label, size=16, color=ft.Colors.BLUE_800),
            on_click=lambda _e, aid=c.assignment_id: ctx.go(f"/inspection/{aid}"),
            min_height=TOUCH * 2,
        )

    def hidden() -> str:
        return f"还有 {len(vm.cards) - len(vm.page)} 项未显示"

    def on_more(_e) -> None:
        """The next page of cards, appended where they are: the list keeps its place."""
        added = [tile(c) for c in vm.more()]
        tiles.extend(added)
        listed.controls.extend(ft.Card(content=t) for t in added)
        remaining.value, more.visible = hidden(), len(vm.page) < len(vm.cards)
        ctx.page.update()

    # only a page of cards is drawn at a time, so a tablet holding 1,000 inspections opens its list at once
    tiles: list[ft.Control] = [tile(c) for c in vm.page]
    listed = ft.Column([ft.Card(content=t) for t in tiles] or [ft.Text("暂无检查任务", size=18)], spacing=8)
    remaining = ft.Text(hidden(), size=16)
    more = ft.Row([big_button("显示更多", on_more, filled=False, icon=ft.Icons.EXPAND_MORE), remaining], spacing=12,
                  visible=len(vm.page) < len(vm.cards))
    return ft.View(route="/", controls=[
        ft.AppBar(title=ft.Text(f"我的检查任务 · {state.identity.inspector_code}"), actions=actions),
        banner(vm.message, vm.offline),
        ft.Row([sync_button, stop], wrap=True, spacing=12),
        status.control,
        listed,
        more,
    ], scroll=ft.ScrollMode.AUTO, padding=20, horizontal_alignment=ft.CrossAxisAlignment.STRETCH)


def member_view(ctx: UiContext) -> ft.View:
    if tablet(ctx).active is None:
        return unlock_view(ctx, "/member/add")
    return enroll_view(ctx, "/member/add")


# ============================================================ one inspection

def locked_out(ctx: UiContext, route: str) -> ft.View | None:
    """The unlock screen in place of an inspection screen when this session has no key (e.g. after a reload)."""
    if tablet(ctx).identity is None or tablet(ctx).active is None:
        return unlock_view(ctx, route) if tablet(ctx).identity else home_view(ctx)
    return None


def inspection_view(ctx: UiContext, assignment_id: str) -> ft.View:
    route = f"/inspection/{assignment_id}"
    if (view := locked_out(ctx, route)) is not None:
        return view
    vm = InspectionViewModel(tablet(ctx), assignment_id)
    if vm.locked:
        return record_view(ctx, assignment_id)
    if not vm.checked_in:
        return checkin_view(ctx, assignment_id, route)
    return checklist_view(ctx, vm)


def header(vm: InspectionViewModel) -> tuple[list[ft.Control], Callable[[], None]]:
    """Progress bar and 已答 n / N with the live score; and a function that redraws them."""
    bar = ft.ProgressBar(height=12, border_radius=6)
    text = ft.Text("", size=20, weight=ft.FontWeight.BOLD)

    def redraw(update: bool = True) -> None:
        progress = vm.progress()
        bar.value = progress.answered / progress.total if progress.total else 0
        text.value = f"已答 {progress.answered} / {progress.total}" + \
            (f" · 当前得分 {progress.score}" if progress.score is not None else "") + \
            (" · 存在欺诈骗保嫌疑项" if progress.critical else "")
        if update:
            bar.update()
            text.update()

    redraw(update=False)
    return [bar, text], redraw


def checklist_view(ctx: UiContext, vm: InspectionViewModel) -> ft.View:
    assignment_id = vm.assignment_id
    sections = vm.sections()
    key = f"section:{assignment_id}"
    current = min(ctx.flash.get(key, 0), len(sections) - 1)
    progress_controls, show_progress = header(vm)
    section_buttons: list[ft.Control] = []

    def go_section(index: int):
        def handler(_e) -> None:
            ctx.flash[key] = index
            ctx.render()
        return handler

    def section_label(index: int) -> str:
        done, total = vm.section_progress(sections[index][1])
        return f"{sections[index][0].title} {done}/{total}"

    for index in range(len(sections)):
        section_buttons.append(big_button(section_label(index), go_section(index), filled=index == current))

    def changed() -> None:
        show_progress()
        section_buttons[current].content = section_label(current)
        section_buttons[current].update()

    notice = banner("已有人签名，内容已冻结；如需修改，请在“核对与签名”中作废签名" if vm.signed else "", True)
    section, item_ids = sections[current]
    cards = [ItemCard(ctx, vm, item_id, changed).control for item_id in item_ids]
    nav = [big_button("上一组", go_section(current - 1), filled=False, icon=ft.Icons.ARROW_BACK)] if current else []
    if current < len(sections) - 1:
        nav.append(big_button("下一组", go_section(current + 1), filled=False, icon=ft.Icons.ARROW_FORWARD))
    nav.append(big_button("核对与签名", lambda _e: ctx.go(f"/inspection/{assignment_id}/review"),
                          icon=ft.Icons.FACT_CHECK))
    checkin = vm.facts.checkin
    assert checkin is not None  # inspection_view shows the checklist only after check-in
    suspicions = [ft.Row([big_button(vm.suspicions_label, lambda _e: ctx.go(f"/inspection/{assignment_id}/suspicions"),
                                     filled=False, icon=ft.Icons.RULE)])] if vm.suspicions_label else []
    return page_view(f"/inspection/{assignment_id}", vm.assignment.institution_name, [
        ft.Text(f"{vm.assignment.institution_code} · {vm.assignment.institution_address}", size=16),
        ft.Text(f"检查表 {vm.template.title}（版本 {vm.template.version}，{vm.template.hash[:12]}）"
                + (f" · 更正第 {vm.inspection.version} 版：{vm.inspection.correction_reason}"
                   if vm.inspection.version > 1 else ""), size=14),
        ft.Row([ft.Text(f"到场登记：{shown_time(checkin['checked_in_at'])} · "
                        f"{'、'.join(o['name'] for o in checkin['officers'])} · "
                        f"{'已定位' if checkin['gps'] else '未获取定位'}", size=15),
                ft.TextButton("修改登记", on_click=lambda _e: ctx.go(f"/inspection/{assignment_id}/checkin"),
                              height=TOUCH),
                ft.TextButton("询问与调取资料", on_click=lambda _e: ctx.go(f"/inspection/{assignment_id}/inquiry"),
                              icon=ft.Icons.QUESTION_ANSWER, height=TOUCH)], wrap=True),
        *progress_controls, notice, *suspicions,
        ft.Row(section_buttons, wrap=True, spacing=8, run_spacing=8),
        ft.Text(section.title, size=22, weight=ft.FontWeight.BOLD),
        *cards,
        ft.Row(nav, wrap=True, spacing=12),
    ], back_to="/", ctx=ctx)


class ItemCard:
    """One checklist item: result buttons; for a failed item its note, amount, photos and responsible staff; for
    `na` its reason; what still keeps it open. Redraws itself after each change."""

    def __init__(self, ctx: UiContext, vm: InspectionViewModel, item_id: str, on_change: Callable[[], None]):
        self.ctx, self.vm, self.item_id, self.on_change = ctx, vm, item_id, on_change
        self.body = ft.Container(padding=12, border=ft.Border.all(1, ft.Colors.GREY_300), border_radius=8)
        self.control = ft.Semantics(label=f"条目 {item_id}", container=True, content=self.body)
        self.body.content = self.build()

    def redraw(self) -> None:
        self.body.content = self.build()
        self.body.update()
        self.on_change()

    def build(self) -> ft.Control:
        vm, row = self.vm, self.vm.row(self.item_id)
        item, answer = row.item, row.answer
        frozen = vm.signed
        self.problems = ft.Text("；".join(row.problems), size=15, color=ft.Colors.RED_800,
                                visible=bool(row.problems))
        self.error = ft.Text("", size=15, color=ft.Colors.RED_800, visible=False)
        buttons = [big_button(label, None if frozen else self.choose(value), filled=row.result == value)
                   for value, label in RESULT_LABELS.items()]
        parts: list[ft.Control] = [
            ft.Row([ft.Text(f"{item.id}　{item.text}", size=18, weight=ft.FontWeight.BOLD, expand=True),
                    ft.Text(f"{item.severity} 类", size=15, color=SEVERITY_COLORS[item.severity])]),
            ft.Text(f"取证：{item.evidence}", size=14, color=ft.Colors.GREY_700),
            ft.Text(f"违规类别 {item.category} {row.category_title} · 依据：{item.basis}", size=14,
                    color=ft.Colors.GREY_700),
            ft.Row(buttons, wrap=True),
        ]
        if answer is not None and answer.result == "na":
            parts.append(ft.TextField(label="不适用理由", value=answer.note, multiline=True, text_size=16,
                                      disabled=frozen, on_change=self.save_note))
        if answer is not None and answer.result == "fail":
            parts.append(ft.TextField(label="不符合情况说明（写入笔录的问题描述）", value=answer.note, multiline=True,
                                      text_size=16, disabled=frozen, on_change=self.save_note))
            if item.asks_amount:
                parts.append(ft.Row([ft.TextField(label="涉及金额（元）", value=answer.amount_yuan or "", text_size=16,
                                                  width=280, prefix="¥", disabled=frozen,
                                                  keyboard_type=ft.KeyboardType.NUMBER,
                                                  on_change=self.save_amount)]))
            parts.append(ft.TextField(label="责任人员代码（医保医师/药师，多个用逗号分隔）", value="，".join(row.staff_codes),
                                      text_size=16, disabled=frozen, on_change=self.save_staff))
            parts.append(self.photo_row(row, frozen))
        parts += [self.error, self.problems]
        return ft.Column(parts, spacing=8, horizontal_alignment=ft.CrossAxisAlignment.STRETCH)

    def photo_row(self, row, frozen: bool) -> ft.Control:
        required = "（此项须拍照取证）" if row.item.photo_required_on_fail else ""
        tiles: list[ft.Control] = [photo_tile(self.vm, p, None if frozen else self.remove(p.id)) for p in row.photos]
        self.photo_status = Status(15)
        self.photo_buttons = [] if frozen else [
            big_button("拍照", lambda _e: self.ctx.go(f"/inspection/{self.vm.assignment_id}/camera/{self.item_id}"),
                       filled=False, icon=ft.Icons.CAMERA_ALT),
            big_button("选择照片", self.pick, filled=False, icon=ft.Icons.PHOTO_LIBRARY)]
        return ft.Column([ft.Text(f"照片 {len(row.photos)} 张{required}", size=15),
                          ft.Row([*tiles, *self.photo_buttons], wrap=True, spacing=8, run_spacing=8),
                          self.photo_status.control])

    def choose(self, result: str):
        def handler(_e) -> None:
            row = self.vm.row(self.item_id)
            kept = row.answer if row.answer is not None and row.answer.result == result else None
            problem = self.vm.answer(self.item_id, result, kept.note if kept is not None else "",
                                     kept.amount_yuan if kept is not None else None)
            self.redraw()
            self.show_error(problem)
        return handler

    def show_error(self, problem: str) -> None:
        self.error.value, self.error.visible = problem, bool(problem)
        self.error.update()

    def after_save(self, problem: str) -> None:
        """Typing: keep the field (and its focus), update what keeps the item open and the progress."""
        self.show_error(problem)
        row = self.vm.row(self.item_id)
        self.problems.value, self.problems.visible = "；".join(row.problems), bool(row.problems)
        self.problems.update()
        self.on_change()

    def save_note(self, e) -> None:
        answer = self.vm.row(self.item_id).answer
        assert answer is not None  # the field is shown only for an answered item
        self.after_save(self.vm.answer(self.item_id, answer.result, e.control.value, answer.amount_yuan))

    def save_amount(self, e) -> None:
        answer = self.vm.row(self.item_id).answer
        assert answer is not None  # the field is shown only for an answered item
        self.after_save(self.vm.answer(self.item_id, answer.result, answer.note, e.control.value))

    def save_staff(self, e) -> None:
        self.after_save(self.vm.set_staff_codes(self.item_id, e.control.value))

    async def pick(self, _e) -> None:
        picker = service(self.ctx, "file_picker", ft.FilePicker)
        files = await picker.pick_files(with_data=True, file_type=ft.FilePickerFileType.IMAGE, allow_multiple=True)
        if not files:
            return

        def add() -> str:
            return "；".join(f"{f.name}：{p}" for f in files
                            if (p := self.vm.add_photo(self.item_id, f.bytes or b"", "picker")))

        def added(problems: str) -> None:
            self.redraw()
            self.show_error(problems)

        await run_busy(self.ctx, add, added, status=self.photo_status, message=f"正在处理照片（{len(files)} 张）…",
                       controls=self.photo_buttons)

    def remove(self, photo_id: str):
        def handler(_e) -> None:
            problem = self.vm.remove_photo(photo_id)
            self.redraw()
            self.show_error(problem)
        return handler


# ============================================================ 疑点清单

def suspicions_view(ctx: UiContext, assignment_id: str) -> ft.View:
    """The assignment's 疑点 from the bureau's screening, each to be verified against the records on site."""
    route = f"/inspection/{assignment_id}/suspicions"
    if (view := locked_out(ctx, route)) is not None:
        return view
    vm = InspectionViewModel(tablet(ctx), assignment_id)
    count = ft.Text(vm.suspicions_label, size=20, weight=ft.FontWeight.BOLD)

    def changed() -> None:
        count.value = vm.suspicions_label
        count.update()

    rows = vm.suspicion_rows()
    # a page of cards at a time: an assignment may carry 500 疑点
    listed = ft.Column([SuspicionCard(ctx, vm, row.hit_id, changed).control for row in rows[:SUSPICION_PAGE]],
                       spacing=12)

    def hidden() -> str:
        return f"还有 {len(rows) - len(listed.controls)} 条疑点未显示"

    def on_more(_e) -> None:
        start = len(listed.controls)
        listed.controls.extend(SuspicionCard(ctx, vm, row.hit_id, changed).control
                               for row in rows[start:start + SUSPICION_PAGE])
        remaining.value, more.visible = hidden(), len(listed.controls) < len(rows)
        ctx.page.update()

    remaining = ft.Text(hidden(), size=16)
    more = ft.Row([big_button("显示更多疑点", on_more, filled=False, icon=ft.Icons.EXPAND_MORE), remaining],
                  spacing=12, visible=len(rows) > SUSPICION_PAGE)
    frozen = "记录已签名锁定，疑点核查结论不能再修改" if vm.locked else \
        "已有人签名，内容已冻结；如需修改，请在“核对与签名”中作废签名" if vm.signed else ""
    back = f"/inspection/{assignment_id}"
    return page_view(route, f"疑点清单 · {vm.assignment.institution_name}", [
        ft.Text("以下疑点来自局端对结算数据的筛查。请逐条调阅病历、处方、票据核实：属实的填写核实金额，"
                "排除的写明理由；属实的疑点将作为发现的问题写入检查记录。", size=16),
        count, banner(vm.suspicions_left_out, False), banner(frozen, True), listed, more,
        big_button("返回检查表", lambda _e: ctx.go(back), filled=False, icon=ft.Icons.ARROW_BACK),
    ], back_to=back, ctx=ctx)


class SuspicionCard(ItemCard):
    """One 疑点: what screening found; a note (required), then 属实 or 排除; for 属实 the amount (prefilled with
    the 疑点's); photos once there is a verdict (the checklist's camera and picker). Redraws itself after each
    change; `item_id` is the hit id."""

    note_typed = ""  # the note typed before any verdict: saved with the verdict

    def __init__(self, ctx: UiContext, vm: InspectionViewModel, hit_id: str, on_change: Callable[[], None]):
        super().__init__(ctx, vm, hit_id, on_change)
        self.control.label = f"疑点 {hit_id}"

    def build(self) -> ft.Control:
        vm, row = self.vm, self.vm.suspicion_row(self.item_id)
        suspicion, check = row.suspicion, row.check
        frozen = vm.signed or vm.locked
        self.error = ft.Text("", size=15, color=ft.Colors.RED_800, visible=False)
        verdict = check.verdict if check else None
        definite = suspicion["result"] == "明确违规"
        parts: list[ft.Control] = [
            ft.Row([ft.Text(f"{suspicion['rule_name']}（{suspicion['rule']}）", size=18, weight=ft.FontWeight.BOLD,
                            expand=True),
                    ft.Text(suspicion["result"], size=16, weight=ft.FontWeight.BOLD,
                            color=ft.Colors.RED_800 if definite else ft.Colors.AMBER_900)]),
            ft.Text(f"结算ID {suspicion['settlement_id'] or '—'} · {row.when} · 参保人 {suspicion['person']} · "
                    f"金额 {shown_money(suspicion['amount_yuan'])}", size=16),
            ft.Text(f"筛查所见：{suspicion['evidence']}", size=15),
            ft.Text(f"依据：{suspicion['basis']}", size=14, color=ft.Colors.GREY_700),
            ft.TextField(label="核查所见（必填）：病历、处方、票据显示的情况", value=check.note if check else self.note_typed,
                         multiline=True, text_size=16, disabled=frozen, on_change=self.save_note),
            ft.Row([big_button(label, None if frozen else self.decide(value), filled=verdict == value,
                               icon=ft.Icons.CHECK if value == "confirmed" else ft.Icons.BLOCK)
                    for value, label in onsite.VERDICTS.items()], wrap=True, spacing=12),
        ]
        if check is not None and check.verdict == "confirmed":
            parts.append(ft.Row([ft.TextField(label=f"属实金额（元，不超过 {shown_money(suspicion['amount_yuan'])}）",
                                              value=check.amount_yuan, text_size=16, width=360, prefix="¥",
                                              disabled=frozen, keyboard_type=ft.KeyboardType.NUMBER,
                                              on_change=self.save_amount)]))
        if check is not None:
            parts.append(self.photo_row(row, frozen))
        self.verdict = ft.Text("", size=16, weight=ft.FontWeight.BOLD)
        self.show_verdict(check)
        parts += [self.verdict, self.error]
        return ft.Column(parts, spacing=8, horizontal_alignment=ft.CrossAxisAlignment.STRETCH)

    def show_verdict(self, check: onsite.CheckData | None) -> None:
        self.verdict.value = "待核" if check is None else f"结论：{onsite.VERDICTS[check.verdict]}" + (
            f"，核实金额 {shown_money(check.amount_yuan)}" if check.verdict == "confirmed" else "")
        self.verdict.color = ft.Colors.GREY_700 if check is None else ft.Colors.GREEN_800

    def photo_row(self, row, frozen: bool) -> ft.Control:
        tiles: list[ft.Control] = [photo_tile(self.vm, p, None if frozen else self.remove(p.id)) for p in row.photos]
        self.photo_status = Status(15)
        self.photo_buttons = [] if frozen else [
            big_button("拍照", lambda _e: self.ctx.go(f"/inspection/{self.vm.assignment_id}/camera/{self.item_id}"),
                       filled=False, icon=ft.Icons.CAMERA_ALT),
            big_button("添加照片", self.pick, filled=False, icon=ft.Icons.PHOTO_LIBRARY)]
        return ft.Column([ft.Text(f"取证照片 {len(row.photos)} 张", size=15),
                          ft.Row([*tiles, *self.photo_buttons], wrap=True, spacing=8, run_spacing=8),
                          self.photo_status.control])

    def decide(self, verdict: str):
        def handler(_e) -> None:
            check = self.vm.suspicion_row(self.item_id).check
            note = check.note if check else self.note_typed
            amount = check.amount_yuan if check and check.verdict == "confirmed" else \
                self.vm.suspicion_row(self.item_id).suspicion["amount_yuan"]
            problem = self.vm.check_suspicion(self.item_id, verdict, note, amount)
            if problem:
                self.show_error(problem)
                return
            self.redraw()
        return handler

    def save_note(self, e) -> None:
        check = self.vm.suspicion_row(self.item_id).check
        if check is None:
            self.note_typed = e.control.value
            return
        self.after_check(self.vm.check_suspicion(self.item_id, check.verdict, e.control.value, check.amount_yuan))

    def save_amount(self, e) -> None:
        check = self.vm.suspicion_row(self.item_id).check
        assert check is not None  # the field is shown only for a confirmed 疑点
        self.after_check(self.vm.check_suspicion(self.item_id, check.verdict, check.note, e.control.value))

    def after_check(self, problem: str) -> None:
        """Typing: keep the field (and its focus); say what is wrong, or what is now saved."""
        self.show_error(problem)
        self.show_verdict(self.vm.suspicion_row(self.item_id).check)
        self.verdict.update()
        self.on_change()


def photo_tile(vm: InspectionViewModel, photo: onsite.PhotoInfo, on_remove) -> ft.Control:
    """A thumbnail (never the full image) with its capture time and a remove button."""
    parts: list[ft.Control] = [ft.Image(src=vm.thumbnail(photo.sha256), width=160, height=120,
                                        fit=ft.BoxFit.COVER, border_radius=6)]
    when = photo.meta.get("captured_at") or photo.meta.get("added_at", "")
    parts.append(ft.Text(f"{shown_time(when)} · {photo.sha256[:8]}", size=12))
    if on_remove is not None:
        parts.append(ft.TextButton("删除", icon=ft.Icons.DELETE_OUTLINE, on_click=on_remove, height=TOUCH))
    return ft.Column(parts, spacing=2, horizontal_alignment=ft.CrossAxisAlignment.CENTER)


# ============================================================ check-in

def checkin_view(ctx: UiContext, assignment_id: str, route: str | None = None) -> ft.View:
    route = route or f"/inspection/{assignment_id}/checkin"
    if (view := locked_out(ctx, route)) is not None:
        return view
    vm = CheckInViewModel(tablet(ctx), assignment_id)
    problems = ft.Text("", size=15, color=ft.Colors.RED_800)
    gps_text = ft.Text("", size=16)

    def show_gps() -> None:
        gps_text.value = (f"定位：纬度 {vm.gps['lat']}，经度 {vm.gps['lon']}（精度约 {vm.gps['accuracy_m']} 米）"
                          if vm.gps else f"未获取定位：{vm.gps_note}" if vm.gps_note else "尚未获取定位")

    def save() -> None:
        missing = vm.save()
        problems.value = "；".join(missing)
        problems.update()

    def officer_fields(officer) -> ft.Control:
        def setter(attribute: str):
            def handler(e) -> None:
                setattr(officer, attribute, e.control.value)
                save()
            return handler
        if officer.from_registry:
            who: list[ft.Control] = [
                ft.Text(f"{officer.name}（{officer.inspector_code}）", size=20, weight=ft.FontWeight.BOLD),
                ft.Text(f"执法证号 {officer.badge_no}", size=17),
                ft.Text("姓名和执法证号来自局端执法检查人员名录", size=14, color=ft.Colors.GREY_700)]
        else:  # an assignment issued before assignments named their members
            who = [ft.Text(f"检查人员 {officer.inspector_code}", size=18, weight=ft.FontWeight.BOLD),
                   ft.TextField(label=f"{officer.inspector_code} 姓名", value=officer.name, text_size=18,
                                on_change=setter("name")),
                   ft.TextField(label=f"{officer.inspector_code} 执法证号", value=officer.badge_no, text_size=18,
                                on_change=setter("badge_no"))]
        return ft.Container(ft.Column([
            *who,
            ft.Checkbox(label=f"{officer.inspector_code} 已向被检查单位出示执法证件", value=officer.id_shown,
                        on_change=setter("id_shown"), label_style=ft.TextStyle(size=18)),
        ], spacing=6), padding=12, border=ft.Border.all(1, ft.Colors.GREY_300), border_radius=8,
            col=HALF)

    def representative_field(attribute: str, label: str) -> ft.Control:
        def handler(e) -> None:
            vm.representative[attribute] = e.control.value
            save()
        return ft.TextField(label=label, value=vm.representative[attribute], text_size=18, on_change=handler,
                            keyboard_type=ft.KeyboardType.PHONE if attribute == "phone" else ft.KeyboardType.TEXT,
                            col=HALF)

    def set_place(e) -> None:
        vm.place = e.control.value
        save()

    def legal_field(attribute: str, label: str) -> ft.Control:
        def handler(e) -> None:
            vm.legal[attribute] = e.control.value
            save()
        return ft.TextField(label=label, value=vm.legal[attribute], text_size=18, on_change=handler, col=HALF)

    def set_legal_title(e) -> None:
        vm.legal["title"] = e.control.value
        save()

    def set_recorder(e) -> None:
        vm.recorder = e.control.value
        save()

    def notice_setter(notice_id: str, attribute: str):
        def handler(e) -> None:
            vm.notices[notice_id][attribute] = e.control.value
            save()
        return handler

    def notice_card(notice) -> ft.Control:
        """A notice to read aloud, with its basis; ticked once given, or its question's answer chosen."""
        entry = vm.notices[notice.id]
        if notice.question:
            answer: list[ft.Control] = [
                ft.Text(f"问：{notice.question}", size=17, weight=ft.FontWeight.BOLD),
                ft.RadioGroup(value=entry["answer"] or None, on_change=notice_setter(notice.id, "answer"),
                              content=ft.Row([ft.Radio(value=choice, label=choice,
                                                       label_style=ft.TextStyle(size=18))
                                              for choice in notice.choices], wrap=True)),
                ft.TextField(label=f"{notice.title}：在场人员的说明（如申请回避，写明对象及理由）",
                             value=entry["detail"], text_size=17, on_change=notice_setter(notice.id, "detail"),
                             multiline=True, min_lines=1, max_lines=4)]
        else:
            answer = [ft.Checkbox(label=f"已告知{notice.title}", value=entry["given"],
                                  on_change=notice_setter(notice.id, "given"), label_style=ft.TextStyle(size=18))]
        return ft.Container(ft.Column([
            ft.Text(f"{notice.title}（{notice.basis}）", size=17, weight=ft.FontWeight.BOLD),
            ft.Text(notice.text, size=16, selectable=True),
            *answer,
        ], spacing=6, horizontal_alignment=ft.CrossAxisAlignment.STRETCH), padding=12,
            border=ft.Border.all(1, ft.Colors.GREY_300), border_radius=8)

    async def locate(_e) -> None:
        gps_text.value = "正在定位…"
        gps_text.update()
        geolocator = service(ctx, "geolocator", fgl.Geolocator)
        try:
            position = await asyncio.wait_for(geolocator.get_current_position(), GPS_TIMEOUT_SECONDS)
            vm.set_position(position.latitude, position.longitude, position.accuracy)
        except asyncio.TimeoutError:
            vm.no_position(f"{GPS_TIMEOUT_SECONDS} 秒内未获得定位（室内信号弱）")
        except Exception as exc:  # permission refused, no location service: recorded as such
            vm.no_position(f"定位不可用（{str(exc)[:60] or type(exc).__name__}）")
        show_gps()
        gps_text.update()
        save()

    def done(_e) -> None:
        save()
        if not problems.value:
            show(ctx, f"/inspection/{assignment_id}")

    show_gps()
    missing = vm.problems()
    problems.value = "；".join(missing) if vm.checked_in_at else ""
    return page_view(route, f"到场登记 · {vm.inspection_vm.assignment.institution_name}", [
        ft.Text("请两名检查人员出示执法证件，逐一确认；登记被检查单位在场人员和法定代表人，宣读告知事项。", size=17),
        ft.Text("检查人员", size=18, weight=ft.FontWeight.BOLD),
        ft.ResponsiveRow([officer_fields(o) for o in vm.officers], spacing=12, run_spacing=12),
        ft.Text("被检查单位在场人员", size=18, weight=ft.FontWeight.BOLD),
        ft.ResponsiveRow([representative_field("name", "在场人员姓名"), representative_field("role", "职务"),
                          representative_field("phone", "联系电话"),
                          representative_field("id_number", "在场人员身份证号码")], spacing=12, run_spacing=12),
        ft.Text("被检查单位法定代表人或主要负责人（可与在场人员不同）", size=18, weight=ft.FontWeight.BOLD),
        ft.RadioGroup(value=vm.legal["title"], on_change=set_legal_title, content=ft.Row([
            ft.Radio(value=title, label=title, label_style=ft.TextStyle(size=18)) for title in onsite.LEGAL_TITLES])),
        ft.ResponsiveRow([legal_field("name", "法定代表人（主要负责人）姓名"),
                          legal_field("id_number", "法定代表人（主要负责人）身份证号码")], spacing=12, run_spacing=12),
        ft.Text("记录人", size=18, weight=ft.FontWeight.BOLD),
        ft.RadioGroup(value=vm.recorder, on_change=set_recorder, content=ft.Row([
            ft.Radio(value=o.inspector_code, label=f"记录人 {o.name or o.inspector_code}（{o.inspector_code}）",
                     label_style=ft.TextStyle(size=18)) for o in vm.officers], wrap=True)),
        ft.Text("告知事项（请向在场人员宣读，逐项确认）", size=18, weight=ft.FontWeight.BOLD),
        *[notice_card(notice) for notice in vm.notice_rules],
        ft.TextField(label="检查地点", value=vm.place, text_size=18, on_change=set_place),
        ft.Row([big_button("获取定位", locate, filled=False, icon=ft.Icons.MY_LOCATION), gps_text], wrap=True),
        problems,
        big_button("完成登记，开始检查", done, icon=ft.Icons.CHECK),
    ], back_to="/", ctx=ctx)


# ============================================================ 询问, 调取资料, 先行登记保存

def record_parts_view(ctx: UiContext, assignment_id: str) -> ft.View:
    """The 询问 (question and answer pairs as the inspector types them), the documents taken and a 先行登记保存.
    Each list is saved whole on every change; adding or removing a row redraws only its list."""
    route = f"/inspection/{assignment_id}/inquiry"
    if (view := locked_out(ctx, route)) is not None:
        return view
    vm = RecordPartsViewModel(tablet(ctx), assignment_id)
    status = ft.Text("", size=15, color=ft.Colors.RED_800)
    deadline = ft.Text(vm.deadline_text(), size=16)

    def save(part: str) -> None:
        status.value = vm.save(part)
        status.update()
        if part == "preservation":
            deadline.value = vm.deadline_text()
            deadline.update()

    def text_field(rows: list[dict[str, str]], index: int, key: str, label: str, part: str,
                   multiline: bool = False) -> ft.TextField:
        def handler(e) -> None:
            rows[index][key] = e.control.value
            save(part)
        return ft.TextField(label=label, value=rows[index].get(key, ""), text_size=17, on_change=handler,
                            multiline=multiline, min_lines=1, max_lines=6 if multiline else 1, col=HALF)

    def form_choice(index: int) -> ft.Control:
        def handler(e) -> None:
            vm.documents[index]["form"] = e.control.value
            save("documents_taken")
        return ft.RadioGroup(value=vm.documents[index].get("form") or onsite.DOCUMENT_FORMS[0], on_change=handler,
                             content=ft.Row([ft.Radio(value=form, label=f"{form}（第 {index + 1} 项）")
                                             for form in onsite.DOCUMENT_FORMS]))

    def row_controls(part: str, index: int) -> list[ft.Control]:
        n = index + 1
        if part == "inquiries":
            return [text_field(vm.inquiries, index, "question", f"问（第 {n} 问）", part, True),
                    text_field(vm.inquiries, index, "answer", f"答（第 {n} 问）", part, True)]
        if part == "documents_taken":
            return [text_field(vm.documents, index, "name", f"资料名称（第 {n} 项）", part),
                    text_field(vm.documents, index, "quantity", f"份数/页数（第 {n} 项）", part), form_choice(index)]
        return [text_field(vm.items, index, "name", f"物品名称（第 {n} 项）", part),
                text_field(vm.items, index, "quantity", f"数量（第 {n} 项）", part),
                text_field(vm.items, index, "place", f"存放地点（第 {n} 项）", part)]

    rows_of = {"inquiries": vm.inquiries, "documents_taken": vm.documents, "preservation": vm.items}
    blank = {"inquiries": {"question": "", "answer": ""}, "documents_taken": {"name": "", "quantity": ""},
             "preservation": {"name": "", "quantity": "", "place": ""}}
    lists = {part: ft.Column(spacing=12) for part in rows_of}

    def build(part: str) -> None:
        def remove(index: int):
            def handler(_e) -> None:
                rows_of[part].pop(index)
                save(part)
                build(part)
                lists[part].update()
            return handler
        lists[part].controls = [ft.Container(ft.ResponsiveRow([
            *row_controls(part, index),
            ft.TextButton("删除此项", icon=ft.Icons.DELETE_OUTLINE, on_click=remove(index), height=TOUCH)],
            spacing=12, run_spacing=8), padding=12, border=ft.Border.all(1, ft.Colors.GREY_300), border_radius=8)
            for index in range(len(rows_of[part]))]

    def add(part: str):
        def handler(_e) -> None:
            rows_of[part].append(dict(blank[part]))
            build(part)
            lists[part].update()
        return handler

    def set_approver(e) -> None:
        vm.approved_by = e.control.value
        save("preservation")

    for part in rows_of:
        build(part)
    frozen = banner("已有人签名，内容已冻结；如需修改，请在“核对与签名”中作废签名" if vm.inspection_vm.signed else "",
                    True)
    return page_view(route, f"询问与调取资料 · {vm.inspection_vm.assignment.institution_name}", [
        frozen,
        ft.Text("询问记录", size=20, weight=ft.FontWeight.BOLD),
        ft.Text("逐问逐答记录询问内容，由被询问人核对。", size=16),
        lists["inquiries"],
        big_button("添加一问一答", add("inquiries"), filled=False, icon=ft.Icons.ADD),
        ft.Text("调取资料清单", size=20, weight=ft.FontWeight.BOLD),
        lists["documents_taken"],
        big_button("添加调取资料", add("documents_taken"), filled=False, icon=ft.Icons.ADD),
        ft.Text("先行登记保存", size=20, weight=ft.FontWeight.BOLD),
        deadline,
        ft.TextField(label="批准人（行政机关负责人）", value=vm.approved_by, text_size=17, on_change=set_approver),
        lists["preservation"],
        big_button("添加先行登记保存物品", add("preservation"), filled=False, icon=ft.Icons.ADD),
        status,
        big_button("返回检查表", lambda _e: ctx.go(f"/inspection/{assignment_id}"), icon=ft.Icons.ARROW_BACK),
    ], back_to=f"/inspection/{assignment_id}", ctx=ctx)


# ============================================================ photos from the camera

def camera_view(ctx: UiContext, assignment_id: str, item_id: str) -> ft.View:
    """flet-camera (web: https or localhost only). The file picker on the checklist always works."""
    route = f"/inspection/{assignment_id}/camera/{item_id}"
    if (view := locked_out(ctx, route)) is not None:
        return view
    vm = InspectionViewModel(tablet(ctx), assignment_id)
    suspicion = any(s["hit_id"] == item_id for s in vm.facts.suspicions)
    back = f"/inspection/{assignment_id}/refusal" if item_id == onsite.REFUSAL_ITEM else \
        f"/inspection/{assignment_id}/suspicions" if suspicion else f"/inspection/{assignment_id}"
    camera = fcam.Camera(width=640, height=480, preview_enabled=True)
    status = ft.Text("请点击“打开相机”", size=16)
    async def open_camera(_e) -> None:
        status.value = "正在打开相机…"
        status.update()
        try:
            cameras = await asyncio.wait_for(camera.get_available_cameras(), CAMERA_TIMEOUT_SECONDS)
            if not cameras:
                raise RuntimeError("no camera")
            await asyncio.wait_for(camera.initialize(cameras[0], fcam.ResolutionPreset.VERY_HIGH,
                                                     enable_audio=False), CAMERA_TIMEOUT_SECONDS)
        except Exception:  # no camera, no permission, or not a secure origin
            status.value = "未检测到可用的相机（网页模式下需 https 或本机地址），请返回使用“选择照片”"
            status.update()
            return
        status.value, shoot.visible = "对准取证对象后点击“拍照”", True
        ctx.page.update()

    async def take(_e) -> None:
        status.value = "正在保存照片…"
        status.update()
        data = bytes(await asyncio.wait_for(camera.take_picture(), CAMERA_TIMEOUT_SECONDS))
        problem = await asyncio.to_thread(vm.add_photo, item_id, data, "camera")
        if problem:
            status.value = problem
            status.update()
            return
        ctx.go(back)

    shoot = big_button("拍照", take, icon=ft.Icons.CAMERA)
    shoot.visible = False
    title = "拒签现场拍照" if item_id == onsite.REFUSAL_ITEM else "疑点取证拍照" if suspicion else f"拍照取证 · {item_id}"
    return page_view(route, title, [
        ft.Row([big_button("打开相机", open_camera, filled=False, icon=ft.Icons.VIDEOCAM), shoot], wrap=True),
        status, ft.Container(camera, width=640, height=480, bgcolor=ft.Colors.BLACK),
    ], back_to=back, ctx=ctx)


# ============================================================ review and signatures

def checkin_elements(checkin: dict) -> list[ft.Control]:
    """The 法定代表人, the 记录人 and the notices with their answers, as the review shows them (none for a check-in
    saved before they were recorded)."""
    if checkin.get("notices") is None:
        return []
    legal = checkin["legal_representative"]
    recorder = next(o for o in checkin["officers"] if o["inspector_code"] == checkin["recorder"])
    notices = "；".join(f"{n['title']}：" + (n["answer"] + (f"（{n['detail']}）" if n["detail"] else "")
                                            if n["question"] else "已告知" if n["given"] else "未告知")
                       for n in checkin["notices"])
    return [ft.Text(f"{legal['title']}：{legal['name']}（身份证号码 {legal['id_number']}） · 记录人：{recorder['name']}",
                    size=15),
            ft.Text(f"告知事项：{notices}", size=15)]


def part_elements(content: dict) -> list[ft.Control]:
    """The 询问, the documents taken and a 先行登记保存, as the review shows them."""
    out: list[ft.Control] = [ft.Text("询问记录", size=20, weight=ft.FontWeight.BOLD)]
    out += [ft.Text(f"问：{pair['question']}\n答：{pair['answer']}", size=15) for pair in content.get("inquiries", [])] \
        or [ft.Text("未进行询问", size=16)]
    documents = content.get("documents_taken", [])
    out.append(ft.Text("调取资料：" + ("；".join(f"{d['name']}（{d['quantity']}，{d['form']}）" for d in documents)
                                   if documents else "无"), size=15))
    preservation = content.get("preservation")
    if preservation:
        items = "；".join(f"{i['name']}（{i['quantity']}，存放于{i['place']}）" for i in preservation["items"])
        out.append(ft.Text(f"先行登记保存（{preservation['approved_by']} 批准）：{items} · 处理决定最迟于 "
                           f"{preservation['decision_by']}", size=15))
    return out


def review_view(ctx: UiContext, assignment_id: str) -> ft.View:
    route = f"/inspection/{assignment_id}/review"
    if (view := locked_out(ctx, route)) is not None:
        return view
    vm = ReviewViewModel(tablet(ctx), assignment_id)
    if vm.inspection_vm.locked:
        return record_view(ctx, assignment_id)
    facts, review = vm.facts, vm.review
    back = f"/inspection/{assignment_id}"
    if review.content is None:
        return page_view(route, "核对与签名", [
            banner("检查内容尚不完整，暂不能签名：", True),
            *[ft.Text(f"· {p}", size=16) for p in review.problems[:20]],
            big_button("返回检查表", lambda _e: ctx.go(f"/inspection/{assignment_id}")),
        ], back_to=back, ctx=ctx)
    content = review.content
    status = Status()

    async def lock(_e) -> None:
        await run_busy(ctx, vm.lock, lambda ok: ctx.go(f"/inspection/{assignment_id}") if ok else
                       status.show(vm.message, error=True), status=status, message="正在签名、封装并锁定记录…",
                       controls=[lock_button, *void_button])

    def void(_e) -> None:
        vm.inspection_vm.void_signatures()
        ctx.render()

    score = content["score"]
    counts = {r: sum(1 for a in content["answers"].values() if a["result"] == r) for r in RESULT_LABELS}
    checkin = content["checkin"]
    finding_rows = []
    for number, found in enumerate(content["findings"], 1):
        thumbs: list[ft.Control] = [ft.Image(src=vm.inspection_vm.thumbnail(sha), width=120, height=90,
                                             fit=ft.BoxFit.COVER, border_radius=4) for sha in found["photos"]]
        finding_rows.append(finding_card(number, found, shown_money(found["amount_yuan"]),
                                         ft.Row(thumbs, wrap=True)))
    checked = [checked_suspicion(vm, number, suspicion, check)
               for number, (suspicion, check) in enumerate(vm.suspicion_checks(), 1)]
    signing = []
    for role, text in vm.signing_status():
        signing.append(ft.Row([
            big_button(f"{ROLE_TITLES[role]}签名", lambda _e, r=role: ctx.go(f"/inspection/{assignment_id}/sign/{r}"),
                       filled=text.startswith("已签名") is False, icon=ft.Icons.DRAW),
            ft.Text(text, size=16)], wrap=True))
    refusal = [ft.Row([big_button("在场人员拒签", lambda _e: ctx.go(f"/inspection/{assignment_id}/refusal"),
                                  filled=False, icon=ft.Icons.DO_NOT_DISTURB)])] \
        if "representative" not in facts.marks else []
    remaining = vm.remaining()
    lock_button = big_button("签名完成，锁定记录", lock, icon=ft.Icons.LOCK)
    void_button = [big_button("作废签名，返回修改", void, filled=False)] if vm.inspection_vm.signed else []
    return page_view(route, f"核对与签名 · {content['institution']['name']}", [
        ft.Text("请检查人员和被检查单位在场人员核对以下内容，签名即确认与事实相符。", size=17),
        ft.Text(f"检查时间：{shown_time(checkin['checked_in_at'])} · 地点：{checkin['place']} · "
                + (f"定位 {checkin['gps']['lat']}, {checkin['gps']['lon']}" if checkin["gps"]
                   else f"未获取定位（{checkin['gps_note']}）"), size=15),
        ft.Text("检查人员：" + "、".join(f"{o['name']}（执法证号 {o['badge_no']}，已出示证件）"
                                     for o in checkin["officers"]), size=15),
        ft.Text(f"在场人员：{checkin['representative']['name']}（{checkin['representative']['role']}，"
                f"{checkin['representative']['phone']}"
                + (f"，身份证号码 {checkin['representative']['id_number']}"
                   if checkin["representative"].get("id_number") else "") + "）", size=15),
        *checkin_elements(checkin),
        ft.Text(f"共检查 {len(content['answers'])} 项：符合 {counts['pass']} 项，不符合 {counts['fail']} 项，"
                f"不适用 {counts['na']} 项 · 得分 {score['value'] or '—'}"
                + (" · 存在欺诈骗保嫌疑项（A 类）" if score["critical"] else ""), size=18,
                weight=ft.FontWeight.BOLD),
        ft.Text("发现的问题", size=20, weight=ft.FontWeight.BOLD),
        *(finding_rows or [ft.Text("检查表未发现问题" if checked else "未发现问题", size=16)]),
        *([ft.Text("疑点核查", size=20, weight=ft.FontWeight.BOLD), *checked] if checked else []),
        *part_elements(content),
        ft.Container(ft.Column([
            ft.Text("内容摘要（SHA-256，签名时核对）", size=15),
            ft.Text(review.short_hash, size=30, weight=ft.FontWeight.BOLD),
        ]), padding=12, bgcolor=ft.Colors.BLUE_50, border_radius=8),
        ft.Text("签名", size=20, weight=ft.FontWeight.BOLD),
        *signing, *refusal,
        banner("；".join(remaining), True) if remaining else banner("签名已齐全，可以锁定记录", False),
        ft.Row([lock_button, *void_button], wrap=True),
        status.control,
    ], back_to=back, ctx=ctx)


def checked_suspicion(vm: ReviewViewModel, number: int, suspicion: dict, check: dict) -> ft.Control:
    """One 疑点 checked on site, as the institution's representative reads it before signing: the facts found."""
    confirmed = check["verdict"] == "confirmed"
    thumbs: list[ft.Control] = [ft.Image(src=vm.inspection_vm.thumbnail(sha), width=120, height=90,
                                         fit=ft.BoxFit.COVER, border_radius=4) for sha in check["photos"]]
    return ft.Container(ft.Column([
        ft.Text(f"{number}. {suspicion['rule_name']} · {onsite.VERDICTS[check['verdict']]}", size=17,
                weight=ft.FontWeight.BOLD, color=ft.Colors.RED_800 if confirmed else ft.Colors.GREEN_800),
        ft.Text(f"结算ID {suspicion['settlement_id'] or '—'} · "
                f"{suspicion.get('date') or suspicion.get('month') or '—'} · 参保人 {suspicion['person']} · "
                f"疑点金额 {shown_money(suspicion['amount_yuan'])}"
                + (f" · 核实金额 {shown_money(check['amount_yuan'])}" if confirmed else ""), size=15),
        ft.Text(f"核查所见：{check['note']}", size=15),
        ft.Row(thumbs, wrap=True),
    ], spacing=4), padding=10, border=ft.Border.all(1, ft.Colors.GREY_300), border_radius=8)


class SignaturePad:
    """Canvas + GestureDetector. Each stroke is saved when the finger lifts: points (x, y, ms since the stroke
    began, from the browser's pointer timestamps when it reports them)."""

    def __init__(self, vm: SignatureViewModel, on_problem: Callable[[str], None]):
        self.vm, self.on_problem = vm, on_problem
        width, height = PAD_SIZE
        self.canvas = cv.Canvas(shapes=[], width=width, height=height)
        for stroke in vm.strokes:
            self._draw([tuple(p) for p in stroke["points"]])
        self.points: list[tuple[int, int, int]] = []
        self.started: datetime | None = None
        self.first_ms: float | None = None
        self.first_clock = 0.0
        self.control = ft.Semantics(label="签名板", container=True, content=ft.GestureDetector(
            content=ft.Container(self.canvas, width=width, height=height, bgcolor=ft.Colors.WHITE,
                                 border=ft.Border.all(2, ft.Colors.BLUE_GREY_400), border_radius=4),
            on_pan_start=self.start, on_pan_update=self.move, on_pan_end=self.end, drag_interval=10))

    def _draw(self, points: list[tuple[int, int, int]]) -> None:
        paint = ft.Paint(stroke_width=3, color=ft.Colors.BLACK, stroke_cap=ft.StrokeCap.ROUND)
        for (x1, y1, _), (x2, y2, _) in zip(points, points[1:]):
            self.canvas.shapes.append(cv.Line(x1, y1, x2, y2, paint=paint))

    def _point(self, e) -> tuple[int, int, int]:
        width, height = PAD_SIZE
        x = min(max(round(e.local_position.x), 0), width)
        y = min(max(round(e.local_position.y), 0), height)
        stamp = getattr(e, "timestamp", None)
        if stamp is not None and self.first_ms is not None:
            elapsed = stamp.in_microseconds / 1000 - self.first_ms
        else:
            elapsed = (time.monotonic() - self.first_clock) * 1000
        previous = self.points[-1][2] if self.points else 0
        return x, y, max(previous, round(elapsed))

    def start(self, e) -> None:
        if self.vm.confirmed:
            return
        self.started = datetime.now().astimezone()
        stamp = getattr(e, "timestamp", None)
        self.first_ms = stamp.in_microseconds / 1000 if stamp is not None else None
        self.first_clock = time.monotonic()
        self.points = [self._point(e)]

    def move(self, e) -> None:
        if self.started is None:
            return
        self.points.append(self._point(e))
        self._draw(self.points[-2:])
        self.canvas.update()

    def end(self, _e) -> None:
        if self.started is None:
            return
        problem = self.vm.add_stroke(self.started, self.points)
        self.started, self.points = None, []
        if problem:
            self.on_problem(problem)

    def clear(self) -> None:
        self.canvas.shapes.clear()
        self.canvas.update()


def sign_view(ctx: UiContext, assignment_id: str, role: str) -> ft.View:
    route = f"/inspection/{assignment_id}/sign/{role}"
    if (view := locked_out(ctx, route)) is not None:
        return view
    vm = SignatureViewModel(tablet(ctx), assignment_id, role)
    back = f"/inspection/{assignment_id}/refusal" if role == "witness" else f"/inspection/{assignment_id}/review"
    if vm.review.hash is None:
        return page_view(route, f"{vm.title}签名", [banner("检查内容尚不完整，暂不能签名", True)],
                      back_to=back, ctx=ctx)
    if vm.needs_pin:
        async def unlocked(pin: str) -> None:
            await run_busy(ctx, lambda: vm.unlock(pin), lambda problem: pad.refused(problem) if problem
                           else ctx.render(), status=pad.status, message="正在核对 PIN…", controls=pad.keys)
        pad = PinPad(unlocked, "确认身份")
        return page_view(route, f"{vm.title}签名", [
            ft.Text(f"检查人员 {vm.code} 在本机注册了签名密钥：请本人输入 PIN，再手写签名。", size=18,
                    text_align=ft.TextAlign.CENTER),
            pad.control], back_to=back, ctx=ctx, centered=True)

    status = Status()

    def show_problem(text: str) -> None:
        status.show(text, error=True)
        ctx.page.update()

    signature_pad = SignaturePad(vm, show_problem)
    name = ft.TextField(label="签名人姓名", value=vm.name, text_size=20, width=320, disabled=vm.confirmed)

    def clear(_e) -> None:
        vm.clear()
        ctx.render()

    async def confirm(_e) -> None:
        typed = name.value or ""
        await run_busy(ctx, lambda: vm.confirm(typed), lambda ok: ctx.go(back) if ok else show_problem(vm.message),
                       status=status, message="正在保存签名…", controls=[name, *buttons])

    buttons = [big_button("清除", clear, filled=False, icon=ft.Icons.CLEAR),
               big_button("确认签名", confirm, icon=ft.Icons.CHECK)]
    return page_view(route, f"{vm.title}签名", [
        ft.Container(ft.Column([
            ft.Text("您签名确认的内容摘要（与核对页一致）", size=15),
            ft.Text(vm.review.short_hash, size=26, weight=ft.FontWeight.BOLD),
        ]), padding=12, bgcolor=ft.Colors.BLUE_50, border_radius=8),
        name,
        ft.Text("已确认签名，如需重签请先清除" if vm.confirmed else "请在下方框内手写签名", size=16),
        ft.Row([signature_pad.control]),  # the pad keeps its size (its strokes are clamped to it), not the width
        ft.Row(buttons, wrap=True, spacing=12),
        status.control,
    ], back_to=back, ctx=ctx)


def refusal_view(ctx: UiContext, assignment_id: str) -> ft.View:
    route = f"/inspection/{assignment_id}/refusal"
    if (view := locked_out(ctx, route)) is not None:
        return view
    vm = RefusalViewModel(tablet(ctx), assignment_id)
    message = message_text()
    reason = ft.TextField(label="拒签理由", value=vm.reason, multiline=True, text_size=18)
    witness = ft.TextField(label="见证人姓名", value=vm.witness_name, text_size=18, col=HALF)
    witness_id = ft.TextField(label="见证人身份证号码", value=vm.witness_id_number, text_size=18, col=HALF)
    media = ft.TextField(label="录音录像情况（如有）", value=vm.media_note, text_size=18)

    def record(_e) -> None:
        problem = vm.record(reason.value or "", witness.value or "", media.value or "", witness_id.value or "")
        if problem:
            message.value = problem
            message.update()
            return
        ctx.render()

    async def pick(_e) -> None:
        picker = service(ctx, "file_picker", ft.FilePicker)
        files = await picker.pick_files(with_data=True, file_type=ft.FilePickerFileType.IMAGE)
        if not files:
            return

        def add() -> str:
            return "；".join(p for f in files
                            if (p := vm.inspection_vm.add_photo(onsite.REFUSAL_ITEM, f.bytes or b"", "picker")))

        await run_busy(ctx, add, lambda problems: photo_status.show(problems, error=True) if problems
                       else ctx.render(), status=photo_status, message="正在处理照片…", controls=photo_buttons)

    photo_status = Status()
    photo_buttons = [
        big_button("拍照", lambda _e: ctx.go(f"/inspection/{assignment_id}/camera/{onsite.REFUSAL_ITEM}"),
                   filled=False, icon=ft.Icons.CAMERA_ALT),
        big_button("选择照片", pick, filled=False, icon=ft.Icons.PHOTO_LIBRARY)]
    tiles = [photo_tile(vm.inspection_vm, p, None) for p in vm.photos()]
    steps: list[ft.Control] = [
        ft.Text("被检查单位在场人员拒绝签名时：记录拒签理由，由见证人签名，并拍照记录现场。", size=17),
        reason, ft.ResponsiveRow([witness, witness_id], spacing=12, run_spacing=12), media,
        big_button("记录拒签", record, icon=ft.Icons.SAVE),
    ]
    if vm.recorded:
        steps += [
            ft.Text("已记录拒签", size=18, color=ft.Colors.GREEN_800),
            ft.Row([big_button("见证人签名", lambda _e: ctx.go(f"/inspection/{assignment_id}/sign/witness"),
                               filled=not vm.witness_signed, icon=ft.Icons.DRAW),
                    ft.Text("见证人已签名" if vm.witness_signed else "见证人尚未签名", size=16)], wrap=True),
            ft.Text(f"拒签现场照片 {len(tiles)} 张", size=16),
            ft.Row([*tiles, *photo_buttons], wrap=True),
            photo_status.control,
            big_button("返回核对与签名", lambda _e: ctx.go(f"/inspection/{assignment_id}/review")),
        ]
    return page_view(route, "记录拒签", [*steps, message],
                  back_to=f"/inspection/{assignment_id}/review", ctx=ctx)


# ============================================================ the locked record

def qr_png(text: str) -> bytes:
    out = io.BytesIO()
    qrcode.make(text, box_size=6, border=2).save(out)
    return out.getvalue()


def record_view(ctx: UiContext, assignment_id: str) -> ft.View:
    route = f"/inspection/{assignment_id}"
    vm = RecordViewModel(tablet(ctx), assignment_id)
    record = vm.record
    printed, corrected = Status(), Status()
    reason = ft.TextField(label="更正原因", multiline=True, text_size=18)

    async def saved(pdf: bytes) -> None:
        picker = service(ctx, "file_picker", ft.FilePicker)
        await picker.save_file(file_name=vm.pdf_name(), src_bytes=pdf)
        printed.show(f"笔录已生成（{len(pdf) // 1024} KB）")

    async def correct(_e) -> None:
        why = reason.value or ""
        await run_busy(ctx, lambda: vm.start_correction(why), lambda problem: corrected.show(problem, error=True)
                       if problem else ctx.render(), status=corrected, message="正在生成更正版本…",
                       controls=[reason, correct_button])

    async def download(_e) -> None:
        await run_busy(ctx, vm.pdf, saved, status=printed, message="正在生成笔录…", controls=[download_button])

    download_button = big_button("下载现场检查笔录（PDF）", download, icon=ft.Icons.PICTURE_AS_PDF)
    correct_button = big_button("发起更正", correct, filled=False, icon=ft.Icons.EDIT_NOTE)

    hash_row = ft.Row([ft.Image(src=qr_png(vm.record_hash), width=160, height=160),
                       ft.Column([ft.Text("记录哈希（SHA-256）", size=15),
                                  ft.Text(onsite.short_hash(vm.record_hash), size=26, weight=ft.FontWeight.BOLD),
                                  ft.Text(vm.record_hash, size=13, selectable=True)], expand=True)])
    if record is None:
        return page_view(route, f"检查记录 · {vm.inspection_vm.assignment.institution_name}", [
            banner(vm.status_text, False), banner(vm.problem, True), hash_row], back_to="/", ctx=ctx)
    signed = "、".join(s["signer_name"] for s in record["signatures"])
    refusal = record["refusal"]
    printing = [download_button, printed.control] \
        if vm.printable else [banner("此记录没有到场登记（由命令行生成），不能生成笔录", True)]
    return page_view(route, f"检查记录 · {record['institution']['name']}", [
        banner(vm.status_text, False),
        ft.Text("检查已完成，记录已锁定" + (f"（第 {record['version']} 版）" if record["version"] > 1 else ""),
                size=22, weight=ft.FontWeight.BOLD, color=ft.Colors.GREEN_800),
        ft.Text(f"签名：{signed or '—'}" + (f"；在场人员拒签，见证人 {refusal['witness_name']}" if refusal else ""),
                size=16),
        ft.Text(f"得分 {record['score']['value'] or '—'} · 发现问题 {len(record['findings'])} 项 · "
                f"涉及金额 {shown_money(onsite.amount_total(record['findings']))}", size=16),
        hash_row, *printing,
        ft.Divider(),
        ft.Text("发现记录有误时，可发起更正：生成新版本并注明原因，原记录保持不变。", size=15),
        reason, correct_button, corrected.control,
    ], back_to="/", ctx=ctx)


ROUTES = [
    Route(r"^/$", home_view),
    Route(r"^/member/add$", member_view),
    Route(r"^/pin$", change_pin_view, parent="/"),
    Route(r"^/inspection/(?P<assignment_id>[^/]+)$", inspection_view),
    Route(r"^/inspection/(?P<assignment_id>[^/]+)/checkin$", checkin_view),
    Route(r"^/inspection/(?P<assignment_id>[^/]+)/review$", review_view),
    Route(r"^/inspection/(?P<assignment_id>[^/]+)/inquiry$", record_parts_view),
    Route(r"^/inspection/(?P<assignment_id>[^/]+)/suspicions$", suspicions_view),
    Route(r"^/inspection/(?P<assignment_id>[^/]+)/sign/(?P<role>inspector_1|inspector_2|representative|witness)$",
          sign_view),
    Route(r"^/inspection/(?P<assignment_id>[^/]+)/refusal$", refusal_view),
    Route(r"^/inspection/(?P<assignment_id>[^/]+)/camera/(?P<item_id>[^/]+)$", camera_view),
]
