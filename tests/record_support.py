"""Helpers for the strict-ingest and fuzzing tests: a complete, valid record made on a PIN tablet the way the app
makes it (check-in, answers with two failed items, photos, responsible staff, three signatures), and a sender that
signs any variant of it with the team's real device keys, seals it to the bureau and sends it through the API.
No tests here."""

from __future__ import annotations

import copy
from dataclasses import dataclass
from typing import Any

from sqlmodel import Session

import checklists
from inspector_app import device, keyring, onsite, outbox
from inspector_app.store import utcnow
from sync.bureau_http import BureauRefused
from sync.canonical import canonical_bytes, content_hash
from sync.envelope import ENVELOPE_FORMAT, sign_record
from sync.keys import SUITE, SealingPublicKey, b64encode, key_id, sealing_public_from_b64
from tests.sync_support import bureau_holdings
from tests.test_review_support import CHECKIN, PHARMACIST, PinTablet, Staff, _fill, _sign, add_review_staff, pin_tablet

PHARMACY = "P35010200001"
FAILED = {"R-FEE-02": ("收银台发现代刷记录 12 笔，无对应购药", "3860.50"), "R-RX-01": ("处方药未凭处方销售", "420.00")}


@dataclass
class Sender:
    bureau: Any
    tablet: PinTablet
    record: dict[str, Any]  # complete and valid: the bureau accepts it as it is
    sealing: SealingPublicKey
    reviewer: Staff

    def variant(self, record_id: str) -> dict[str, Any]:
        """A deep copy of the valid record under another record id."""
        record = copy.deepcopy(self.record)
        record["record_id"] = record_id
        return record

    def send(self, record: Any, record_id: str) -> tuple[int, str, str]:
        """Sign `record` (anything JSON) with both inspectors' device keys, seal it for `record_id` from this
        tablet, PUT it: (HTTP status, reason, message); a receipt is (200, "accepted", record hash)."""
        record_hash = content_hash(record)
        signatures = [sign_record(record_hash, device.signing_key(who), who.inspector_code)
                      for who in (self.tablet.first, self.tablet.second)]
        device_id = self.tablet.first.identity.device_id
        bundle = canonical_bytes({"record": record, "record_hash": record_hash, "signatures": signatures})
        info = f"{ENVELOPE_FORMAT}|{record_id}|{device_id}".encode()  # as sync.envelope.seal_record binds it
        envelope = {"format": ENVELOPE_FORMAT, "record_id": record_id, "device_id": device_id,
                    "bureau_key_id": key_id(self.sealing),
                    "ciphertext_b64": b64encode(SUITE.encrypt(bundle, self.sealing.hpke_key(), info=info))}
        with keyring.session([self.tablet.first, self.tablet.second]):
            client = device.client_for(self.tablet.first.identity)
            try:
                answer = client.put_record(record_id, envelope)
            except BureauRefused as exc:
                return exc.status, exc.reason, exc.message
        return 200, "accepted", answer["receipt"]["record_hash"]

    def stored(self) -> list[tuple[str, int]]:
        return bureau_holdings(self.bureau.settings).records

    def queue(self) -> list[dict[str, Any]]:
        return self.reviewer.get("/v1/review/queue")["items"]


def sender(bureau, home) -> Sender:
    """A PIN tablet with an inspection of the pharmacy filled and signed but not locked, and its record."""
    add_review_staff(bureau.settings)
    t = pin_tablet(bureau, home)
    assignment = t.assignment(PHARMACY)
    inspection = onsite.start_inspection(t.engine, assignment.id, "I0001")
    onsite.save_checkin(t.engine, t.first.data_key, inspection.id, CHECKIN)
    _fill(t, inspection.id, checklists.template_for_kind("pharmacy"), FAILED, {"R-RX-01": PHARMACIST})
    _sign(t, inspection.id, onsite.SIGNING_ROLES)
    current = onsite.review(t.engine, t.first.data_key, inspection.id)
    record = onsite.record_of(current.facts, onsite.evidence_of(current.facts, t.store), utcnow())
    with Session(t.engine) as session:
        sealing = sealing_public_from_b64(session.get(outbox.BureauPin, 1).sealing_public)
    return Sender(bureau, t, record, sealing, Staff(bureau.url, "shenhe"))
