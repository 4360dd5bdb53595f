"""The one failure type of the sealed-sync core: a stable English reason code for logs and the API, and a
Chinese message for the people who read it."""

from __future__ import annotations


class SealedSyncError(Exception):
    def __init__(self, reason_code: str, message_zh: str):
        super().__init__(f"{reason_code}: {message_zh}")
        self.reason_code = reason_code
        self.message_zh = message_zh


class EnvelopeError(SealedSyncError):
    """A record envelope, blob or receipt that must not be accepted."""


class KeyHandlingError(SealedSyncError):
    """A key file, recovery share or key-rotation statement that cannot be used."""


class MerkleProofError(SealedSyncError):
    """An inclusion proof, consistency proof or tree head that does not verify."""


class RecordInvalid(SealedSyncError):
    """An inspection record that does not fit its schema (`sync.record_schema`): the reason code, the path of the
    first offending field and a Chinese sentence naming it and what was expected."""

    def __init__(self, reason_code: str, message_zh: str, path: str):
        super().__init__(reason_code, message_zh)
        self.path = path
