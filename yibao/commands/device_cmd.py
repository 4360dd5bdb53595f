"""`yibao device …` — a headless tablet, for scripts, demos and load tests."""

from __future__ import annotations

import io
import random
import uuid
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import TYPE_CHECKING

import typer

from yibao.errors import fail, print_json

if TYPE_CHECKING:
    from inspector_app import outbox
    from inspector_app.store import DeviceAssignment, Inspection

app = typer.Typer(no_args_is_help=True)

HomeOption = typer.Option(..., "--home", help="设备数据目录")


@app.command("enroll")
def enroll(home: Path = HomeOption, server: str = typer.Option(..., "--server"),
           token: str = typer.Option(..., "--token")) -> None:
    """Make this device's keys, register them with the bureau and pin the bureau's keys."""
    from inspector_app import device
    from inspector_app.store import open_store
    from sync.bureau_http import BureauRefused, BureauUnreachable

    engine = open_store(home.resolve())
    try:
        identity = device.enroll(engine, server, token)
    except BureauUnreachable as exc:
        fail(str(exc))
    except BureauRefused as exc:
        fail(f"注册失败：{exc.message}")
    typer.echo(f"已注册：人员 {identity.inspector_code}，设备 {identity.device_id}", err=True)


def _enrolled(home: Path):
    from inspector_app.store import identities, open_store

    if not (home / "device.db").exists():
        fail(f"设备数据目录中没有设备数据：{home}（请先运行 yibao device enroll）")
    engine = open_store(home)
    known = identities(engine)
    if not known:
        fail(f"本设备尚未注册检查人员：{home}（请先运行 yibao device enroll）")
    return engine, known


def _camera_jpeg(rng: random.Random, taken_at: datetime) -> bytes:
    """A stand-in for a tablet camera photo: 0.3–1 MB of JPEG with some structure and sensor-like noise, and the
    capture time in EXIF."""
    from PIL import Image, ImageDraw

    width = rng.choice([1280, 1440, 1600, 1800])
    height = width * 3 // 4
    picture = Image.blend(Image.linear_gradient("L").resize((width, height)).convert("RGB"),
                          Image.new("RGB", (width, height), tuple(rng.randint(60, 200) for _ in range(3))), 0.6)
    draw = ImageDraw.Draw(picture)
    for _ in range(40):
        x, y = rng.randrange(width), rng.randrange(height)
        draw.rectangle([x, y, x + rng.randint(20, 300), y + rng.randint(20, 200)],
                       fill=tuple(rng.randint(0, 255) for _ in range(3)))
    picture = Image.blend(picture, Image.effect_noise((width, height), 40).convert("RGB"), 0.25)
    exif = Image.Exif()
    exif.get_ifd(0x8769)[0x9003] = taken_at.strftime("%Y:%m:%d %H:%M:%S")
    out = io.BytesIO()
    picture.save(out, "JPEG", quality=92, exif=exif)
    return out.getvalue()


def _photo(home: Path, rng: random.Random, taken_at: datetime, institution: str, item_text: str) -> outbox.BlobSource:
    """Camera bytes through the evidence pipeline: the stored image is the blob, the camera original is kept until
    the bureau's receipt is verified."""
    from inspector_app import outbox
    from inspector_app.photos import photo_caption, process_photo

    original = _camera_jpeg(rng, taken_at)
    processed = process_photo(original, caption=photo_caption(taken_at.strftime("%Y-%m-%d %H:%M"), institution,
                                                               item_text))
    stored = home / "photos" / f"{processed.sha256}.jpg"
    kept = home / "originals" / f"{processed.sha256}.jpg"
    for path, data in ((stored, processed.stored_jpeg), (kept, original)):
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(data)
    return outbox.BlobSource.from_file(stored, "image/jpeg", free_after_receipt=kept)


def _new_inspection(engine, assignment: DeviceAssignment, inspector_code: str) -> Inspection:
    """The assignment's inspection; once it has one, a further one (demo and load runs may ask for more records
    than there are assignments)."""
    from sqlmodel import Session

    import checklists
    from inspector_app import device
    from inspector_app.store import Inspection

    template = checklists.template_for_kind(assignment.institution_kind)
    if device.inspection_of(engine, assignment.id) is None:
        return device.open_inspection(engine, assignment.id, inspector_code, template.id, template.hash)
    with Session(engine) as session:
        inspection = Inspection(id=str(uuid.uuid4()), assignment_id=assignment.id, inspector_code=inspector_code,
                                template_id=template.id, template_hash=template.hash)
        session.add(inspection)
        session.commit()
        session.refresh(inspection)
        return inspection


def fill_demo_inspection(engine, home: Path, assignment: DeviceAssignment, inspector_code: str, photos: int,
                         rng: random.Random) -> None:
    """A complete headless inspection of `assignment`: two failed items, `photos` camera-like photos, locked and
    queued."""
    import checklists
    from inspector_app import device, onsite

    template = checklists.template_for_kind(assignment.institution_kind)
    inspection = _new_inspection(engine, assignment, inspector_code)
    failed = set(rng.sample([item.id for item in template.items], k=min(2, len(template.items))))
    for item in template.items:
        if item.id in failed:
            device.save_answer(engine, inspection.id, item.id, "fail", f"现场发现：{item.text[:20]}",
                               f"{rng.randint(100, 50000)}.{rng.randint(0, 99):02d}" if item.asks_amount else None)
        else:
            device.save_answer(engine, inspection.id, item.id, "pass")
    ordered = sorted(template.items, key=lambda item: item.id not in failed)
    now = datetime.now(timezone.utc)
    evidence = [device.Evidence(item.id, _photo(home, rng, now + timedelta(seconds=k), assignment.institution_name,
                                                item.text))
                for k, item in ((k, ordered[k % len(ordered)]) for k in range(photos))]
    onsite.finish(engine, onsite.facts(engine, None, inspection.id), evidence)


