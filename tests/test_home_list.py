"""The tablet's task list with many inspections stored: every card counts the answers of its assignment's current
inspection (the newest version), the list hides what it must, and draws a page at a time."""

from __future__ import annotations

import uuid
from datetime import timedelta
from types import SimpleNamespace

from sqlmodel import Session

from inspector_app import onsite
from inspector_app.inspector_vm import HOME_PAGE, AppState, HomeViewModel
from inspector_app.store import Answer, DeviceAssignment, Inspection, utcnow
from tests.test_onsite import TEMPLATE
from tests.test_onsite_support import ASSIGNMENT_ID, PIN, add_assignment, make_tablet

ITEMS = [item.id for item in TEMPLATE.items]
MANY = 2 * HOME_PAGE + 7


def answer_rows(inspection_id: str, count: int) -> list[Answer]:
    return [Answer(inspection_id=inspection_id, item_id=item, result="pass") for item in ITEMS[:count]]


def fill(engine) -> dict[str, tuple[int, str]]:
    """MANY assignments of the team in assorted states; returns what each listed card must show: (answered,
    status)."""
    expected: dict[str, tuple[int, str]] = {ASSIGNMENT_ID: (0, "未开始")}
    for k in range(MANY):
        add_assignment(engine, f"A-MANY-{k:03d}", seq=k + 2)
    with Session(engine) as session:
        for k in range(MANY):
            assignment_id = f"A-MANY-{k:03d}"
            if k % 4 == 0:
                expected[assignment_id] = (0, "未开始")
                continue
            status = {0: "draft", 1: "finished", 2: "sent"}[k % 3]
            first = Inspection(id=str(uuid.uuid4()), assignment_id=assignment_id, inspector_code="I0001",
                               template_id=TEMPLATE.id, template_hash=TEMPLATE.hash, status=status,
                               created_at=utcnow() - timedelta(days=1))
            session.add(first)
            session.add_all(answer_rows(first.id, k % len(ITEMS)))
            expected[assignment_id] = (k % len(ITEMS), {"draft": "检查中", "finished": "待同步", "sent": "已同步"}[status])
            if k % 5 == 3:  # corrected: the new version holds fewer answers so far
                second = Inspection(id=str(uuid.uuid4()), assignment_id=assignment_id, inspector_code="I0001",
                                    template_id=TEMPLATE.id, template_hash=TEMPLATE.hash, record_id=first.id,
                                    version=2, previous_hash="h")
                session.add(second)
                session.add_all(answer_rows(second.id, 1))
                expected[assignment_id] = (1, "检查中（更正第 2 版）")
        for k, revoked in ((0, True), (1, True)):  # revoked: hidden when not begun, kept and marked when begun
            assignment = session.get(DeviceAssignment, f"A-MANY-{k:03d}")
            assignment.revoked = revoked
            session.add(assignment)
        del expected["A-MANY-000"]
        answered, status = expected["A-MANY-001"]
        expected["A-MANY-001"] = (answered, f"{status} · 局端已撤回此任务")
        other = session.get(DeviceAssignment, f"A-MANY-{MANY - 1:03d}")
        other.team = ["I0009", "I0010"]  # another team's: not listed
        session.add(other)
        del expected[other.id]
        session.commit()
    return expected


def test_every_card_counts_its_current_inspection_with_many_stored(tmp_path):
    tablet = make_tablet(tmp_path / "tablet")
    expected = fill(tablet.engine)
    tablet.engine.dispose()
    state = AppState.open(tablet.home)
    home = HomeViewModel(state)
    assert home.unlock("I0001", PIN["I0001"], lambda _text: None) == ""  # the bureau is away: the device alone

    assert [c.assignment_id for c in home.cards] == sorted(expected, key=lambda a: -1 if a == ASSIGNMENT_ID else
                                                           int(a.rsplit("-", 1)[1]))
    assert {c.assignment_id: (c.answered, c.status_label) for c in home.cards} == expected
    assert {c.total for c in home.cards} == {len(ITEMS)}
    # the same counts as reading each assignment's current inspection alone
    for card in home.cards:
        current = onsite.current_inspection(state.engine, card.assignment_id)
        assert card.answered == (len(onsite.facts(state.engine, state.data_key, current.id).answers) if current else 0)


def test_the_list_draws_a_page_at_a_time(tmp_path):
    tablet = make_tablet(tmp_path / "tablet")
    expected = fill(tablet.engine)
    tablet.engine.dispose()
    home = HomeViewModel(AppState.open(tablet.home))
    assert home.unlock("I0001", PIN["I0001"], lambda _text: None) == ""
    assert len(expected) > 2 * HOME_PAGE
    assert home.page == home.cards[:HOME_PAGE]
    assert home.more() == home.cards[HOME_PAGE:2 * HOME_PAGE] and home.page == home.cards[:2 * HOME_PAGE]
    assert home.more() == home.cards[2 * HOME_PAGE:] and home.page == home.cards
    assert home.more() == [] and home.page == home.cards
    home.load()  # the screen drawn again (back from an inspection) keeps what was shown
    assert home.page == home.cards
    home.state.lock()
    assert home.unlock("I0001", PIN["I0001"], lambda _text: None) == ""  # a new arrival starts at the first page
    assert home.page == home.cards[:HOME_PAGE]


def test_the_home_screen_draws_the_first_page_and_more_on_demand(tmp_path):
    import flet as ft

    from inspector_app.views.inspector import home_view
    from ui_kit.common import UiContext

    tablet = make_tablet(tmp_path / "tablet")
    fill(tablet.engine)
    tablet.engine.dispose()
    state = AppState.open(tablet.home)
    home = HomeViewModel(state)
    assert home.unlock("I0001", PIN["I0001"], lambda _text: None) == ""
    page = SimpleNamespace(update=lambda: None, route="/")
    ctx = UiContext(page=page, render=lambda: None, home=tablet.home, server_url=None,  # type: ignore[arg-type]
                    flash={"tablet": state, "home_vm": home})

    view = home_view(ctx)
    [listed] = [c for c in view.controls if isinstance(c, ft.Column) and c.controls
                and all(isinstance(card, ft.Card) for card in c.controls)]
    [more] = [c for c in view.controls if isinstance(c, ft.Row) and any(
        isinstance(b, ft.OutlinedButton) and b.content == "显示更多" for b in c.controls)]
    shown = lambda: [(card.content.subtitle.value.rsplit("\n", 1)[1], card.content.trailing.value)  # noqa: E731
                     for card in listed.controls]
    drawn = [(f"已答 {c.answered}/{c.total}", c.status_label) for c in home.cards]
    assert len(listed.controls) == HOME_PAGE and more.visible
    assert shown() == drawn[:HOME_PAGE]
    while more.visible:
        button = next(b for b in more.controls if isinstance(b, ft.OutlinedButton))
        button.on_click(None)
    assert len(listed.controls) == len(home.cards) and shown() == drawn
