"""`scamshare import`: files of reports in batches, through the command a user types.

Longer than most test modules: each file format, the rejects file and its re-import.
"""

from __future__ import annotations

import csv
import json
from datetime import timedelta

import pytest
from click.testing import CliRunner

from scamshare.cli import main
from scamshare.clock import utcnow
from tests.conftest import make_credential

HEADER = "kind,value,category,channel,observed_at,evidence_ref,verified,note"
YESTERDAY = (utcnow() - timedelta(days=1)).replace(microsecond=0).isoformat()


def csv_line(value: str, kind: str = "phone", category: str = "investment", extra: str = "") -> str:
    """One CSV row of a report observed yesterday."""
    return f"{kind},{value},{category},voice,{YESTERDAY},case-1,{extra}"


def ndjson_line(value: str, **extra) -> str:
    """One NDJSON line of a phone report observed yesterday."""
    item = {
        "kind": "phone",
        "value": value,
        "category": "loan",
        "channel": "sms",
        "observed_at": YESTERDAY,
        "evidence_ref": "case-2",
        **extra,
    }
    return json.dumps(item)


@pytest.fixture
def run(app, database_url, tmp_path, monkeypatch):
    """Run a scamshare command on the test database; return (exit code, output)."""
    monkeypatch.setenv("SCAMSHARE_DATABASE_URL", database_url)
    monkeypatch.setenv("SCAMSHARE_DATA_DIR", str(tmp_path))
    monkeypatch.setenv("SCAMSHARE_COUNTRY", "SG")
    runner = CliRunner()

    def invoke(*args: str):
        """Invoke one command line."""
        result = runner.invoke(main, [str(arg) for arg in args], catch_exceptions=False)
        return result.exit_code, result.output

    return invoke


@pytest.fixture
def singtel(app):
    """An operator organisation that imports its reports."""
    return make_credential(app, "operator", "Singtel")


def indicator_values(client, credential) -> dict[str, int]:
    """Every indicator's value and report count, as the API shows them."""
    response = client.get("/api/v1/indicators", headers=credential.headers)
    assert response.status_code == 200
    return {item["value"]: item["report_count"] for item in response.json["items"]}


def test_a_csv_file_is_imported_in_batches_with_its_rejects_kept(
    run, client, singtel, keys, tmp_path
):
    """Good rows are committed batch by batch; bad rows go to FILE.rejects.csv with reasons."""
    source = tmp_path / "reports.csv"
    source.write_text(
        "\n".join(
            [
                HEADER,
                csv_line("+65 8123 4567"),
                csv_line("not a number"),
                csv_line("8123 4567", extra=',"seen twice,\nsecond line"'),
                csv_line("+65 9876 5432", category="weather"),
                csv_line("9876 5432", extra="no"),
            ]
        )
        + "\n",
        encoding="utf-8",
    )
    code, output = run("import", source, "--org", "Singtel", "--batch-size", "2")
    assert code == 0, output
    assert "lines 2-3: 1 accepted, 1 rejected" in output
    assert "lines 4-6: 1 accepted, 1 rejected" in output
    assert "lines 7-7: 1 accepted, 0 rejected" in output
    assert "reports.csv: 5 rows, 3 reports accepted, 2 rejected (as Singtel)" in output
    assert "rejected by reason: not_a_number 1, not_allowed 1" in output
    assert "\x1b[" not in output  # no terminal: no progress bar escapes

    assert indicator_values(client, keys["regulator"]) == {"+6598765432": 1, "+6581234567": 2}
    rejects_path = tmp_path / "reports.rejects.csv"
    assert f"rejected rows and reasons: {rejects_path}" in output
    with rejects_path.open(encoding="utf-8", newline="") as handle:
        rejects = list(csv.reader(handle))
    assert rejects[0] == [
        "line",
        "index",
        "field",
        "reason",
        "message",
        "errors",
        *HEADER.split(","),
    ]
    assert [row[:4] for row in rejects[1:]] == [
        ["3", "1", "value", "not_a_number"],
        ["6", "3", "category", "not_allowed"],
    ]
    assert [e["reason"] for e in json.loads(rejects[1][5])] == ["not_a_number"]
    assert rejects[1][6:8] == ["phone", "not a number"]
    assert rejects[2][8] == "weather"


