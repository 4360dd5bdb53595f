"""A sync run tells how far it is and stops safely when asked, against a real bureau on loopback: progress in
records, photos and bytes; 取消 between records, between chunks and while waiting to retry, with nothing lost and
the photo resuming where it stopped; one run at a time; and the app's view-model saying so in Chinese."""

from __future__ import annotations

import threading
import time

import pytest

from inspector_app import device, outbox, sync_protocol
from inspector_app.bureau_client import BureauClient
from inspector_app.inspector_vm import OFFLINE_MESSAGE, AppState, HomeViewModel, sync_progress_text
from inspector_app.sync_protocol import SyncProgress
from sync.bureau_http import DEFAULT_TIMEOUT, BureauUnreachable
from tests.support import free_port, stop
from tests.sync_support import blob_bytes, bureau_holdings, enroll_tablet, fill_inspection
from tests.test_onsite_support import PIN
from tests.test_review_support import pin_tablet
from tests.test_sync_protocol import CHUNK, FAST, Counting


def test_progress_counts_records_photos_and_bytes(running_bureau, tmp_path):
    tablet = enroll_tablet(running_bureau, tmp_path / "tablet", ("I0001",))
    photos = [blob_bytes(1, 3 * CHUNK + 100), blob_bytes(2, 2 * CHUNK + 7)]
    fill_inspection(tablet, [photos[0]])
    fill_inspection(tablet, [photos[1]], assignment_index=1)
    seen: list[SyncProgress] = []
    report = sync_protocol.run(tablet.engine, device.client_for(tablet.identities[0]), timeout=30, policy=FAST,
                               chunk_size=CHUNK, progress=seen.append)
    assert report.error is None and report.records_sent == 2 and report.blobs_sent == 2
    total = sum(len(p) for p in photos)
    assert seen[0] == SyncProgress(records_total=2, blobs_total=2, bytes_total=total)  # known from the start
    assert seen[-1] == SyncProgress(2, 2, 2, 2, total, total)
    assert [p.records_done for p in seen] == sorted(p.records_done for p in seen)
    assert [p.bytes_done for p in seen] == sorted(p.bytes_done for p in seen)  # never goes back
    assert len({p.bytes_done for p in seen}) >= 3 + 2  # chunk by chunk, not only photo by photo
    assert sync_progress_text(seen[-1]) == "正在同步：检查记录 2/2 · 照片 2/2（81 KB / 81 KB）"


def test_cancel_between_chunks_keeps_everything_and_the_photo_resumes(running_bureau, tmp_path):
    tablet = enroll_tablet(running_bureau, tmp_path / "tablet", ("I0001",))
    photo = blob_bytes(3, 10 * CHUNK + 5)
    fill_inspection(tablet, [photo])
    client = device.client_for(tablet.identities[0])
    cancel = threading.Event()

    def watch(progress: SyncProgress) -> None:
        if progress.bytes_done >= 4 * CHUNK:  # four chunks are in: 取消
            cancel.set()

    first = Counting(client)
    report = sync_protocol.run(tablet.engine, first, timeout=30, policy=FAST, chunk_size=CHUNK, progress=watch,
                               cancel=cancel)
    assert report.reason == "cancelled" and report.error.startswith("已取消同步")
    assert report.records_sent == 1 and report.blobs_sent == 0 and first.chunks_sent == 4
    status = outbox.status(tablet.engine)
    assert status.sent == 1 and status.blobs_sent == 0 and not status.empty  # the photo is still waiting
    assert list((tablet.home / "originals").glob("*"))  # and its original is kept until the bureau has it all

    resumed = Counting(client)
    report = sync_protocol.run(tablet.engine, resumed, timeout=30, policy=FAST, chunk_size=CHUNK)
    assert report.error is None and report.blobs_sent == 1 and resumed.chunks_sent == 11 - 4  # no chunk twice
    assert outbox.status(tablet.engine).empty
    assert list(bureau_holdings(running_bureau.settings).blobs.values()) == [len(photo)]


