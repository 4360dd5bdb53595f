"""Where the bureau keeps blobs (photos of received records): one file per content hash under `<data>/blobs/`,
and an upload in progress as a part file under `<data>/uploads/`, one per blob and sending device."""

from __future__ import annotations

import hashlib
from pathlib import Path

from bureau.settings import BureauSettings


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