@app.command("demo-inspections")
def demo_inspections(home: Path = HomeOption, n: int = typer.Option(..., "--n", min=1),
                     photos: int = typer.Option(0, "--photos", min=0),
                     seed: int = typer.Option(None, "--seed", help="随机种子（可重现）")) -> None:
    """Fill N complete inspections for pulled assignments, with K photos each, signed by every inspector of the
    team enrolled on this device, locked and queued in the outbox."""
    from sqlmodel import Session, col, select

    from inspector_app import device
    from inspector_app.store import DeviceAssignment
    from sync.bureau_http import BureauRefused, BureauUnreachable

    home = home.resolve()
    engine, known = _enrolled(home)
    for identity in known:
        try:
            device.pull_assignments(engine, identity)
        except (BureauUnreachable, BureauRefused) as exc:
            typer.echo(f"无法更新任务，使用本机已有任务：{exc}", err=True)
    enrolled = {i.inspector_code for i in known}
    with Session(engine) as session:
        open_tasks = [a for a in session.exec(select(DeviceAssignment).where(DeviceAssignment.revoked == False)  # noqa: E712
                                              .order_by(col(DeviceAssignment.seq))) if enrolled & set(a.team)]
    if not open_tasks:
        fail("本设备没有可用的检查任务（检查组成员未在本机注册，或局端尚未下达任务）")
    fresh = [a for a in open_tasks if device.inspection_of(engine, a.id) is None]
    order = fresh + [a for a in open_tasks if a not in fresh]
    if n > len(fresh):
        typer.echo(f"未检查的任务只有 {len(fresh)} 项：部分任务将生成多份检查记录", err=True)
    rng = random.Random(seed)
    for k in range(n):
        assignment = order[k % len(order)]
        inspector = sorted(enrolled & set(assignment.team))[0]
        try:
            fill_demo_inspection(engine, home, assignment, inspector, photos, rng)
        except device.DeviceError as exc:
            fail(f"无法完成检查：{exc}")
    typer.echo(f"已生成 {n} 份已签名的检查记录（每份 {photos} 张照片），待同步", err=True)


@app.command("sync")
def sync(home: Path = HomeOption, timeout: float = typer.Option(60, "--timeout", min=1, help="最长秒数")) -> None:
    """Sync with the bureau; exit 0 only when the outbox is empty and every receipt verified."""
    from inspector_app import device, outbox

    engine, _ = _enrolled(home.resolve())
    report = device.sync(engine, timeout=timeout)
    state = outbox.status(engine)
    print_json({**state.to_json(), "this_run": {
        "records_sent": report.records_sent, "duplicates": report.duplicates, "blobs_sent": report.blobs_sent,
        "released": report.released, "retries": report.retries, "keys_rotated": report.keys_rotated,
        "set_aside": report.set_aside, "unverified": report.unverified, "error": report.error}})
    typer.echo(f"本次发送 {report.records_sent} 份记录、{report.blobs_sent} 个附件；发件箱剩余 {state.outbox} 份记录、"
               f"{state.blobs_total - state.blobs_sent - state.blobs_set_aside} 个附件", err=True)
    for item in state.set_aside_records:
        typer.echo(f"已搁置：{item['record_id']}（{item['reason']}）{item['message']}", err=True)
    if report.error:
        fail(report.error)
    if not state.empty or state.set_aside or state.blobs_set_aside:
        fail("同步未完成：发件箱不为空、有记录被搁置或有回执未能验证")


@app.command("status")
def status(home: Path = HomeOption, as_json: bool = typer.Option(False, "--json")) -> None:
    """Outbox, receipts, assignments."""
    from sqlmodel import Session, func, select

    from inspector_app import outbox
    from inspector_app.store import DeviceAssignment, Inspection

    engine, known = _enrolled(home.resolve())
    state = outbox.status(engine)
    with Session(engine) as session:
        assignments = session.exec(select(func.count()).select_from(DeviceAssignment)
                                   .where(DeviceAssignment.revoked == False)).one()  # noqa: E712
        inspections = dict(session.exec(select(Inspection.status, func.count()).group_by(Inspection.status)).all())
    data = {**state.to_json(), "assignments": assignments, "inspections": inspections,
            "device_id": known[0].device_id, "inspectors": [i.inspector_code for i in known]}
    if as_json:
        print_json(data)
        return
    typer.echo(f"设备 {data['device_id']}（{'、'.join(data['inspectors'])}）：任务 {assignments} 项；"
               f"待发送记录 {state.outbox} 份，已送达 {state.sent} 份（回执已验证 {state.receipts_verified} 份），"
               f"被搁置 {state.set_aside} 份；附件 {state.blobs_sent}/{state.blobs_total}")

