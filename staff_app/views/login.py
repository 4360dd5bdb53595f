"""Bureau staff sign in here; every staff screen starts from the signed-in client or shows this sign-in."""

from __future__ import annotations

import flet as ft

from staff_app.staff_client import StaffClient
from staff_app.supervisor_vm import LoginViewModel
from ui_kit.common import Route, Status, UiContext, big_button, forget_screens, page_view, run_busy, screen_vm


def staff_client(ctx: UiContext) -> StaffClient | None:
    """The signed-in bureau staff client of this browser session, or None (the caller shows the sign-in)."""
    return ctx.flash.get("staff")


def staff_home(role: str) -> str:
    """Where a staff member lands after signing in: reviewers at the review queue, the others at the workbench."""
    return "/review" if role == "reviewer" else "/supervisor"


def login_view(ctx: UiContext) -> ft.View:
    vm: LoginViewModel = screen_vm(ctx, "login_vm", lambda: LoginViewModel(ctx.server_url or ""))
    server = ft.TextField(label="局端地址", value=vm.server_url, text_size=18)
    username = ft.TextField(label="账号", text_size=18, autofocus=True)
    password = ft.TextField(label="密码", password=True, can_reveal_password=True, text_size=18)
    status = Status()
    status.show(vm.message, error=True)

    def signed_in(client: StaffClient | None) -> None:
        if client is None:
            status.show(vm.message, error=True)
            return
        forget_screens(ctx)  # the previous person's screens, if this session was theirs, are not this one's
        ctx.flash["staff"] = client
        ctx.go(staff_home(client.account["role"]))

    async def on_login(_e) -> None:
        vm.server_url = (server.value or "").strip()
        entered = (username.value or "", password.value or "")
        await run_busy(ctx, lambda: vm.login(*entered), signed_in, status=status, message="正在登录…",
                       controls=[server, username, password, button])

    button = big_button("登录", on_login)
    return page_view("/staff/login", "局端人员登录", [server, username, password, button, status.control],
                     back_to="/", ctx=ctx)


ROUTES = [Route(r"^/staff/login$", login_view)]
