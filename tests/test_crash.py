"""Kill -9 in the middle of an inspection, many times, and look at what the tablet kept.

A driver process (this module run as a script) works through an inspection with the same view-models the screens
use — check-in, every item with notes and amounts, photos through the evidence pipeline, signature strokes — and
prints a line after each action returned (i.e. what the screen would show as saved). The test kills it with SIGKILL
at a random moment, then checks the store: SQLite's integrity check passes, every answer, photo and stroke the
driver reported is there and decrypts, every photo row has all its complete encrypted files, and interrupted
writes leave only ``*.tmp`` files that are never counted and are swept on the next start.
"""

from __future__ import annotations

import os
import random
import shutil
import signal
import sqlite3
import subprocess
import sys
import threading
import time
from collections import Counter
from datetime import datetime
from pathlib import Path

import pytest
from sqlmodel import Session, select

from inspector_app import onsite
from inspector_app.evidence_store import TMP_SUFFIX, EvidenceStore
from inspector_app.store import Photo
from inspector_app.vault import PHOTO_VARIANTS
from tests.test_onsite_support import (
    ASSIGNMENT_ID,
    PIN,
    camera_jpeg,
    make_tablet,
    scribble,
)

RUNS = int(os.environ.get("YIBAO_CRASH_RUNS", "24"))
PHOTOS = 6  # failed items, each with a photo: most of a run's time is spent in the photo pipeline
REPO = Path(__file__).resolve().parent.parent


# ------------------------------------------------------------ the driver (a separate process)

def drive(home: Path, seed: int) -> None:
    from inspector_app.inspector_vm import (
        AppState,
        CheckInViewModel,
        InspectionViewModel,
        SignatureViewModel,
    )

    rng = random.Random(seed)
    def say(*parts) -> None:  # one write per line: a kill never leaves half of one
        sys.stdout.write(" ".join(map(str, parts)) + "\n")
        sys.stdout.flush()

    state = AppState.open(home)
    assert state.unlock("I0001", PIN["I0001"]) == ""
    started = time.monotonic()
    say("READY")
    checkin = CheckInViewModel(state, ASSIGNMENT_ID)
    for officer, name in zip(checkin.officers, ("林建华", "陈晓燕")):
        officer.name, officer.badge_no, officer.id_shown = name, f"闽榕医保执 {officer.inspector_code}", True
    checkin.representative = {"name": "张丽", "role": "店长", "phone": "0591-87654321",
                            "id_number": "11010519491231002X"}
    checkin.no_position("室内无信号")
    checkin.legal = {"title": "法定代表人", "name": "郑国强", "id_number": "330106198503150016"}
    checkin.notices["basis"]["given"] = checkin.notices["cooperation"]["given"] = True
    checkin.notices["recusal"]["answer"] = "不申请回避"
    assert checkin.save() == []
    say("SAVED checkin")
    vm = InspectionViewModel(state, ASSIGNMENT_ID)
    failing = set(rng.sample([item.id for item in vm.template.items], PHOTOS))  # the same work in every run
    for number, item in enumerate(vm.template.items):
        result = "fail" if item.id in failing else rng.choice(["pass", "pass", "na"])
        note = {"pass": "", "fail": f"第{number}项问题{seed}", "na": f"第{number}项不适用"}[result]
        amount = f"{rng.randint(0, 9999)}.{rng.randint(0, 99):02d}" if result == "fail" else None
        say("BEGIN answer", item.id)
        assert vm.answer(item.id, result, note, amount) == ""
        say("SAVED answer", item.id, result, note, amount or "-")
        if result == "fail":
            say("BEGIN photo", item.id)
            assert vm.add_photo(item.id, camera_jpeg(seed * 1000 + number), "camera") == ""
            say("SAVED photo", item.id, vm.facts.photos_of(item.id)[-1].sha256)
    pad = SignatureViewModel(state, ASSIGNMENT_ID, "inspector_1")
    for stroke in scribble(seed, strokes=8):
        say("BEGIN stroke")
        assert pad.add_stroke(datetime.now().astimezone(), stroke) == ""
        say("SAVED stroke", len(pad.strokes))
    say("DONE", f"{time.monotonic() - started:.3f}")


# ------------------------------------------------------------ the test

def prepared_tablet(tmp_path: Path) -> Path:
    tablet = make_tablet(tmp_path / "prepared")
    tablet.engine.dispose()
    return tablet.home


