"""The receiver's shortcuts agree with the slow, obvious code on every input."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone

from hypothesis import given, settings
from hypothesis import strategies as st
from marshmallow import ValidationError

from scamshare.federation import wire
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