def test_a_cr_only_csv_with_unstorable_cells_imports_the_rest(run, client, singtel, keys, tmp_path):
    """Old Mac line ends are lines; a row holding NUL or a deep NDJSON line is rejected alone."""
    source = tmp_path / "mac.csv"
    rows = [HEADER, csv_line("+65 8123 4567"), csv_line("+65 9876 5432", extra=",case\x00"), ""]
    source.write_bytes("\r".join(rows).encode())
    code, output = run("import", source, "--org", "Singtel")
    assert code == 0, output
    assert "mac.csv: 2 rows, 1 reports accepted, 1 rejected" in output
    with (tmp_path / "mac.rejects.csv").open(encoding="utf-8", newline="") as handle:
        rejects = list(csv.reader(handle))
    assert [row[:4] for row in rejects[1:]] == [["3", "1", "note", "nul_character"]]
    feed = tmp_path / "deep.ndjson"
    feed.write_text(ndjson_line("+65 9876 5432") + "\n" + "[" * 50_000 + "]" * 50_000 + "\n")
    code, output = run("import", feed, "--org", "Singtel")
    assert code == 0, output
    assert "deep.ndjson: 2 rows, 1 reports accepted, 1 rejected" in output
    assert indicator_values(client, keys["regulator"]) == {"+6598765432": 1, "+6581234567": 1}


def test_an_ndjson_file_with_blank_and_broken_lines(run, client, singtel, keys, tmp_path):
    """Blank lines are skipped; a broken line is rejected with its line number and text."""
    source = tmp_path / "feed.ndjson"
    lines = [ndjson_line("+65 8123 4567"), "", "{not json", ndjson_line("+65 8123 4567", x=1)]
    source.write_text("\n".join(lines) + "\n", encoding="utf-8")
    rejects_path = tmp_path / "out" / "bad.ndjson"
    rejects_path.parent.mkdir()
    code, output = run(
        "import", source, "--org", str(singtel.organisation_id), "--rejects", rejects_path
    )
    assert code == 0, output
    assert "feed.ndjson: 3 rows, 1 reports accepted, 2 rejected" in output
    rejects = [json.loads(line) for line in rejects_path.read_text().splitlines()]
    not_an_object = {
        "field": "report",
        "reason": "invalid_type",
        "message": "A report is an object.",
    }
    unknown = {"field": "x", "reason": "unknown_field", "message": "Unknown field."}
    assert rejects == [
        {"line": 3, "index": 1, **not_an_object, "errors": [not_an_object], "row": "{not json"},
        {"line": 4, "index": 2, **unknown, "errors": [unknown], "row": json.loads(lines[3])},
    ]
    assert indicator_values(client, keys["operator"]) == {"+6581234567": 1}


def test_atomic_imports_nothing_when_a_row_is_rejected(run, client, singtel, keys, tmp_path):
    """With --atomic one bad row anywhere in the file keeps every batch out."""
    source = tmp_path / "reports.csv"
    rows = [csv_line(f"+65 8123 45{n:02d}") for n in range(5)] + [csv_line("12")]
    source.write_text("\n".join([HEADER, *rows]) + "\n", encoding="utf-8")
    code, output = run("import", source, "--org", "Singtel", "--batch-size", "2", "--atomic")
    assert code == 1
    assert "nothing was imported" in output
    assert indicator_values(client, keys["regulator"]) == {}
    assert (tmp_path / "reports.rejects.csv").read_text().count("\n") == 2

    source.write_text("\n".join([HEADER, *rows[:5]]) + "\n", encoding="utf-8")
    code, output = run("import", source, "--org", "Singtel", "--batch-size", "2", "--atomic")
    assert code == 0, output
    assert "5 rows, 5 reports accepted, 0 rejected" in output
    assert len(indicator_values(client, keys["regulator"])) == 5


def test_verified_rows_need_a_verifying_organisation(run, app, client, singtel, keys, tmp_path):
    """An operator's verified rows are rejected, the rest imported; a regulator's list at once."""
    source = tmp_path / "reports.csv"
    source.write_text(
        "\n".join(
            [HEADER, csv_line("+65 8123 4567", extra="yes"), csv_line("+65 9876 5432", extra="no")]
        )
        + "\n",
        encoding="utf-8",
    )
    code, output = run("import", source, "--org", "Singtel")
    assert code == 0, output
    assert "2 rows, 1 reports accepted, 1 rejected" in output
    assert "not_allowed 1" in output
    assert indicator_values(client, keys["regulator"]) == {"+6598765432": 1}

    make_credential(app, "regulator", "IMDA")
    code, output = run("import", source, "--org", "IMDA")
    assert code == 0, output
    listed = client.get(
        "/api/v1/indicators", query_string={"status": "listed"}, headers=keys["regulator"].headers
    ).json["items"]
    assert [item["value"] for item in listed] == ["+6581234567"]


