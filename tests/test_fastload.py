"""The fast loader agrees with marshmallow on every input: same result or same refusal."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from marshmallow import Schema, ValidationError, fields, validate

from scamshare.fastload import compile_loader
from schemas.federation import BatchSchema, ContributionSchema
from schemas.reports import CATEGORIES, KINDS, ReportSchema
from tests.strategies import field_values

datetimes = st.sampled_from(
    [
        "2026-11-20T10:00:00+00:00",
        "2026-11-20T10:00:00Z",
        "2026-11-20T10:00:00.123456+07:00",
        "2026-11-20T10:00:00",
        "2026-11-20",
        "20261120T100000+0700",
        "2026-13-40T10:00:00+00:00",
        "yesterday",
    ]
)
values = field_values(
    [*KINDS, *CATEGORIES, "voice", "sms", "SG", "listed", "removed", "high"],
    datetimes,
    ["investment", "x" * 40, 3],
)


def objects(schema: Schema):
    """Dicts over the schema's field names (and a stray one), with values of every type."""
    names = [*schema.fields, "stray"]
    return st.dictionaries(st.sampled_from(names), values, max_size=len(names))


def outcome(load, data):
    """The loaded value, or the refusal's messages and the fields that did load.

    Submissions report every problem of a report, and check the loaded fields further, so a
    refusal must carry all of marshmallow's messages and its valid data.
    """
    try:
        return "ok", load(data)
    except ValidationError as error:
        return "error", error.messages, error.valid_data


@pytest.mark.parametrize("schema", [ReportSchema(), ContributionSchema()])
@settings(max_examples=300, deadline=None)
@given(data=st.data())
def test_fast_loader_agrees_with_marshmallow(schema, data):
    """On random objects, the fast loader and marshmallow give the same answer."""
    fast = compile_loader(schema)
    assert fast is not schema.load
    item = data.draw(objects(schema))
    assert outcome(fast, item) == outcome(schema.load, item)


def test_valid_input_takes_the_fast_path_and_loads_like_marshmallow():
    """A plain valid report is loaded without marshmallow, to the same result."""
    schema = ReportSchema()
    item = {
        "kind": "phone",
        "value": "+6581234567",
        "category": "investment",
        "channel": "voice",
        "observed_at": "2026-11-20T10:00:00+07:00",
        "evidence_ref": "case-1",
    }
    calls = []
    original = schema.load
    schema.load = lambda data: calls.append(data) or original(data)
    fast = compile_loader(schema)
    assert fast(item) == original(item)
    assert calls == []
    with pytest.raises(ValidationError):
        fast({**item, "kind": "fax"})
    assert len(calls) == 1


def test_schemas_it_cannot_follow_fall_back_to_marshmallow():
    """Unsupported fields, validators and nested schemas get plain marshmallow."""

    class Odd(Schema):
        """A schema with a validator the fast path does not know."""

        name = fields.String(validate=validate.Regexp("^a"))

    odd = Odd()
    assert compile_loader(odd) == odd.load
    batch = BatchSchema()
    assert compile_loader(batch) == batch.load
