"""Data minimisation: batches carry indicator fields and counts only, never personal data."""

from __future__ import annotations

import json
from datetime import timedelta

from scamshare.clock import utcnow
from scamshare.db import transaction
from scamshare.federation.outgoing import build_batch
from schemas.federation import BatchSchema, ContributionSchema

FORBIDDEN = (
    "reporter",
    "organisation",
    "organization",
    "org_id",
    "key_id",
    "evidence",
    "note",
    "recipient",
    "victim",
    "message_text",
    "submitted_value",
    "region",
    "contact",
)


def test_the_wire_schemas_name_no_personal_or_reporter_field():
    """The allowlist itself has no field a reporter, victim or piece of evidence could ride in."""
    names = set(BatchSchema().fields) | set(ContributionSchema().fields)
    leaks = {name for name in names for bad in FORBIDDEN if bad in name}
    assert leaks == set()
    assert ContributionSchema.Meta.unknown == "raise"
    assert BatchSchema.Meta.unknown == "raise"


def test_a_real_batch_carries_nothing_but_allowlisted_fields(app, client, keys):
    """Reports full of identifying details produce a batch with none of them in it."""
    secrets = {
        "evidence": "EVIDENCE-CASE-7781-VICTIM-JANE-TAN",
        "note": "victim Jane Tan +6591112222 lost SGD 4,000",
        "recipient": "+6598887777",
    }
    observed = (utcnow() - timedelta(days=1)).isoformat()
    message = (
        f"Dear customer {secrets['recipient']}, your DBS account is locked: http://dbs-sg.top/x"
    )
    reports = [
        {
            "kind": "phone",
            "value": "+65 8123 4567",
            "category": "bank_impersonation",
            "channel": "voice",
            "observed_at": observed,
            "evidence_ref": secrets["evidence"],
            "note": secrets["note"],
            "verified": True,
        },
        {
            "kind": "message",
            "value": message,
            "category": "bank_impersonation",
            "channel": "sms",
            "observed_at": observed,
            "evidence_ref": secrets["evidence"],
            "note": secrets["note"],
            "verified": True,
        },
    ]
    response = client.post(
        "/api/v1/reports", json={"reports": reports}, headers=keys["regulator"].headers
    )
    assert response.status_code == 200 and response.json["accepted"] == 2
    with transaction(app) as session:
        batch = build_batch(session, "scamshare-sg", "SG", 0, 100, utcnow())
    wire = json.dumps(batch)
    # The phone and the message are listed and shared; the number and URL inside the text are
    # only reported (a verified message does not vouch for what it mentions), so stay here.
    assert sorted(c["kind"] for c in batch["contributions"]) == ["message", "phone"]
    for secret in (*secrets.values(), "Jane", "4,000", keys["regulator"].name, message):
        assert secret not in wire
    allowed = set(ContributionSchema().fields)
    for contribution in batch["contributions"]:
        assert set(contribution) <= allowed
    assert set(batch) <= set(BatchSchema().fields)
    assert BatchSchema().validate(json.loads(wire)) == {}