def test_a_file_and_an_api_upload_of_the_same_csv_get_the_same_verdicts(
    run, client, singtel, tmp_path
):
    """The command and POST /api/v1/reports read a CSV row the same way."""
    body = "\n".join(
        [
            HEADER,
            csv_line("+65 8123 4567", extra="maybe"),
            csv_line("+65 8123 4568", extra=",a note,extra-cell"),
            csv_line("+65 8123 4569", extra="n"),
            csv_line(""),
        ]
    )
    response = client.post(
        "/api/v1/reports",
        data=body.encode(),
        headers={**singtel.headers, "Content-Type": "text/csv"},
    )
    via_api = [(r["index"], r["field"], r["reason"]) for r in response.json["rejected"]]
    source = tmp_path / "same.csv"
    source.write_text(body, encoding="utf-8")
    code, output = run("import", source, "--org", "Singtel")
    assert code == 0, output
    with (tmp_path / "same.rejects.csv").open(newline="") as handle:
        via_file = [(int(r[1]), r[2], r[3]) for r in list(csv.reader(handle))[1:]]
    assert via_file == via_api
    assert len(via_api) == 3


def test_imports_are_audited_with_the_account_and_the_organisation(
    run, client, singtel, keys, tmp_path
):
    """The command leaves one import entry by the local account; each batch a submit entry."""
    source = tmp_path / "reports.csv"
    source.write_text("\n".join([HEADER, csv_line("+65 8123 4567")]) + "\n")
    code, output = run("import", source, "--org", "Singtel")
    assert code == 0, output
    audit = client.get("/api/v1/audit", headers=keys["regulator"].headers).json["items"]
    imported = next(item for item in audit if item["action"] == "reports.import")
    assert imported["organisation"].startswith("cli:")
    assert imported["details"] == {
        "file": "reports.csv",
        "format": "csv",
        "atomic": False,
        "rows": 1,
        "accepted": 1,
        "rejected": 0,
    }
    submitted = next(item for item in audit if item["action"] == "reports.submit")
    assert submitted["organisation"] == "Singtel"


def test_the_progress_bar_shows_on_a_terminal(run, singtel, tmp_path, monkeypatch):
    """On a terminal a progress bar replaces the per-batch lines."""
    monkeypatch.setenv("FORCE_COLOR", "1")
    monkeypatch.setenv("TERM", "xterm")
    source = tmp_path / "reports.csv"
    source.write_text("\n".join([HEADER, csv_line("+65 8123 4567")]) + "\n")
    code, output = run("import", source, "--org", "Singtel")
    assert code == 0, output
    assert "importing" in output and "2/2" in output
    assert "lines 2-2" not in output
    assert "1 rows, 1 reports accepted, 0 rejected" in output


@pytest.mark.parametrize(
    ("name", "content", "org", "message"),
    [
        ("a.csv", HEADER + "\n", "Nobody", "No organisation 'Nobody'"),
        ("a.csv", HEADER + "\n", "Test admin", "may not do this (reports.submit)"),
        ("a.txt", HEADER + "\n", "Singtel", "Cannot tell the format of a.txt"),
        ("a.csv", "value,category\n1,2\n", "Singtel", "needs a header row"),
        ("a.csv", (HEADER + "\nphone,\xff\n").encode("latin-1"), "Singtel", "Line 2 is not UTF-8"),
    ],
)
def test_unusable_files_and_organisations_fail_with_a_clear_message(
    run, keys, singtel, tmp_path, name, content, org, message
):
    """Each problem is one line of explanation and exit code 1, never a traceback."""
    source = tmp_path / name
    if isinstance(content, bytes):
        source.write_bytes(content)
    else:
        source.write_text(content)
    code, output = run("import", source, "--org", org)
    assert code == 1
    assert message in output
    assert "Traceback" not in output


# The numbers of the fix-and-feed-back tests, each reported once when all went in.
ALL_THREE_NUMBERS = {"+6581234567": 1, "+6598765432": 1, "+6591234567": 1}


