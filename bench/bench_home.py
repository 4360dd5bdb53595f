"""The tablet's home (the task list) with many inspections stored vs. the same with one, measured in the same run.

A tablet with two inspectors (PIN set) holds N assignments of their team, each with an inspection: every checklist
item answered (sealed), two photo rows. Timed, as the app does it with the bureau away: open the store
(`AppState.open`), unlock with the PIN and pull (refused at once: nothing listens), and the home screen's own
`HomeViewModel.load()` before it draws the first page of cards. The same run with one assignment is the floor;
prints the best of each (wall clock, and CPU seconds: steadier when other work shares the machine), the time in
`HomeViewModel.load()` alone and the ratios. Goal: unlock → list under 300 ms. The PIN's key derivation is the same
in both and dominates the floor.

Run: .venv/bin/python bench/bench_home.py [--inspections N] [--repeat R]. Asserts nothing.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
import uuid
from datetime import datetime, timezone
from pathlib import Path

from sqlmodel import Session

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import checklists  # noqa: E402
from inspector_app import vault  # noqa: E402
from inspector_app.inspector_vm import AppState, HomeViewModel  # noqa: E402
from inspector_app.store import DeviceAssignment  # noqa: E402
from sync.canonical import canonical_bytes  # noqa: E402
from tests.test_onsite_support import ASSIGNMENT_ID, PIN, make_tablet  # noqa: E402

PHOTOS_PER_INSPECTION = 2


def fill(tablet, count: int) -> None:
    """`count` assignments of the team (the one make_tablet adds included), each with a fully answered inspection,
    written in bulk (how they got there does not matter)."""
    with Session(tablet.engine) as session:
        template = session.get(DeviceAssignment, ASSIGNMENT_ID)
        for n in range(1, count):
            session.add(DeviceAssignment(**{**template.model_dump(), "id": f"A-BENCH-{n:05d}", "seq": n + 1}))
        session.commit()
    items = [item.id for item in checklists.template_for_kind("pharmacy").items]
    key = tablet.first.data_key
    now = datetime.now(timezone.utc).isoformat(sep=" ")
    raw = tablet.engine.raw_connection()
    try:
        cursor = raw.cursor()
        for (assignment_id,) in list(cursor.execute("SELECT id FROM deviceassignment")):
            inspection_id = str(uuid.uuid4())
            cursor.execute("INSERT INTO inspection (id, assignment_id, inspector_code, template_id, template_hash,"
                           " status, created_at, updated_at, version, correction_reason, key_signers) VALUES"
                           " (?, ?, 'I0001', 'bench', 'h', 'draft', ?, ?, 1, '', '')",
                           (inspection_id, assignment_id, now, now))
            cursor.executemany(
                "INSERT INTO answer (inspection_id, item_id, result, note, sealed, updated_at) VALUES"
                " (?, ?, 'pass', '', ?, ?)",
                [(inspection_id, item, vault.encrypt_content(key, canonical_bytes({"note": "", "amount_yuan": None}),
                                                             vault.answer_slot(inspection_id, item)), now)
                 for item in items])
            cursor.executemany(
                "INSERT INTO photo (id, inspection_id, item_id, sha256, size, thumbnail_size, sealed, added_at)"
                " VALUES (?, ?, ?, ?, 300000, 20000, ?, ?)",
                [(str(uuid.uuid4()), inspection_id, items[k], uuid.uuid4().hex * 2, b"\0" * 200, now)
                 for k in range(PHOTOS_PER_INSPECTION)])
        raw.commit()
    finally:
        raw.close()


def unlock_to_home(home: Path) -> tuple[float, float, float, int]:
    """Seconds from opening the store to the home's cards ready (wall, CPU), seconds in the home's own load, cards."""
    begin, begin_cpu = time.perf_counter(), time.process_time()
    state = AppState.open(home)
    vm = HomeViewModel(state)
    assert vm.unlock("I0001", PIN["I0001"], lambda _text: None) == ""
    loading = time.perf_counter()
    vm.load()  # as home_view does before it draws
    end, end_cpu = time.perf_counter(), time.process_time()
    state.engine.dispose()
    return end - begin, end_cpu - begin_cpu, end - loading, len(vm.cards)


def measure(count: int, repeat: int) -> tuple[float, float, float, int]:
    with tempfile.TemporaryDirectory() as tmp:
        tablet = make_tablet(Path(tmp) / "tablet", scrypt_n=vault.SCRYPT_N)  # a tablet's PIN cost, not the tests'
        fill(tablet, count)
        tablet.engine.dispose()
        runs = [unlock_to_home(tablet.home) for _ in range(repeat)]
    return min(r[0] for r in runs), min(r[1] for r in runs), min(r[2] for r in runs), runs[0][3]


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--inspections", type=int, default=1000)
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    one_total, one_cpu, one_load, one_cards = measure(1, args.repeat)
    many_total, many_cpu, many_load, many_cards = measure(args.inspections, args.repeat)
    print(f"floor: unlock → home with {one_cards} inspection: {one_total * 1000:.0f} ms wall {one_cpu * 1000:.0f} ms cpu "
          f"(HomeViewModel.load {one_load * 1000:.1f} ms)")
    print(f"unlock → home with {many_cards} inspections: {many_total * 1000:.0f} ms wall {many_cpu * 1000:.0f} ms cpu "
          f"(HomeViewModel.load {many_load * 1000:.1f} ms)")
    print(f"ratio to the floor: {many_total / one_total:.2f} wall {many_cpu / one_cpu:.2f} cpu (load alone: "
          f"{many_load / one_load:.1f}); the excess over the floor: {(many_total - one_total) * 1000:.0f} ms wall "
          f"{(many_cpu - one_cpu) * 1000:.0f} ms cpu; goal: under 300 ms")


if __name__ == "__main__":
    main()
