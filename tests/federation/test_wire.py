"""The receiver's shortcuts agree with the slow, obvious code on every input."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta, timezone

from hypothesis import given, settings
from hypothesis import strategies as st
from marshmallow import ValidationError
from sqlalchemy.dialects import sqlite

from scamshare.federation import store, wire
from scamshare.models import Peer, UTCDateTime
from schemas.federation import (
    COUNTRIES,
    KINDS,
    REMOVAL_REASONS,
    RISKS,
    STATUSES,
    ContributionSchema,
)
from tests.strategies import field_values

offsets = st.sampled_from(
    [
        UTC,
        timezone(timedelta(0)),
        timezone(timedelta(hours=8)),
        timezone(timedelta(hours=-5, minutes=-30)),
        timezone(timedelta(seconds=30)),
    ]
)
moments = st.builds(
    lambda moment, tz, whole: moment.replace(
        tzinfo=tz, microsecond=0 if whole else moment.microsecond
    ),
    st.datetimes(min_value=datetime(1, 1, 1), max_value=datetime(9999, 12, 30)),
    offsets,
    st.booleans(),
)


def renderings(moment: datetime) -> list[str]:
    """Texts that parse to this moment, canonical or not."""
    iso = moment.isoformat()
    return [
        iso,
        moment.isoformat(timespec="microseconds"),
        moment.isoformat(" "),
        iso.replace("+00:00", "Z"),
        iso.replace("+00:00", "-00:00"),
        moment.isoformat().replace("-", "", 2).replace(":", "", 2),
    ]


wire_datetimes = st.one_of(
    moments.flatmap(lambda moment: st.sampled_from(renderings(moment))),
    st.sampled_from(["2026-11-20T10:00:00", "2026-11-20", "2026-13-40T10:00:00+00:00", "x"]),
)
values = field_values(
    [*KINDS, *STATUSES, *RISKS, *REMOVAL_REASONS, *COUNTRIES, "bench-sg"],
    wire_datetimes,
    ["investment", "loan", 'é"\\', "x" * 32, "x" * 33, 3],
)
plain = st.fixed_dictionaries(
    {
        "kind": st.sampled_from(KINDS),
        "value": st.text(min_size=1, max_size=20),
        "status": st.sampled_from(STATUSES),
        "risk": st.sampled_from(RISKS),
        "categories": st.lists(
            st.sampled_from(["investment", "loan", 'é"\\', "x" * 32, "x" * 33]), max_size=3
        ),
        "report_count": st.integers(0, 10**6),
        "org_count": st.integers(0, 10**6),
        "first_reported": st.one_of(st.none(), wire_datetimes),
        "last_reported": st.one_of(st.none(), wire_datetimes),
        "expires_at": st.one_of(st.none(), wire_datetimes),
        "origin_node": st.sampled_from(["bench-sg", 'odd "node" é']),
        "origin_country": st.sampled_from(COUNTRIES),
        "origin_version": st.integers(1, 2**40),
    },
    optional={"removal_reason": st.one_of(st.none(), st.sampled_from(REMOVAL_REASONS))},
)


def outcome(load, data):
    """The loaded value, or the refusal's messages."""
    try:
        return "ok", load(data)
    except ValidationError as error:
        return "error", error.messages


@settings(max_examples=400, deadline=None)
@given(
    item=st.one_of(
        plain,
        plain.flatmap(
            lambda item: st.builds(
                lambda name, value: {**item, name: value},
                st.sampled_from([*item, "removal_reason", "stray"]),
                values,
            )
        ),
        st.dictionaries(st.sampled_from([*ContributionSchema().fields, "stray"]), values),
    )
)
def test_contributions_load_exactly_as_the_wire_schema_loads_them(item):
    """Valid or not, a contribution gets the schema's result or the schema's refusal."""
    assert outcome(wire.load_contribution, item) == outcome(ContributionSchema().load, item)


@settings(max_examples=400, deadline=None)
@given(moment=moments)
def test_iso_texts_are_what_isoformat_renders(moment):
    """The wire text stands in for `isoformat()` only when it is exactly that text."""
    for text in renderings(moment):
        try:
            parsed = datetime.fromisoformat(text)
        except ValueError:
            continue  # a rendering that does not parse never reaches this function
        assert wire.iso_text(text, parsed) == parsed.isoformat()


@settings(max_examples=400, deadline=None)
@given(moment=moments)
def test_sqlite_datetimes_are_stored_as_sqlalchemy_stores_them(moment):
    """The text written straight to SQLite is what the model's column type would write."""
    dialect = sqlite.dialect()
    naive = UTCDateTime().process_bind_param(moment, dialect)
    expected = sqlite.DATETIME().bind_processor(dialect)(naive)
    assert store._stored_text(wire.iso_text(moment.isoformat(), moment), moment) == expected
    assert store._stored_text(None, moment) == expected


@settings(max_examples=300, deadline=None)
@given(item=plain)
def test_a_sender_entry_is_the_json_of_its_summary(item):
    """The merged-view entry written out by hand is byte for byte `json.dumps` of the summary."""
    batch = {"contributions": [item]}
    loaded = _loaded(batch)
    if loaded is None:
        return
    contribution, texts = loaded
    peer = Peer(node_id=item["origin_node"], country=item["origin_country"])
    expected = json.dumps([store.summary_of(contribution, peer.node_id)])
    assert store._SenderEntry(peer).json(contribution, texts) == expected


def _loaded(batch: dict):
    """One contribution and its ISO texts as `wire.load_batch` gives them, or None if invalid."""
    envelope = {
        "wire_version": 1,
        "sender": "bench-sg",
        "batch_id": "a" * 32,
        "created_at": "2026-11-23T00:00:00+00:00",
        "sequence_from": 0,
        "sequence_to": 1,
    }
    try:
        loaded = wire.load_batch({**envelope, **batch})
    except ValidationError:
        return None
    return loaded["contributions"][0], loaded["iso_texts"][0]
