"""A refused report names every one of its problems at once, in every submission format."""

from __future__ import annotations

import json

import pytest
from sqlalchemy import func, select

from scamshare import db
from scamshare.models import Report
from tests.reporting import report

REQUIRED = "Missing data for required field."
UNKNOWN = "Unknown field."


def three_problems() -> dict:
    """The issue's example: no observed_at, no evidence_ref, and a field the node does not know."""
    item = report()
    del item["observed_at"], item["evidence_ref"]
    item["colour"] = "red"
    return item


THREE = [
    {"field": "observed_at", "reason": "required", "message": REQUIRED},
    {"field": "evidence_ref", "reason": "required", "message": REQUIRED},
    {"field": "colour", "reason": "unknown_field", "message": UNKNOWN},
]


def problems(rejected: dict) -> list[tuple[str, str]]:
    """The (field, reason) of each problem of one rejected item."""
    return [(e["field"], e["reason"]) for e in rejected["errors"]]


def stored_reports(app) -> int:
    """How many reports the node holds."""
    with db.transaction(app) as session:
        return session.scalar(select(func.count()).select_from(Report))


def post(client, credential, data, content_type, **query):
    """POST a body of reports in the given media type."""
    return client.post(
        "/api/v1/reports",
        data=data,
        content_type=content_type,
        headers=credential.headers,
        query_string=query,
    )


def test_a_rejected_report_lists_all_its_problems_with_the_first_kept_on_top(app, client, keys):
    """rejected[i].errors holds every problem; field, reason and message are its first."""
    body = {"reports": [report(), three_problems()]}
    response = client.post("/api/v1/reports", json=body, headers=keys["operator"].headers)
    assert response.status_code == 200, response.json
    assert response.json["accepted"] == 1 and response.json["rejected_count"] == 1
    [rejected] = response.json["rejected"]
    assert rejected == {
        "index": 1,
        "field": "observed_at",
        "reason": "required",
        "message": REQUIRED,
        "errors": THREE,
    }
    assert stored_reports(app) == 1


def test_checks_on_loaded_values_run_beside_the_schema_errors(client, keys):
    """A value too short to be a number, a time in the future and a bad category come together."""
    item = report("12", days_ago=-2, category="weather")
    item["spoofed"] = True
    response = client.post(
        "/api/v1/reports", json={"reports": [item, report()]}, headers=keys["operator"].headers
    )
    assert response.status_code == 200, response.json
    [rejected] = response.json["rejected"]
    # In the order of the report's fields, unknown fields last.
    assert problems(rejected) == [
        ("value", "too_short"),
        ("category", "not_allowed"),
        ("observed_at", "in_future"),
        ("spoofed", "unknown_field"),
    ]
    assert all(e["message"] for e in rejected["errors"])


def test_a_bad_region_is_named_and_the_value_is_not_read_with_it(client, keys):
    """A region that is refused is one problem, not a second one about the number."""
    item = report("8123 4567", region="SGP")
    del item["channel"]
    response = client.post(
        "/api/v1/reports", json={"reports": [item, report()]}, headers=keys["operator"].headers
    )
    [rejected] = response.json["rejected"]
    assert problems(rejected) == [("channel", "required"), ("region", "invalid_length")]
    unknown_region = report("8123 4567", region="XX", category="weather")
    response = client.post(
        "/api/v1/reports",
        json={"reports": [unknown_region, report()]},
        headers=keys["operator"].headers,
    )
    [rejected] = response.json["rejected"]
    assert problems(rejected) == [("category", "not_allowed"), ("region", "unknown_region")]


def test_ndjson_lines_list_every_problem(client, keys):
    """An NDJSON line is rejected with the same problems as the JSON object it holds."""
    lines = [json.dumps(report()), json.dumps(three_problems()), "[1, 2]"]
    response = post(client, keys["operator"], "\n".join(lines) + "\n", "application/x-ndjson")
    assert response.status_code == 200, response.json
    rejected = response.json["rejected"]
    assert [r["index"] for r in rejected] == [1, 2]
    assert rejected[0]["errors"] == THREE
    assert problems(rejected[1]) == [("report", "invalid_type")]


def test_csv_rows_list_every_problem(client, keys):
    """Empty cells are absent fields, and a filled cell of an unknown column is its own problem."""
    good = report()
    header = "kind,value,category,channel,observed_at,evidence_ref,colour"
    rows = [
        f"phone,+65 8123 4567,investment,voice,{good['observed_at']},case-1,",
        "phone,+65 8123 4568,investment,voice,,,red",
        f"fax,12,investment,radio,{good['observed_at']},case-3,",
    ]
    response = post(client, keys["regulator"], "\n".join([header, *rows]) + "\n", "text/csv")
    assert response.status_code == 200, response.json
    assert response.json["accepted"] == 1
    first, second = response.json["rejected"]
    assert (first["index"], first["errors"]) == (1, THREE)
    assert second["index"] == 2
    assert problems(second) == [("kind", "not_allowed"), ("channel", "not_allowed")]


def test_a_single_report_with_several_problems_is_one_422_naming_them_all(app, client, keys):
    """A lone report is atomic: the problem's errors hold each of its problems with index 0."""
    response = client.post(
        "/api/v1/reports", json=three_problems(), headers=keys["operator"].headers
    )
    assert response.status_code == 422
    assert response.json["code"] == "batch_rejected"
    assert response.json["errors"] == [{"index": 0, **problem} for problem in THREE]
    for name in ("observed_at", "evidence_ref", "colour"):
        assert name in response.json["detail"]
    assert stored_reports(app) == 0


def test_an_atomic_batch_lists_every_problem_of_every_bad_report(app, client, keys):
    """atomic=true: one flat list of problems, each with the index of its report."""
    body = {"reports": [report(), three_problems(), report("12", category="weather")]}
    response = client.post(
        "/api/v1/reports",
        json=body,
        headers=keys["operator"].headers,
        query_string={"atomic": "true"},
    )
    assert response.status_code == 422
    assert [(e["index"], e["field"], e["reason"]) for e in response.json["errors"]] == [
        (1, "observed_at", "required"),
        (1, "evidence_ref", "required"),
        (1, "colour", "unknown_field"),
        (2, "value", "too_short"),
        (2, "category", "not_allowed"),
    ]
    assert "2 of 3 reports are invalid" in response.json["detail"]
    assert stored_reports(app) == 0


@pytest.mark.parametrize("atomic", ["false", "true"])
def test_asking_to_verify_without_the_role_is_403_even_with_other_problems(
    app, client, keys, atomic
):
    """A role that may not verify is refused for the request, whatever else is wrong."""
    item = three_problems()
    item["verified"] = True
    response = client.post(
        "/api/v1/reports",
        json={"reports": [report(), item]},
        headers=keys["operator"].headers,
        query_string={"atomic": atomic},
    )
    assert response.status_code == 403
    assert response.json["code"] == "verified_not_allowed"
    assert response.json["errors"][0]["index"] == 1
    assert stored_reports(app) == 0