def run_and_kill(home: Path, seed: int, delay: float) -> list[str]:
    """Start the driver, kill -9 it `delay` seconds after it is ready; its output lines."""
    process = subprocess.Popen([sys.executable, "-m", "tests.test_crash", str(home), str(seed)], cwd=REPO,
                               stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    lines: list[str] = []
    ready = threading.Event()

    def read() -> None:
        for line in process.stdout:
            if not line.endswith("\n"):  # cut by the kill: not a report (the checks allow one unreported step)
                break
            lines.append(line.rstrip("\n"))
            if line.startswith("READY"):
                ready.set()

    reader = threading.Thread(target=read, daemon=True)
    reader.start()
    assert ready.wait(60), process.stderr.read()
    time.sleep(delay)
    process.send_signal(signal.SIGKILL)
    process.wait(30)
    reader.join(10)
    return list(lines)


def check_store(home: Path, lines: list[str]) -> str:
    """Everything reported saved is there; returns what the driver was doing when it was killed."""
    with sqlite3.connect(home / "device.db") as db:
        assert db.execute("PRAGMA integrity_check").fetchone() == ("ok",)
    store = EvidenceStore(home)
    leftovers = list(store.root.rglob(f"*{TMP_SUFFIX}")) if store.root.exists() else []

    from inspector_app.inspector_vm import AppState

    state = AppState.open(home)  # sweeps interrupted writes
    assert state.unlock("I0001", PIN["I0001"]) == ""
    assert not store.root.exists() or not list(store.root.rglob(f"*{TMP_SUFFIX}"))
    inspection = onsite.current_inspection(state.engine, ASSIGNMENT_ID)
    saved = [line.split(" ") for line in lines if line.startswith("SAVED")]
    if inspection is None:  # killed before the inspection was opened
        assert saved == []
        state.engine.dispose()
        return "opening"
    facts = onsite.facts(state.engine, state.data_key, inspection.id)  # every sealed row still decrypts
    if any(parts[1] == "checkin" for parts in saved):
        assert facts.checkin["representative"]["name"] == "张丽"
    reported_answers = {parts[2]: parts[3:] for parts in saved if parts[1] == "answer"}
    for item_id, (result, note, amount) in reported_answers.items():
        stored = facts.answers[item_id]
        assert (stored.result, stored.note, stored.amount_yuan or "-") == (result, note, amount), item_id
    assert len(set(facts.answers) - set(reported_answers)) <= 1  # at most the one being saved at the kill
    with Session(state.engine) as session:
        rows = session.exec(select(Photo)).all()
    assert {parts[3] for parts in saved if parts[1] == "photo"} <= {row.sha256 for row in rows}
    for row in rows:  # no photo row without every one of its complete files
        for variant in PHOTO_VARIANTS:
            assert state.evidence.get(state.data_key, row.sha256, variant)
        assert state.evidence.stored_image(state.data_key, row.sha256)
    strokes = onsite.strokes_of(state.engine, state.data_key, inspection.id, "inspector_1")
    reported_strokes = [int(parts[2]) for parts in saved if parts[1] == "stroke"]
    assert len(strokes) >= max(reported_strokes, default=0)
    state.engine.dispose()
    begun = [line for line in lines if line.startswith(("BEGIN", "SAVED", "DONE"))]
    last = begun[-1] if begun else "READY"
    in_flight = "done" if last.startswith("DONE") else last.split(" ")[1] if last.startswith("BEGIN") else "between"
    return in_flight + (" (tmp left)" if leftovers else "")


def full_run_seconds(prepared: Path, tmp_path: Path) -> float:
    """How long the driver works when nobody kills it (from READY to DONE): the window the kills are spread over."""
    home = tmp_path / "uninterrupted"
    shutil.copytree(prepared, home)
    result = subprocess.run([sys.executable, "-m", "tests.test_crash", str(home), "999"], cwd=REPO,
                            capture_output=True, text=True, timeout=300)
    last = result.stdout.rstrip().splitlines()[-1]
    assert last.startswith("DONE"), result.stderr
    return float(last.split(" ")[1])


@pytest.mark.slow
def test_kill_minus_nine_at_random_points_loses_nothing_saved(tmp_path):
    prepared = prepared_tablet(tmp_path)
    window = full_run_seconds(prepared, tmp_path)
    rng = random.Random(20261123)
    seen: Counter[str] = Counter()
    for seed in range(RUNS):
        home = tmp_path / f"run-{seed}"
        shutil.copytree(prepared, home)
        lines = run_and_kill(home, seed, rng.uniform(0.0, window))
        seen[check_store(home, lines)] += 1
    print(f"\n{RUNS} kills over a {window:.2f} s run, by what was in flight: {dict(seen)}")
    assert sum(seen.values()) == RUNS


if __name__ == "__main__":
    drive(Path(sys.argv[1]), int(sys.argv[2]))
