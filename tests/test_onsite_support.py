"""Helpers for the on-site tests, the crash test and the device-store bench: a tablet enrolled against a stand-in
bureau (real keys, no server), a pharmacy assignment, camera-like photos, signature strokes. No tests here."""

from __future__ import annotations

import base64
import io
import random
from dataclasses import dataclass
from pathlib import Path

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey
from PIL import Image, ImageDraw
from sqlalchemy.engine import Engine
from sqlmodel import Session

from inspector_app import device, keyring
from inspector_app.store import DeviceAssignment, open_store
from sync.keys import SealingPrivateKey, generate_signing_key, key_id, public_key_to_b64
from tests.support import FAST_SCRYPT_N

PIN = {"I0001": "147258", "I0002": "258369"}
TEAM = ["I0001", "I0002"]
MEMBERS = [{"inspector_code": "I0001", "name": "林建华", "badge_no": "闽榕医保执 0001"},
           {"inspector_code": "I0002", "name": "陈晓燕", "badge_no": "闽榕医保执 0002"}]  # as the registry names them
ASSIGNMENT_ID = "A-TEST-0001"
INSTITUTION = "福州市鼓楼区东街口大药房"


class StandInBureau:
    """Answers enrollment the way the bureau does, with keys of its own."""

    def __init__(self) -> None:
        self.signing = generate_signing_key()
        self.sealing = SealingPrivateKey.generate()

    def enroll(self, token: str, device_id: str, public_key_b64: str) -> dict:
        public = Ed25519PublicKey.from_public_bytes(base64.b64decode(public_key_b64))
        return {"key_id": key_id(public), "inspector_code": token, "bureau_signing_key":
                public_key_to_b64(self.signing.public_key()),
                "bureau_sealing_key": public_key_to_b64(self.sealing.public_key())}


@dataclass
class OnsiteTablet:
    home: Path
    engine: Engine
    bureau: StandInBureau
    first: keyring.Unlocked
    second: keyring.Unlocked


def make_tablet(home: Path, kind: str = "pharmacy", scrypt_n: int = FAST_SCRYPT_N) -> OnsiteTablet:
    """Two inspectors with PINs on one tablet, and one assignment of their team."""
    engine = open_store(home)
    bureau = StandInBureau()
    device.enroll(engine, "http://127.0.0.1:9", "I0001", client=bureau, pin=PIN["I0001"], scrypt_n=scrypt_n)
    first = keyring.unlock(engine, "I0001", PIN["I0001"])
    device.enroll(engine, "http://127.0.0.1:9", "I0002", client=bureau, pin=PIN["I0002"], data_key=first.data_key,
                  scrypt_n=scrypt_n)
    second = keyring.unlock(engine, "I0002", PIN["I0002"])
    add_assignment(engine, ASSIGNMENT_ID, kind)
    return OnsiteTablet(home, engine, bureau, first, second)


def add_assignment(engine: Engine, assignment_id: str, kind: str = "pharmacy", seq: int = 1,
                   members: bool = True) -> None:
    """`members`: the assignment names its team as the registry has them (False: issued before assignments did)."""
    with Session(engine) as session:
        session.merge(DeviceAssignment(
            id=assignment_id, inspector_code="I0001", institution_code="P35010200001", institution_name=INSTITUTION,
            institution_kind=kind, institution_address="福州市鼓楼区东街 88 号", team=TEAM, reason="random",
            status="已下达", seq=seq, signed={"members": MEMBERS} if members else {}))
        session.commit()


def camera_jpeg(seed: int, size: tuple[int, int] = (1600, 1200)) -> bytes:
    rng = random.Random(seed)
    image = Image.new("RGB", size, tuple(rng.randint(40, 220) for _ in range(3)))
    draw = ImageDraw.Draw(image)
    for _ in range(25):
        x, y = rng.randrange(size[0]), rng.randrange(size[1])
        draw.rectangle([x, y, x + rng.randint(20, 400), y + rng.randint(20, 300)],
                       fill=tuple(rng.randint(0, 255) for _ in range(3)))
    exif = Image.Exif()
    exif.get_ifd(0x8769)[0x9003] = "2026:11:23 10:15:00"
    out = io.BytesIO()
    image.save(out, "JPEG", quality=90, exif=exif)
    return out.getvalue()


def scribble(seed: int, width: int = 600, height: int = 200, strokes: int = 3) -> list[list[tuple[int, int, int]]]:
    """Strokes of a plausible signature: points (x, y, ms since the stroke began)."""
    rng = random.Random(seed)
    out = []
    for s in range(strokes):
        x0 = 40 + s * 160
        out.append([(min(width, x0 + k * 6), rng.randint(40, height - 40), k * 16) for k in range(15)])
    return out


def signing_key_raw(unlocked: keyring.Unlocked) -> bytes:
    return unlocked.signing_key.private_bytes(serialization.Encoding.Raw, serialization.PrivateFormat.Raw,
                                              serialization.NoEncryption())
