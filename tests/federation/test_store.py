"""A batch stored straight through the driver reads back exactly as if written via the models."""

from __future__ import annotations

from datetime import UTC, datetime

from sqlalchemy import insert, select

from scamshare.db import transaction
from scamshare.federation import store, wire
from scamshare.models import Contribution, Indicator, Peer
from tests.storage import raw_rows

NOW = datetime(2026, 11, 23, 3, 0, 0, 120000, tzinfo=UTC)


def contribution(value: str, **fields) -> dict:
    """One MY contribution as it travels."""
    return {
        "kind": "phone",
        "value": value,
        "status": "listed",
        "removal_reason": None,
        "risk": "high",
        "categories": ["loan", "investment"],
        "report_count": 3,
        "org_count": 2,
        "first_reported": "2026-11-01T10:00:00+00:00",
        "last_reported": "2026-11-02T10:00:00.5+08:00",
        "expires_at": "2026-12-01T10:00:00.000001+00:00",
        "origin_node": "scamshare-my",
        "origin_country": "MY",
        "origin_version": 7,
        **fields,
    }


def loaded_batch(*contributions: dict) -> dict:
    """A batch as the receiver loads it."""
    return wire.load_batch(
        {
            "wire_version": 1,
            "sender": "scamshare-my",
            "batch_id": "batch-0001",
            "created_at": NOW.isoformat(),
            "sequence_from": 1,
            "sequence_to": 7,
            "contributions": list(contributions),
        }
    )


def test_stored_rows_match_what_the_models_would_write(app):
    """Contributions and new merged-view rows hold the same text as ORM inserts would."""
    with transaction(app) as session:
        peer = Peer(node_id="scamshare-my", country="MY", url="http://my", public_key="k" * 43)
        session.add(peer)
        session.flush()
        result = store.apply(
            session,
            peer,
            loaded_batch(
                contribution("+60100000001"),
                contribution(
                    "+60100000002",
                    status="removed",
                    removal_reason="expired",
                    expires_at=None,
                    categories=[],
                ),
            ),
            NOW,
        )
        assert result["applied"] == 2
        stored = {
            row.value: row
            for row in session.scalars(select(Indicator).where(Indicator.value.like("+601%")))
        }
        for value in ("+60100000001", "+60100000002"):
            held = session.scalars(select(Contribution).where(Contribution.value == value)).one()
            session.execute(
                insert(Contribution),
                {
                    **{
                        column.name: getattr(held, column.name)
                        for column in Contribution.__table__.c
                        if column.name != "id"
                    },
                    "value": "+609" + value[4:],
                },
            )
            indicator = stored[value]
            session.add(
                Indicator(
                    kind="phone",
                    value="+609" + value[4:],
                    status="reported",
                    risk="low",
                    facts={},
                    category_counts={},
                    channel_counts={},
                    foreign=indicator.foreign,
                    exported=indicator.exported,
                    sequence=indicator.sequence,
                    created_at=NOW,
                    updated_at=NOW,
                )
            )
        session.flush()
        for model in (Contribution, Indicator):
            direct = raw_rows(session, model, ["+60100000001", "+60100000002"])
            via_models = raw_rows(session, model, ["+60900000001", "+60900000002"])
            assert direct == via_models
        [entry] = stored["+60100000001"].foreign
        assert entry["last_reported"] == "2026-11-02T10:00:00.500000+08:00"