def read_csv(path) -> list[list[str]]:
    """Every record of a CSV file."""
    with path.open(encoding="utf-8", newline="") as handle:
        return list(csv.reader(handle))


def write_csv(path, records: list[list[str]]) -> None:
    """Write records as a spreadsheet program saves them."""
    with path.open("w", encoding="utf-8", newline="") as handle:
        csv.writer(handle).writerows(records)


def test_a_fixed_csv_rejects_file_is_imported_as_it_is(run, client, singtel, keys, tmp_path):
    """The rejects file lists every problem of a row; fixed, it goes back through `import`."""
    source = tmp_path / "reports.csv"
    rows = [
        HEADER + ",colour",
        csv_line("+65 8123 4567", extra=",,"),
        "phone,+65 9876 5432,investment,voice,,,,,red",
        csv_line("+65 9123 4567", category="weather", extra="maybe,,"),
    ]
    source.write_text("\n".join(rows) + "\n", encoding="utf-8")
    code, output = run("import", source, "--org", "Singtel")
    assert code == 0, output
    assert "3 rows, 1 reports accepted, 2 rejected" in output
    # Each row counts once under each of its reasons.
    assert (
        "rejected by reason: invalid_type 1, not_allowed 1, required 1, unknown_field 1" in output
    )
    rejects_path = tmp_path / "reports.rejects.csv"
    rejects = read_csv(rejects_path)
    assert rejects[0][:6] == ["line", "index", "field", "reason", "message", "errors"]
    assert rejects[0][6:] == (HEADER + ",colour").split(",")
    listed = [[(e["field"], e["reason"]) for e in json.loads(row[5])] for row in rejects[1:]]
    assert listed == [
        [("observed_at", "required"), ("evidence_ref", "required"), ("colour", "unknown_field")],
        [("category", "not_allowed"), ("verified", "invalid_type")],
    ]
    assert [tuple(row[2:4]) for row in rejects[1:]] == [listed[0][0], listed[1][0]]

    # Fix the report cells only; the diagnostics stay as they were written.
    columns = rejects[0]
    fixed = [rejects[0]]
    for row in rejects[1:]:
        cells = dict(zip(columns[6:], row[6:], strict=True))
        cells.update(observed_at=YESTERDAY, evidence_ref="case-7", colour="", category="loan")
        cells["verified"] = "no"
        fixed.append(row[:6] + [cells[name] for name in columns[6:]])
    write_csv(rejects_path, fixed)
    code, output = run("import", rejects_path, "--org", "Singtel")
    assert code == 0, output
    assert "reports.rejects.csv: 2 rows, 2 reports accepted, 0 rejected" in output
    assert indicator_values(client, keys["regulator"]) == ALL_THREE_NUMBERS


def test_a_rejects_file_fed_back_unfixed_gets_fresh_diagnostics(run, singtel, tmp_path):
    """Rows still wrong are rejected again under new diagnostics, never doubled columns."""
    source = tmp_path / "reports.csv"
    source.write_text("\n".join([HEADER, csv_line("12"), csv_line("+65 8123 4567")]) + "\n")
    code, output = run("import", source, "--org", "Singtel")
    assert code == 0, output
    first = read_csv(tmp_path / "reports.rejects.csv")
    code, output = run("import", tmp_path / "reports.rejects.csv", "--org", "Singtel")
    assert code == 0, output
    assert "1 rows, 0 reports accepted, 1 rejected" in output
    again = read_csv(tmp_path / "reports.rejects.rejects.csv")
    assert again[0] == first[0]
    assert again[1][0] == "2" and again[1][1:] == first[1][1:]


