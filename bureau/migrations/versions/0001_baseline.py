"""The schema as `create_all` made it before the bureau had revisions (commit c619c35): every table of that day.

Revision ID: 0001
Revises:
"""

from __future__ import annotations

import sqlalchemy as sa
import sqlmodel.sql.sqltypes
from alembic import op

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table("assignment",
    sa.Column("id", sqlmodel.sql.sqltypes.AutoString(), nullable=False),
    sa.Column("plan_id", sqlmodel.sql.sqltypes.AutoString(), nullable=False),
    sa.Column("institution_code", sqlmodel.sql.sqltypes.AutoString(), nullable=False),
    sa.Column("team", sa.JSON(), nullable=False),
    sa.Column("reason", sqlmodel.sql.sqltypes.AutoString(), nullable=False),
    sa.Column("status", sqlmodel.sql.sqltypes.AutoString(), nullable=False),
    sa.Column("issued_at", sqlmodel.sql.sqltypes.UTCDateTime(), nullable=False),
    sa.Column("due_date", sa.Date(), nullable=True),
    sa.Column("revoked", sa.Boolean(), nullable=False),
    sa.Column("revoked_at", sqlmodel.sql.sqltypes.UTCDateTime(), nullable=True),
    sa.Column("revoked_by", sqlmodel.sql.sqltypes.AutoString(), nullable=False),
    sa.Column("revoked_reason", sqlmodel.sql.sqltypes.AutoString(), nullable=False),
    sa.Column("seq", sa.Integer(), nullable=False),
    sa.Column("signature", sqlmodel.sql.sqltypes.AutoString(), nullable=False),
    sa.PrimaryKeyConstraint("id")
    )
    with op.batch_alter_table("assignment", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_assignment_institution_code"), ["institution_code"], unique=False)
        batch_op.create_index(batch_op.f("ix_assignment_plan_id"), ["plan_id"], unique=False)
        batch_op.create_index(batch_op.f("ix_assignment_seq"), ["seq"], unique=False)

    op.create_table("assignmentmember",
    sa.Column("assignment_id", sqlmodel.sql.sqltypes.AutoString(), nullable=False),
    sa.Column("inspector_code", sqlmodel.sql.sqltypes.AutoString(), nullable=False),
    sa.PrimaryKeyConstraint("assignment_id", "inspector_code")
    )
    with op.batch_alter_table("assignmentmember", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_assignmentmember_inspector_code"), ["inspector_code"], unique=False)

    op.create_table("blobupload",
    sa.Column("sha256", sqlmodel.sql.sqltypes.AutoString(), nullable=False),
    sa.Column("device_id", sqlmodel.sql.sqltypes.AutoString(), nullable=False),
    sa.Column("header", sa.JSON(), nullable=False),
    sa.Column("received_chunks", sa.Integer(), nullable=False),
    sa.Column("updated_at", sqlmodel.sql.sqltypes.UTCDateTime(), nullable=False),
    sa.PrimaryKeyConstraint("sha256", "device_id")
    )
    op.create_table("conflict",
    sa.Column("id", sa.Integer(), nullable=False),
    sa.Column("inspector_code", sqlmodel.sql.sqltypes.AutoString(), nullable=False),
    sa.Column("institution_code", sqlmodel.sql.sqltypes.AutoString(), nullable=False),
    sa.Column("reason", sqlmodel.sql.sqltypes.AutoString(), nullable=False),
    sa.Column("active", sa.Boolean(), nullable=False),
    sa.PrimaryKeyConstraint("id"),
    sa.UniqueConstraint("inspector_code", "institution_code")
    )
    with op.batch_alter_table("conflict", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_conflict_inspector_code"), ["inspector_code"], unique=False)
        batch_op.create_index(batch_op.f("ix_conflict_institution_code"), ["institution_code"], unique=False)

    op.create_table("correctionrequest",
    sa.Column("id", sqlmodel.sql.sqltypes.AutoString(), nullable=False),
    sa.Column("record_id", sqlmodel.sql.sqltypes.AutoString(), nullable=False),
    sa.Column("version", sa.Integer(), nullable=False),
    sa.Column("assignment_id", sqlmodel.sql.sqltypes.AutoString(), nullable=False),
    sa.Column("reason", sqlmodel.sql.sqltypes.AutoString(), nullable=False),
    sa.Column("status", sqlmodel.sql.sqltypes.AutoString(), nullable=False),
    sa.Column("requested_at", sqlmodel.sql.sqltypes.UTCDateTime(), nullable=False),
    sa.Column("seq", sa.Integer(), nullable=False),
    sa.PrimaryKeyConstraint("id")
    )
    with op.batch_alter_table("correctionrequest", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_correctionrequest_assignment_id"), ["assignment_id"], unique=False)
        batch_op.create_index(batch_op.f("ix_correctionrequest_record_id"), ["record_id"], unique=False)
        batch_op.create_index(batch_op.f("ix_correctionrequest_seq"), ["seq"], unique=False)

    op.create_table("counter",
    sa.Column("name", sqlmodel.sql.sqltypes.AutoString(), nullable=False),
    sa.Column("value", sa.Integer(), nullable=False),
    sa.PrimaryKeyConstraint("name")
    )
    op.create_table("decision",
    sa.Column("record_id", sqlmodel.sql.sqltypes.AutoString(), nullable=False),
    sa.Column("version", sa.Integer(), nullable=False),
    sa.Column("record_hash", sqlmodel.sql.sqltypes.AutoString(), nullable=False),
    sa.Column("institution_code", sqlmodel.sql.sqltypes.AutoString(), nullable=False),
    sa.Column("outcome", sqlmodel.sql.sqltypes.AutoString(), nullable=False),
    sa.Column("status", sqlmodel.sql.sqltypes.AutoString(), nullable=False),
    sa.Column("doc_kind", sqlmodel.sql.sqltypes.AutoString(), nullable=False),
    sa.Column("case_flags", sa.JSON(), nullable=False),
    sa.Column("proposal", sa.JSON(), nullable=True),
    sa.Column("measures", sa.JSON(), nullable=False),
    sa.Column("recover_yuan", sqlmodel.sql.sqltypes.AutoString(), nullable=False),
    sa.Column("fine_yuan", sqlmodel.sql.sqltypes.AutoString(), nullable=True),
    sa.Column("fine_reason", sqlmodel.sql.sqltypes.AutoString(), nullable=False),
    sa.Column("suspension_months", sa.Integer(), nullable=True),
    sa.Column("terminate_agreement", sa.Boolean(), nullable=False),
    sa.Column("rectification_due", sa.Date(), nullable=True),
    sa.Column("rectification_order_id", sa.Integer(), nullable=True),
    sa.Column("institution_points", sa.JSON(), nullable=False),
    sa.Column("person_points", sa.JSON(), nullable=False),
    sa.Column("drafted_by", sqlmodel.sql.sqltypes.AutoString(), nullable=False),
    sa.Column("drafted_at", sqlmodel.sql.sqltypes.UTCDateTime(), nullable=False),
    sa.Column("decision_no", sqlmodel.sql.sqltypes.AutoString(), nullable=True),
    sa.Column("decided_by", sqlmodel.sql.sqltypes.AutoString(), nullable=True),
    sa.Column("decided_at", sqlmodel.sql.sqltypes.UTCDateTime(), nullable=True),
    sa.Column("withdrawn_by", sqlmodel.sql.sqltypes.AutoString(), nullable=True),
    sa.Column("withdrawn_at", sqlmodel.sql.sqltypes.UTCDateTime(), nullable=True),
    sa.Column("withdrawn_reason", sqlmodel.sql.sqltypes.AutoString(), nullable=False),
    sa.PrimaryKeyConstraint("record_id"),
    sa.UniqueConstraint("decision_no")
    )
    with op.batch_alter_table("decision", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_decision_decided_at"), ["decided_at"], unique=False)
        batch_op.create_index(batch_op.f("ix_decision_institution_code"), ["institution_code"], unique=False)
        batch_op.create_index(batch_op.f("ix_decision_status"), ["status"], unique=False)

    op.create_table("devicekey",
    sa.Column("key_id", sqlmodel.sql.sqltypes.AutoString(), nullable=False),
    sa.Column("device_id", sqlmodel.sql.sqltypes.AutoString(), nullable=False),
    sa.Column("inspector_code", sqlmodel.sql.sqltypes.AutoString(), nullable=False),
    sa.Column("public_key", sqlmodel.sql.sqltypes.AutoString(), nullable=False),
    sa.Column("status", sqlmodel.sql.sqltypes.AutoString(), nullable=False),
    sa.Column("enrolled_at", sqlmodel.sql.sqltypes.UTCDateTime(), nullable=False),
    sa.Column("revoked_at", sqlmodel.sql.sqltypes.UTCDateTime(), nullable=True),
    sa.Column("revoked_reason", sqlmodel.sql.sqltypes.AutoString(), nullable=False),
    sa.PrimaryKeyConstraint("key_id")
    )
    with op.batch_alter_table("devicekey", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_devicekey_device_id"), ["device_id"], unique=False)
        batch_op.create_index(batch_op.f("ix_devicekey_inspector_code"), ["inspector_code"], unique=False)

    op.create_table("disclosure",
    sa.Column("id", sa.Integer(), nullable=False),
    sa.Column("period", sqlmodel.sql.sqltypes.AutoString(), nullable=False),
    sa.Column("published_at", sqlmodel.sql.sqltypes.UTCDateTime(), nullable=False),
    sa.Column("tree_size", sa.BigInteger(), nullable=False),
    sa.Column("tree_root", sqlmodel.sql.sqltypes.AutoString(), nullable=False),
    sa.Column("content_sha256", sqlmodel.sql.sqltypes.AutoString(), nullable=False),
    sa.Column("draws", sa.Integer(), nullable=False),
    sa.Column("outcomes", sa.Integer(), nullable=False),
    sa.PrimaryKeyConstraint("id")
    )
    with op.batch_alter_table("disclosure", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_disclosure_period"), ["period"], unique=False)

    op.create_table("drawcommitment",
    sa.Column("plan_id", sqlmodel.sql.sqltypes.AutoString(), nullable=False),
    sa.Column("plan_hash", sqlmodel.sql.sqltypes.AutoString(), nullable=False),
    sa.Column("registry_hash", sqlmodel.sql.sqltypes.AutoString(), nullable=False),
    sa.Column("commitment_hash", sqlmodel.sql.sqltypes.AutoString(), nullable=False),
    sa.Column("plan", sa.JSON(), nullable=False),
    sa.Column("committed_at", sqlmodel.sql.sqltypes.UTCDateTime(), nullable=False),
    sa.PrimaryKeyConstraint("plan_id")
    )
    op.create_table("drawrecord",
    sa.Column("plan_id", sqlmodel.sql.sqltypes.AutoString(), nullable=False),
    sa.Column("transcript_hash", sqlmodel.sql.sqltypes.AutoString(), nullable=False),
    sa.Column("selected", sa.Integer(), nullable=False),
    sa.Column("transcript", sa.JSON(), nullable=False),
    sa.Column("drawn_at", sqlmodel.sql.sqltypes.UTCDateTime(), nullable=False),
    sa.PrimaryKeyConstraint("plan_id")
    )
    op.create_table("enrolltoken",
    sa.Column("token_hash", sqlmodel.sql.sqltypes.AutoString(), nullable=False),
    sa.Column("inspector_code", sqlmodel.sql.sqltypes.AutoString(), nullable=False),
    sa.Column("expires_at", sqlmodel.sql.sqltypes.UTCDateTime(), nullable=False),
    sa.Column("used_by_key_id", sqlmodel.sql.sqltypes.AutoString(), nullable=True),
    sa.PrimaryKeyConstraint("token_hash")
    )
    with op.batch_alter_table("enrolltoken", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_enrolltoken_inspector_code"), ["inspector_code"], unique=False)

    op.create_table("inspector",
    sa.Column("code", sqlmodel.sql.sqltypes.AutoString(), nullable=False),
    sa.Column("name", sqlmodel.sql.sqltypes.AutoString(), nullable=False),
    sa.Column("badge_no", sqlmodel.sql.sqltypes.AutoString(), nullable=False),
    sa.Column("region", sqlmodel.sql.sqltypes.AutoString(length=6), nullable=False),
    sa.Column("active", sa.Boolean(), nullable=False),
    sa.Column("updated_at", sqlmodel.sql.sqltypes.UTCDateTime(), nullable=False),
    sa.PrimaryKeyConstraint("code")
    )
    op.create_table("institution",
    sa.Column("code", sqlmodel.sql.sqltypes.AutoString(length=12), nullable=False),
    sa.Column("name", sqlmodel.sql.sqltypes.AutoString(), nullable=False),
    sa.Column("kind", sqlmodel.sql.sqltypes.AutoString(), nullable=False),
    sa.Column("region", sqlmodel.sql.sqltypes.AutoString(length=6), nullable=False),
    sa.Column("credit_code", sqlmodel.sql.sqltypes.AutoString(length=18), nullable=False),
    sa.Column("address", sqlmodel.sql.sqltypes.AutoString(), nullable=False),
    sa.Column("risk_score", sa.Integer(), nullable=True),
    sa.Column("last_inspected", sa.Date(), nullable=True),
    sa.Column("active", sa.Boolean(), nullable=False),
    sa.Column("updated_at", sqlmodel.sql.sqltypes.UTCDateTime(), nullable=False),
    sa.PrimaryKeyConstraint("code")
    )
    with op.batch_alter_table("institution", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_institution_kind"), ["kind"], unique=False)
        batch_op.create_index(batch_op.f("ix_institution_region"), ["region"], unique=False)

    op.create_table("logleaf",
    sa.Column("leaf_index", sa.BigInteger(), autoincrement=False, nullable=False),
    sa.Column("record_id", sqlmodel.sql.sqltypes.AutoString(), nullable=False),
    sa.Column("version", sa.Integer(), nullable=False),
    sa.Column("leaf_hash", sqlmodel.sql.sqltypes.AutoString(), nullable=False),
    sa.Column("appended_at", sqlmodel.sql.sqltypes.UTCDateTime(), nullable=False),
    sa.PrimaryKeyConstraint("leaf_index")
    )
    op.create_table("receivedrecord",
    sa.Column("record_id", sqlmodel.sql.sqltypes.AutoString(), nullable=False),
    sa.Column("version", sa.Integer(), nullable=False),
    sa.Column("record_hash", sqlmodel.sql.sqltypes.AutoString(), nullable=False),
    sa.Column("previous_hash", sqlmodel.sql.sqltypes.AutoString(), nullable=True),
    sa.Column("device_id", sqlmodel.sql.sqltypes.AutoString(), nullable=False),
    sa.Column("assignment_id", sqlmodel.sql.sqltypes.AutoString(), nullable=False),
    sa.Column("institution_code", sqlmodel.sql.sqltypes.AutoString(), nullable=False),
    sa.Column("template_pin", sqlmodel.sql.sqltypes.AutoString(), nullable=False),
    sa.Column("signers", sa.JSON(), nullable=False),
    sa.Column("signatures", sa.JSON(), nullable=False),
    sa.Column("record", sa.JSON(), nullable=False),
    sa.Column("sealed_bytes", sa.Integer(), nullable=False),
    sa.Column("score_claimed", sqlmodel.sql.sqltypes.AutoString(), nullable=True),
    sa.Column("score_computed", sqlmodel.sql.sqltypes.AutoString(), nullable=True),
    sa.Column("critical", sa.Boolean(), nullable=False),
    sa.Column("score_mismatch", sa.Boolean(), nullable=False),
    sa.Column("log_index", sa.BigInteger(), nullable=False),
    sa.Column("received_at", sqlmodel.sql.sqltypes.UTCDateTime(), nullable=False),
    sa.PrimaryKeyConstraint("record_id", "version"),
    sa.UniqueConstraint("log_index")
    )
    with op.batch_alter_table("receivedrecord", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_receivedrecord_assignment_id"), ["assignment_id"], unique=False)
        batch_op.create_index(batch_op.f("ix_receivedrecord_device_id"), ["device_id"], unique=False)
        batch_op.create_index(batch_op.f("ix_receivedrecord_institution_code"), ["institution_code"], unique=False)

    op.create_table("recordblob",
    sa.Column("record_id", sqlmodel.sql.sqltypes.AutoString(), nullable=False),
    sa.Column("version", sa.Integer(), nullable=False),
    sa.Column("sha256", sqlmodel.sql.sqltypes.AutoString(), nullable=False),
    sa.Column("size", sa.BigInteger(), nullable=False),
    sa.Column("media_type", sqlmodel.sql.sqltypes.AutoString(), nullable=False),
    sa.PrimaryKeyConstraint("record_id", "version", "sha256")
    )
    with op.batch_alter_table("recordblob", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_recordblob_sha256"), ["sha256"], unique=False)

    op.create_table("rectificationorder",
    sa.Column("id", sa.Integer(), nullable=False),
    sa.Column("institution_code", sqlmodel.sql.sqltypes.AutoString(), nullable=False),
    sa.Column("ordered_at", sa.Date(), nullable=False),
    sa.Column("due_date", sa.Date(), nullable=True),
    sa.Column("closed_at", sqlmodel.sql.sqltypes.UTCDateTime(), nullable=True),
    sa.Column("note", sqlmodel.sql.sqltypes.AutoString(), nullable=False),
    sa.PrimaryKeyConstraint("id")
    )
    with op.batch_alter_table("rectificationorder", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_rectificationorder_institution_code"), ["institution_code"], unique=False)

    op.create_table("registrychange",
    sa.Column("id", sa.Integer(), nullable=False),
    sa.Column("import_id", sa.Integer(), nullable=False),
    sa.Column("kind", sqlmodel.sql.sqltypes.AutoString(), nullable=False),
    sa.Column("code", sqlmodel.sql.sqltypes.AutoString(), nullable=False),
    sa.Column("change", sqlmodel.sql.sqltypes.AutoString(), nullable=False),
    sa.Column("before", sa.JSON(), nullable=True),
    sa.Column("after", sa.JSON(), nullable=True),
    sa.PrimaryKeyConstraint("id")
    )
    with op.batch_alter_table("registrychange", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_registrychange_code"), ["code"], unique=False)
        batch_op.create_index(batch_op.f("ix_registrychange_import_id"), ["import_id"], unique=False)

    op.create_table("registryimport",
    sa.Column("id", sa.Integer(), nullable=False),
    sa.Column("kind", sqlmodel.sql.sqltypes.AutoString(), nullable=False),
    sa.Column("source_name", sqlmodel.sql.sqltypes.AutoString(), nullable=False),
    sa.Column("source_sha256", sqlmodel.sql.sqltypes.AutoString(), nullable=False),
    sa.Column("rows", sa.Integer(), nullable=False),
    sa.Column("created", sa.Integer(), nullable=False),
    sa.Column("updated", sa.Integer(), nullable=False),
    sa.Column("deactivated", sa.Integer(), nullable=False),
    sa.Column("imported_at", sqlmodel.sql.sqltypes.UTCDateTime(), nullable=False),
    sa.PrimaryKeyConstraint("id")
    )
    with op.batch_alter_table("registryimport", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_registryimport_kind"), ["kind"], unique=False)

    op.create_table("rejection",
    sa.Column("id", sa.Integer(), nullable=False),
    sa.Column("device_id", sqlmodel.sql.sqltypes.AutoString(), nullable=False),
    sa.Column("subject", sqlmodel.sql.sqltypes.AutoString(), nullable=False),
    sa.Column("reason", sqlmodel.sql.sqltypes.AutoString(), nullable=False),
    sa.Column("message", sqlmodel.sql.sqltypes.AutoString(), nullable=False),
    sa.Column("received_at", sqlmodel.sql.sqltypes.UTCDateTime(), nullable=False),
    sa.PrimaryKeyConstraint("id")
    )
    with op.batch_alter_table("rejection", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_rejection_device_id"), ["device_id"], unique=False)

    op.create_table("requestnonce",
    sa.Column("key_id", sqlmodel.sql.sqltypes.AutoString(), nullable=False),
    sa.Column("nonce", sqlmodel.sql.sqltypes.AutoString(), nullable=False),
    sa.Column("signed_at", sa.BigInteger(), nullable=False),
    sa.PrimaryKeyConstraint("key_id", "nonce")
    )
    with op.batch_alter_table("requestnonce", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_requestnonce_signed_at"), ["signed_at"], unique=False)

    op.create_table("reviewcase",
    sa.Column("record_id", sqlmodel.sql.sqltypes.AutoString(), nullable=False),
    sa.Column("version", sa.Integer(), nullable=False),
    sa.Column("institution_code", sqlmodel.sql.sqltypes.AutoString(), nullable=False),
    sa.Column("status", sqlmodel.sql.sqltypes.AutoString(), nullable=False),
    sa.Column("findings", sa.Integer(), nullable=False),
    sa.Column("inspected_on", sa.Date(), nullable=True),
    sa.Column("events", sa.Integer(), nullable=False),
    sa.Column("last_event_hash", sqlmodel.sql.sqltypes.AutoString(), nullable=False),
    sa.Column("statement_deadline", sa.Date(), nullable=True),
    sa.Column("statement_text", sqlmodel.sql.sqltypes.AutoString(), nullable=False),
    sa.Column("statement_waived", sa.Boolean(), nullable=False),
    sa.Column("statement_received_at", sqlmodel.sql.sqltypes.UTCDateTime(), nullable=True),
    sa.Column("attachment_sha256", sqlmodel.sql.sqltypes.AutoString(), nullable=True),
    sa.Column("attachment_name", sqlmodel.sql.sqltypes.AutoString(), nullable=False),
    sa.Column("updated_at", sqlmodel.sql.sqltypes.UTCDateTime(), nullable=False),
    sa.PrimaryKeyConstraint("record_id")
    )
    with op.batch_alter_table("reviewcase", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_reviewcase_institution_code"), ["institution_code"], unique=False)
        batch_op.create_index(batch_op.f("ix_reviewcase_status"), ["status"], unique=False)

    op.create_table("reviewevent",
    sa.Column("id", sa.Integer(), nullable=False),
    sa.Column("record_id", sqlmodel.sql.sqltypes.AutoString(), nullable=False),
    sa.Column("seq", sa.Integer(), nullable=False),
    sa.Column("version", sa.Integer(), nullable=False),
    sa.Column("action", sqlmodel.sql.sqltypes.AutoString(), nullable=False),
    sa.Column("from_status", sqlmodel.sql.sqltypes.AutoString(), nullable=True),
    sa.Column("to_status", sqlmodel.sql.sqltypes.AutoString(), nullable=False),
    sa.Column("actor", sqlmodel.sql.sqltypes.AutoString(), nullable=False),
    sa.Column("actor_role", sqlmodel.sql.sqltypes.AutoString(), nullable=False),
    sa.Column("at", sqlmodel.sql.sqltypes.UTCDateTime(), nullable=False),
    sa.Column("reason", sqlmodel.sql.sqltypes.AutoString(), nullable=False),
    sa.Column("details", sa.JSON(), nullable=False),
    sa.Column("prev_hash", sqlmodel.sql.sqltypes.AutoString(), nullable=False),
    sa.Column("event_hash", sqlmodel.sql.sqltypes.AutoString(), nullable=False),
    sa.PrimaryKeyConstraint("id"),
    sa.UniqueConstraint("record_id", "seq")
    )
    with op.batch_alter_table("reviewevent", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_reviewevent_record_id"), ["record_id"], unique=False)

    op.create_table("signedtreehead",
    sa.Column("size", sa.BigInteger(), autoincrement=False, nullable=False),
    sa.Column("root", sqlmodel.sql.sqltypes.AutoString(), nullable=False),
    sa.Column("timestamp", sa.BigInteger(), nullable=False),
    sa.Column("signature", sqlmodel.sql.sqltypes.AutoString(), nullable=False),
    sa.PrimaryKeyConstraint("size")
    )
    op.create_table("staffaccount",
    sa.Column("username", sqlmodel.sql.sqltypes.AutoString(), nullable=False),
    sa.Column("name", sqlmodel.sql.sqltypes.AutoString(), nullable=False),
    sa.Column("role", sqlmodel.sql.sqltypes.AutoString(), nullable=False),
    sa.Column("password_hash", sqlmodel.sql.sqltypes.AutoString(), nullable=False),
    sa.Column("inspector_code", sqlmodel.sql.sqltypes.AutoString(), nullable=True),
    sa.Column("active", sa.Boolean(), nullable=False),
    sa.Column("failed_logins", sa.Integer(), nullable=False),
    sa.Column("locked_until", sqlmodel.sql.sqltypes.UTCDateTime(), nullable=True),
    sa.PrimaryKeyConstraint("username")
    )
    op.create_table("staffsession",
    sa.Column("token_hash", sqlmodel.sql.sqltypes.AutoString(), nullable=False),
    sa.Column("username", sqlmodel.sql.sqltypes.AutoString(), nullable=False),
    sa.Column("expires_at", sqlmodel.sql.sqltypes.UTCDateTime(), nullable=False),
    sa.PrimaryKeyConstraint("token_hash")
    )
    with op.batch_alter_table("staffsession", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_staffsession_username"), ["username"], unique=False)

    op.create_table("storedblob",
    sa.Column("sha256", sqlmodel.sql.sqltypes.AutoString(), nullable=False),
    sa.Column("size", sa.BigInteger(), nullable=False),
    sa.Column("media_type", sqlmodel.sql.sqltypes.AutoString(), nullable=False),
    sa.Column("stored_at", sqlmodel.sql.sqltypes.UTCDateTime(), nullable=False),
    sa.PrimaryKeyConstraint("sha256")
    )


def downgrade() -> None:
    op.drop_table("storedblob")
    with op.batch_alter_table("staffsession", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_staffsession_username"))

    op.drop_table("staffsession")
    op.drop_table("staffaccount")
    op.drop_table("signedtreehead")
    with op.batch_alter_table("reviewevent", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_reviewevent_record_id"))

    op.drop_table("reviewevent")
    with op.batch_alter_table("reviewcase", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_reviewcase_status"))
        batch_op.drop_index(batch_op.f("ix_reviewcase_institution_code"))

    op.drop_table("reviewcase")
    with op.batch_alter_table("requestnonce", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_requestnonce_signed_at"))

    op.drop_table("requestnonce")
    with op.batch_alter_table("rejection", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_rejection_device_id"))

    op.drop_table("rejection")
    with op.batch_alter_table("registryimport", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_registryimport_kind"))

    op.drop_table("registryimport")
    with op.batch_alter_table("registrychange", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_registrychange_import_id"))
        batch_op.drop_index(batch_op.f("ix_registrychange_code"))

    op.drop_table("registrychange")
    with op.batch_alter_table("rectificationorder", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_rectificationorder_institution_code"))

    op.drop_table("rectificationorder")
    with op.batch_alter_table("recordblob", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_recordblob_sha256"))

    op.drop_table("recordblob")
    with op.batch_alter_table("receivedrecord", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_receivedrecord_institution_code"))
        batch_op.drop_index(batch_op.f("ix_receivedrecord_device_id"))
        batch_op.drop_index(batch_op.f("ix_receivedrecord_assignment_id"))

    op.drop_table("receivedrecord")
    op.drop_table("logleaf")
    with op.batch_alter_table("institution", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_institution_region"))
        batch_op.drop_index(batch_op.f("ix_institution_kind"))

    op.drop_table("institution")
    op.drop_table("inspector")
    with op.batch_alter_table("enrolltoken", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_enrolltoken_inspector_code"))

    op.drop_table("enrolltoken")
    op.drop_table("drawrecord")
    op.drop_table("drawcommitment")
    with op.batch_alter_table("disclosure", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_disclosure_period"))

    op.drop_table("disclosure")
    with op.batch_alter_table("devicekey", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_devicekey_inspector_code"))
        batch_op.drop_index(batch_op.f("ix_devicekey_device_id"))

    op.drop_table("devicekey")
    with op.batch_alter_table("decision", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_decision_status"))
        batch_op.drop_index(batch_op.f("ix_decision_institution_code"))
        batch_op.drop_index(batch_op.f("ix_decision_decided_at"))

    op.drop_table("decision")
    op.drop_table("counter")
    with op.batch_alter_table("correctionrequest", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_correctionrequest_seq"))
        batch_op.drop_index(batch_op.f("ix_correctionrequest_record_id"))
        batch_op.drop_index(batch_op.f("ix_correctionrequest_assignment_id"))

    op.drop_table("correctionrequest")
    with op.batch_alter_table("conflict", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_conflict_institution_code"))
        batch_op.drop_index(batch_op.f("ix_conflict_inspector_code"))

    op.drop_table("conflict")
    op.drop_table("blobupload")
    with op.batch_alter_table("assignmentmember", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_assignmentmember_inspector_code"))

    op.drop_table("assignmentmember")
    with op.batch_alter_table("assignment", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_assignment_seq"))
        batch_op.drop_index(batch_op.f("ix_assignment_plan_id"))
        batch_op.drop_index(batch_op.f("ix_assignment_institution_code"))

    op.drop_table("assignment")
