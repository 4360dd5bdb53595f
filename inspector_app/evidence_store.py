"""Photo evidence files on the tablet: encrypted, content-addressed, written atomically.

Layout: ``<home>/evidence/<sha256[:2]>/<sha256>.<variant>``, where ``sha256`` is the evidence hash of the photo's
stored image and ``variant`` one of `vault.PHOTO_VARIANTS` (the camera ``original`` is kept until the bureau has
confirmed the blob, then the outbox deletes it). Every file is ``vault.encrypt_content`` output bound to
``photo_slot(sha256, variant)``, so a file renamed to another hash or variant does not decrypt.

A file is written to ``<name>.tmp`` in the same directory, fsynced, renamed over its name and the directory fsynced:
after a crash a name holds either nothing or the whole ciphertext. ``*.tmp`` files are leftovers of an interrupted
write; `sweep` removes them and nothing ever reads them. The database row that makes a photo evidence is written
only after all its files are in place (see `onsite.add_photo`).

`reads` counts what was decrypted (files and bytes, by variant): the proof that opening an inspection touches
thumbnails only.
"""

from __future__ import annotations

import hashlib
import os
from collections import Counter
from pathlib import Path

from inspector_app.vault import DataKey, decrypt_content, encrypt_content, photo_slot

TMP_SUFFIX = ".tmp"


class EvidenceStore:
    def __init__(self, home: Path):
        self.root = home / "evidence"
        self.reads: Counter[str] = Counter()  # "<variant>" files read, "<variant>_bytes" plaintext bytes

    def path(self, sha256: str, variant: str) -> Path:
        return self.root / sha256[:2] / f"{sha256}.{variant}"

    def has(self, sha256: str, variant: str) -> bool:
        return self.path(sha256, variant).is_file()

    def put(self, key: DataKey, sha256: str, variant: str, plaintext: bytes) -> Path:
        """Encrypt and write one file durably; a file already there (the same photo again) is kept as it is."""
        target = self.path(sha256, variant)
        if target.is_file():
            return target
        target.parent.mkdir(parents=True, exist_ok=True)
        tmp = target.with_name(target.name + TMP_SUFFIX)
        with open(tmp, "wb") as handle:
            handle.write(encrypt_content(key, plaintext, photo_slot(sha256, variant)))
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(tmp, target)
        _fsync_dir(target.parent)
        return target

    def get(self, key: DataKey, sha256: str, variant: str) -> bytes:
        """The plaintext; raises vault.ContentUnreadable if the file was altered or moved, OSError if missing."""
        plaintext = decrypt_content(key, self.path(sha256, variant).read_bytes(), photo_slot(sha256, variant))
        self.reads[variant] += 1
        self.reads[f"{variant}_bytes"] += len(plaintext)
        return plaintext

    def stored_image(self, key: DataKey, sha256: str) -> bytes:
        """The evidence image, checked against its name (what the outbox sends to the bureau)."""
        data = self.get(key, sha256, "stored")
        if hashlib.sha256(data).hexdigest() != sha256:
            raise ValueError(f"evidence file {sha256} does not match its hash")
        return data

    def remove(self, sha256: str) -> None:
        for path in self.root.glob(f"{sha256[:2]}/{sha256}.*"):
            path.unlink(missing_ok=True)

    def sweep(self) -> int:
        """Delete leftovers of writes a crash interrupted; returns how many."""
        leftovers = list(self.root.glob(f"*/*{TMP_SUFFIX}")) if self.root.exists() else []
        for path in leftovers:
            path.unlink(missing_ok=True)
        return len(leftovers)


def _fsync_dir(directory: Path) -> None:
    fd = os.open(directory, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)
