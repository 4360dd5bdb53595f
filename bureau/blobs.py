"""Where the bureau keeps blobs (photos of received records): one file per content hash under `<data>/blobs/`,
and an upload in progress as a part file under `<data>/uploads/`, one per blob and sending device.

What a blob may be is data here too: the media types the bureau takes (`ALLOWED_BLOBS`), each known by the first
bytes of its content, so a blob is stored and served only as what its bytes are, never as what a tablet declared."""

from __future__ import annotations

import hashlib
from pathlib import Path
from typing import NamedTuple

from bureau.settings import BureauSettings


class BlobKind(NamedTuple):
    magic: bytes  # what the content starts with
    extension: str


ALLOWED_BLOBS = {"image/jpeg": BlobKind(b"\xff\xd8\xff", "jpg"), "image/png": BlobKind(b"\x89PNG\r\n\x1a\n", "png")}
SNIFF_BYTES = max(len(kind.magic) for kind in ALLOWED_BLOBS.values())


def blob_path(settings: BureauSettings, sha256: str) -> Path:
    return settings.data_dir / "blobs" / sha256[:2] / sha256


def part_path(settings: BureauSettings, sha256: str, device_id: str) -> Path:
    return settings.data_dir / "uploads" / f"{sha256}-{device_id}.part"


def read_blob(settings: BureauSettings, sha256: str) -> bytes:
    return blob_path(settings, sha256).read_bytes()


def file_sha256(path: Path) -> str:
    """The SHA-256 of a file, read in 1 MiB blocks (a blob may be larger than is wise to hold in memory)."""
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        while block := handle.read(1 << 20):
            digest.update(block)
    return digest.hexdigest()


def file_head(path: Path) -> bytes:
    with open(path, "rb") as handle:
        return handle.read(SNIFF_BYTES)


def sniff_media_type(head: bytes) -> str | None:
    """The allowed media type the content starting with `head` is, by its magic bytes; None for anything else."""
    return next((media for media, kind in ALLOWED_BLOBS.items() if head.startswith(kind.magic)), None)


def served_as(sha256: str, data: bytes) -> tuple[str, str]:
    """(Content-Type, Content-Disposition) for a stored blob: an allowed image inline as what its bytes are, anything
    else (a blob stored before the bureau sniffed them) as an opaque download no browser renders."""
    media = sniff_media_type(data[:SNIFF_BYTES])
    if media is None:
        return "application/octet-stream", f'attachment; filename="{sha256}.bin"'
    return media, f'inline; filename="{sha256}.{ALLOWED_BLOBS[media].extension}"'
