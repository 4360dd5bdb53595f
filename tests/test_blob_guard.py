"""Blobs (issue 13, part of finding 7), against a real bureau on SQLite and PostgreSQL: a device learns nothing about
a blob its accepted records do not name, not even whether the bureau holds it; only JPEG and PNG whose bytes are what
the record declares are stored; a stored blob is served as what its bytes are, never sniffed into anything else."""

from __future__ import annotations

import hashlib
import io
from unittest import mock

import pytest
import requests
from PIL import Image
from sqlmodel import Session, select

from bureau.blobs import blob_path
from bureau.db import make_engine
from bureau.models import StoredBlob
from inspector_app import device, outbox, sync_protocol
from sync.bureau_http import BureauRefused
from sync.envelope import seal_blob_chunks
from sync.keys import sealing_public_from_b64
from tests.support import STAFF_PASSWORD, add_staff
from tests.sync_support import blob_bytes, bureau_holdings, enroll_tablet, fill_inspection

FAST = sync_protocol.RetryPolicy(base=0.01, cap=0.05)
PAGE = b"<!DOCTYPE html><html><body><script>fetch('/v1/review/queue')</script></body></html>" + b" " * 30_000


def sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def image(kind: str, colour: tuple[int, int, int]) -> bytes:
    out = io.BytesIO()
    Image.new("RGB", (64, 48), colour).save(out, kind)
    return out.getvalue()


def refused(call, *args) -> tuple[int, str]:
    with pytest.raises(BureauRefused) as caught:
        call(*args)
    assert caught.value.message  # a Chinese sentence for the inspector
    return caught.value.status, caught.value.reason


def sync(tablet) -> sync_protocol.SyncReport:
    return sync_protocol.run(tablet.engine, device.client_for(tablet.identities[0]), timeout=30, policy=FAST)


def declaring(media_type: str):
    """While active, the tablet lists its photos in the record's manifest as `media_type`."""
    real = outbox.BlobSource.from_file
    return mock.patch.object(outbox.BlobSource, "from_file",
                             staticmethod(lambda path, _declared, **options: real(path, media_type, **options)))


def test_a_device_cannot_probe_for_blobs_the_bureau_holds(running_bureau, tmp_path):
    owner = enroll_tablet(running_bureau, tmp_path / "owner")
    photo = blob_bytes(1, 40_000)
    fill_inspection(owner, [photo])
    assert sync(owner).blobs_sent == 1
    assert sha256(photo) in bureau_holdings(running_bureau.settings).blobs

    prober = enroll_tablet(running_bureau, tmp_path / "prober", ("I0001",))  # no record of its own
    identity = prober.identities[0]
    client = device.client_for(identity)
    with Session(prober.engine) as session:
        sealing = sealing_public_from_b64(session.get(outbox.BureauPin, 1).sealing_public)
    answers = []
    for data in (photo, blob_bytes(2, 40_000)):  # one the bureau holds, one nobody ever sent
        header, chunks = seal_blob_chunks(data, sealing, sha256(data), identity.device_id, 16384)
        answers.append([refused(client.put_blob_header, sha256(data), header),
                        refused(client.put_blob_chunk, sha256(data), 0, chunks[0]),
                        refused(client.put_blob_chunk, sha256(data), len(chunks) - 1, chunks[-1])])
    assert answers[0] == answers[1] == [(403, "blob_not_expected")] * 3


def test_only_jpeg_and_png_that_are_what_they_declare_are_stored(running_bureau, tmp_path):
    tablet = enroll_tablet(running_bureau, tmp_path / "tablet")
    jpeg, png, disguised = image("JPEG", (200, 30, 30)), image("PNG", (30, 200, 30)), PAGE.replace(b"body", b"div")
    with declaring("text/html"):
        fill_inspection(tablet, [PAGE], assignment_index=0)
    fill_inspection(tablet, [jpeg, disguised], assignment_index=1)  # both declared image/jpeg
    with declaring("image/png"):
        fill_inspection(tablet, [png], assignment_index=0, new=True)
    report = sync(tablet)
    assert report.records_sent == 3 and report.blobs_sent == 2 and report.blobs_set_aside == 2
    with Session(tablet.engine) as session:
        reasons = {blob.sha256: blob.reason for blob in session.exec(select(outbox.OutboxBlob))}
    assert reasons == {sha256(PAGE): "blob_type_not_allowed", sha256(disguised): "blob_content_mismatch",
                       sha256(jpeg): "", sha256(png): ""}
    assert set(bureau_holdings(running_bureau.settings).blobs) == {sha256(jpeg), sha256(png)}
    engine = make_engine(running_bureau.settings.database_url)
    with Session(engine) as session:
        assert {b.sha256: b.media_type for b in session.exec(select(StoredBlob))} == \
            {sha256(jpeg): "image/jpeg", sha256(png): "image/png"}
    engine.dispose()


def test_a_blob_is_served_as_what_its_bytes_are_and_never_sniffed(running_bureau, tmp_path):
    settings, url = running_bureau.settings, running_bureau.url
    tablet = enroll_tablet(running_bureau, tmp_path / "tablet")
    jpeg = image("JPEG", (20, 20, 200))
    fill_inspection(tablet, [jpeg])
    assert sync(tablet).blobs_sent == 1
    # a blob stored before the bureau looked at the bytes, as the tablet declared it
    page_path = blob_path(settings, sha256(PAGE))
    page_path.parent.mkdir(parents=True, exist_ok=True)
    page_path.write_bytes(PAGE)
    engine = make_engine(settings.database_url)
    with Session(engine) as session:
        session.add(StoredBlob(sha256=sha256(PAGE), size=len(PAGE), media_type="text/html"))
        session.commit()
    engine.dispose()
    add_staff(settings, "shenhe", "reviewer")
    token = requests.post(url + "/v1/staff/login", json={"username": "shenhe", "password": STAFF_PASSWORD},
                          timeout=30).json()["token"]

    def fetch(data: bytes) -> requests.Response:
        answer = requests.get(f"{url}/v1/review/blobs/{sha256(data)}", headers={"Authorization": f"Bearer {token}"},
                              timeout=30)
        assert answer.status_code == 200 and answer.content == data
        assert answer.headers["X-Content-Type-Options"] == "nosniff"
        return answer

    photo = fetch(jpeg)
    assert photo.headers["Content-Type"] == "image/jpeg"
    assert photo.headers["Content-Disposition"] == f'inline; filename="{sha256(jpeg)}.jpg"'
    page = fetch(PAGE)
    assert page.headers["Content-Type"] == "application/octet-stream"
    assert page.headers["Content-Disposition"] == f'attachment; filename="{sha256(PAGE)}.bin"'