def test_a_fixed_ndjson_rejects_file_is_imported_as_it_is(run, client, singtel, keys, tmp_path):
    """NDJSON rejects keep the report object under `row`: fix it there and import the file."""
    source = tmp_path / "feed.ndjson"
    broken = json.loads(ndjson_line("+65 9876 5432", colour="red"))
    del broken["observed_at"], broken["evidence_ref"]
    lines = [ndjson_line("+65 8123 4567"), json.dumps(broken), '{"kind": "phone"']
    source.write_text("\n".join(lines) + "\n", encoding="utf-8")
    code, output = run("import", source, "--org", "Singtel")
    assert code == 0, output
    assert "3 rows, 1 reports accepted, 2 rejected" in output
    rejects_path = tmp_path / "feed.rejects.ndjson"
    rejects = [json.loads(line) for line in rejects_path.read_text().splitlines()]
    assert [(e["field"], e["reason"]) for e in rejects[0]["errors"]] == [
        ("observed_at", "required"),
        ("evidence_ref", "required"),
        ("colour", "unknown_field"),
    ]
    assert rejects[0]["field"] == "observed_at" and rejects[0]["row"] == broken
    assert rejects[1]["row"] == '{"kind": "phone"'

    fixed_object = {**broken, "observed_at": YESTERDAY, "evidence_ref": "case-8"}
    del fixed_object["colour"]
    rejects[0]["row"] = fixed_object
    rejects[1]["row"] = ndjson_line("+65 9123 4567")  # the broken line, mended as text
    rejects_path.write_text("\n".join(json.dumps(r) for r in rejects) + "\n", encoding="utf-8")
    code, output = run("import", rejects_path, "--org", "Singtel")
    assert code == 0, output
    assert "feed.rejects.ndjson: 2 rows, 2 reports accepted, 0 rejected" in output
    assert indicator_values(client, keys["regulator"]) == ALL_THREE_NUMBERS


def test_a_second_import_keeps_the_first_rejects_file_and_says_where_it_wrote(
    run, singtel, tmp_path
):
    """An existing rejects file is never overwritten: the next free name is used, and named."""
    source = tmp_path / "reports.csv"
    source.write_text("\n".join([HEADER, csv_line("12")]) + "\n")
    code, output = run("import", source, "--org", "Singtel")
    assert code == 0, output
    first_path = tmp_path / "reports.rejects.csv"
    first = first_path.read_bytes()

    source.write_text("\n".join([HEADER, csv_line("not a number")]) + "\n")
    code, output = run("import", source, "--org", "Singtel")
    assert code == 0, output
    second_path = tmp_path / "reports.rejects-2.csv"
    assert f"rejected rows and reasons: {second_path}" in output
    assert f"{first_path} already existed and was left as it was" in output
    assert first_path.read_bytes() == first
    assert read_csv(second_path)[1][3] == "not_a_number"

    chosen = tmp_path / "mine.csv"
    chosen.write_text("keep me\n")
    code, output = run("import", source, "--org", "Singtel", "--rejects", chosen)
    assert code == 0, output
    assert chosen.read_text() == "keep me\n"
    assert f"rejected rows and reasons: {tmp_path / 'mine-2.csv'}" in output


def test_a_verified_row_from_an_operator_lists_its_other_problems_too(run, singtel, tmp_path):
    """The verified refusal of a file's row is one of its problems, not the only one."""
    source = tmp_path / "reports.csv"
    source.write_text("\n".join([HEADER, csv_line("12", extra="yes")]) + "\n")
    code, output = run("import", source, "--org", "Singtel")
    assert code == 0, output
    [row] = read_csv(tmp_path / "reports.rejects.csv")[1:]
    assert [(e["field"], e["reason"]) for e in json.loads(row[5])] == [
        ("value", "too_short"),
        ("verified", "not_allowed"),
    ]


def test_a_row_with_unstorable_text_lists_its_other_problems_too(
    run, client, singtel, keys, tmp_path
):
    """A NUL in one cell does not hide the row's other problems, nor stand twice for its field."""
    source = tmp_path / "reports.csv"
    rows = [
        HEADER,
        f"phone,+65 8123 4567,weather,voice,{YESTERDAY},,,a\x00note",
        f"phone,+65 9876 5432,loan,voice,{YESTERDAY},case\x00,,",
        f"phone,+65 9123 4567,loan,voice,{YESTERDAY},case-3,,a\x00note",
    ]
    source.write_text("\n".join(rows) + "\n", encoding="utf-8")
    code, output = run("import", source, "--org", "Singtel")
    assert code == 0, output
    assert "3 rows, 0 reports accepted, 3 rejected" in output
    listed = [
        [(e["field"], e["reason"]) for e in json.loads(row[5])]
        for row in read_csv(tmp_path / "reports.rejects.csv")[1:]
    ]
    assert listed == [
        [("category", "not_allowed"), ("evidence_ref", "required"), ("note", "nul_character")],
        [("evidence_ref", "nul_character")],
        [("note", "nul_character")],
    ]
    assert indicator_values(client, keys["regulator"]) == {}