def test_cancel_between_records_leaves_the_rest_queued(running_bureau, tmp_path):
    tablet = enroll_tablet(running_bureau, tmp_path / "tablet", ("I0001",))
    fill_inspection(tablet)
    fill_inspection(tablet, assignment_index=1)
    cancel = threading.Event()
    report = sync_protocol.run(tablet.engine, device.client_for(tablet.identities[0]), timeout=30, policy=FAST,
                               progress=lambda p: cancel.set() if p.records_done == 1 else None, cancel=cancel)
    assert report.reason == "cancelled" and report.records_sent == 1
    assert outbox.status(tablet.engine).outbox == 1  # the second record waits for the next 同步
    assert len(bureau_holdings(running_bureau.settings).records) == 1
    report = sync_protocol.run(tablet.engine, device.client_for(tablet.identities[0]), timeout=30, policy=FAST)
    assert report.error is None and report.records_sent == 1 and outbox.status(tablet.engine).empty


def test_cancel_stops_the_wait_between_retries_at_once(running_bureau, tmp_path):
    """The bureau is down: the run waits to retry (up to a minute here) and 取消 ends the wait, not the deadline."""
    tablet = enroll_tablet(running_bureau, tmp_path / "tablet", ("I0001",))
    fill_inspection(tablet)
    stop(running_bureau.process)
    cancel = threading.Event()
    retrying: list[str] = []

    def watch(progress: SyncProgress) -> None:
        if progress.retrying and not retrying:
            retrying.append(progress.retrying)
            threading.Timer(0.2, cancel.set).start()

    started = time.monotonic()
    report = sync_protocol.run(tablet.engine, device.client_for(tablet.identities[0]), timeout=120,
                               policy=sync_protocol.RetryPolicy(base=60, cap=60), progress=watch, cancel=cancel)
    assert report.reason == "cancelled" and report.records_sent == 0
    assert time.monotonic() - started < 60  # the cancel ended the backoff; the deadline was two minutes away
    assert "无法连接局端服务" in retrying[0]
    assert "连接局端失败，正在重试" in sync_progress_text(SyncProgress(records_total=1, retrying=retrying[0]))
    assert outbox.status(tablet.engine).outbox == 1


def test_one_run_at_a_time_per_device(running_bureau, tmp_path):
    tablet = enroll_tablet(running_bureau, tmp_path / "tablet", ("I0001",))
    fill_inspection(tablet)
    client = device.client_for(tablet.identities[0])
    inside, go_on = threading.Event(), threading.Event()

    def hold(_progress: SyncProgress) -> None:
        inside.set()
        go_on.wait(30)

    reports: list[sync_protocol.SyncReport] = []
    first = threading.Thread(target=lambda: reports.append(sync_protocol.run(tablet.engine, client, progress=hold)))
    first.start()
    try:
        assert inside.wait(30)
        second = sync_protocol.run(tablet.engine, client)
        assert second.reason == "already_running" and second.error == "本机正在同步，请等待其完成"
    finally:
        go_on.set()
        first.join(60)
    assert reports[0].error is None and reports[0].records_sent == 1


def test_the_home_screen_says_offline_at_once_and_its_sync_can_be_cancelled(running_bureau, tmp_path):
    tablet = pin_tablet(running_bureau, tmp_path / "tablet")
    stop(running_bureau.process)
    state = AppState.open(tablet.home)
    home = HomeViewModel(state)
    steps: list[str] = []
    started = time.monotonic()
    assert home.unlock("I0001", PIN["I0001"], steps.append) == ""
    assert steps == ["正在连接局端，更新检查任务…"] and home.offline and home.message == OFFLINE_MESSAGE
    assert time.monotonic() - started < DEFAULT_TIMEOUT[0] + 10  # refused at once; never the read timeout

    home.stopping.set()  # 取消 pressed: the run stops at its first wait to retry, long before its deadline
    message = home.sync(lambda _p: None)
    assert message.startswith("已取消同步") and home.notice == message and home.notice_failed
    assert home.unlock("I0001", "000000", steps.append).startswith("PIN 不正确") and len(steps) == 1


def test_a_bureau_that_is_not_there_fails_within_the_connect_timeout():
    client = BureauClient(f"http://127.0.0.1:{free_port()}")
    started = time.monotonic()
    with pytest.raises(BureauUnreachable, match="无法连接局端服务"):
        client.health()
    assert time.monotonic() - started < DEFAULT_TIMEOUT[0] + 5
