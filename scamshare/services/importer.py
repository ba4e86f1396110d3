"""Importing a file of reports: read rows, submit them in batches, keep the rejects with reasons.

The rows go through `services.reports.submit`, exactly as an API submission does; the caller
(the `scamshare import` command) runs each batch in its own transaction and commits it.
"""

from __future__ import annotations

import csv
import json
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import datetime
from itertools import islice
from pathlib import Path
from typing import Any, BinaryIO, TextIO

from sqlalchemy.orm import Session

from scamshare import ingest_formats, text
from scamshare import policy as rules
from scamshare.auth import Caller, check_role
from scamshare.errors import Invalid
from scamshare.models import Organisation
from scamshare.services import report_checks, reports

FORMATS = ("csv", "ndjson")
EXTENSIONS = {".csv": "csv", ".ndjson": "ndjson", ".jsonl": "ndjson"}
# What a rejects file adds to each rejected row: where it was and why it was refused. `field`,
# `reason` and `message` are its first problem, `errors` all of them (a JSON list in CSV).
REJECT_COLUMNS = ("line", "index", "field", "reason", "message", "errors")


@dataclass
class Row:
    """One row of the file: where it was, what it said, and the report object it makes."""

    index: int  # 0-based position among the file's reports
    line: int  # 1-based line on which the row starts
    original: Any  # CSV cells in header order (extras after); the NDJSON object, or the text
    item: Any  # None when nothing of the row could be read
    # Text the node cannot store: the row is rejected, with what checking the rest finds.
    problems: list[dict] = field(default_factory=list)


@dataclass
class BatchOutcome:
    """What became of one batch."""

    accepted: int = 0
    rejected: list[tuple[Row, dict]] = field(default_factory=list)


def file_format(path: Path, given: str | None) -> str:
    """Return the file's format: the one given, or the one its extension names."""
    if given:
        return given
    found = EXTENSIONS.get(path.suffix.lower())
    if found is None:
        raise Invalid(
            f"Cannot tell the format of {path.name} from its extension; name it .csv or .ndjson, "
            "or pass --format.",
            code="unknown_format",
        )
    return found


def default_rejects_path(path: Path, file_format: str) -> Path:
    """Where the rejected rows go unless told otherwise: beside the file, as FILE.rejects.EXT."""
    return path.with_name(f"{path.stem}.rejects.{file_format}")


def count_lines(path: Path) -> int:
    """Count the file's lines cheaply, to size the progress bar."""
    lines, last = 0, b"\n"
    with path.open("rb") as handle:
        while chunk := handle.read(1 << 20):
            lines += chunk.count(b"\n")
            last = chunk[-1:]
    return lines + (last != b"\n")


def diagnostic_columns(header: list[str]) -> int:
    """How many leading columns of a CSV header are an earlier import's diagnostics.

    A rejects file starts with `line,index`, which no report has: fixed and fed back to
    `import`, its diagnostic columns are left out and its report columns read as usual.
    """
    if header[:2] != list(REJECT_COLUMNS[:2]):
        return 0
    count = 0
    while count < len(header) and header[count] in REJECT_COLUMNS:
        count += 1
    return count


def _rejects_entry(item: Any) -> bool:
    """Tell whether an NDJSON object is a line of a rejects file (diagnostics and a `row`)."""
    return (
        isinstance(item, dict)
        and "row" in item
        and {"line", "index"} <= item.keys()
        and item.keys() <= {*REJECT_COLUMNS, "row"}
    )


class RowReader:
    """Read a CSV or NDJSON file row by row, remembering the line it has reached.

    A rejects file of an earlier import reads as the rows it holds: its diagnostics are ignored.
    """

    def __init__(self, handle: BinaryIO, file_format: str):
        """Wrap a file opened in binary mode; lines are decoded one by one as UTF-8."""
        self.format = file_format
        self.line = 0  # the last line consumed
        self.header: list[str] = []
        self._lines = self._decoded(handle)
        self._csv: ingest_formats.CsvReader | None = None
        if file_format == "csv":
            self._csv = ingest_formats.CsvReader(self._lines)
            self._csv.drop_leading_columns(diagnostic_columns(self._csv.header))
            self.header = self._csv.header

    def _decoded(self, handle: BinaryIO) -> Iterator[str]:
        """Yield the file's lines as text (ended by CRLF, LF or CR), naming any not UTF-8."""
        for number, raw in enumerate(handle):
            try:
                # The byte-order mark some spreadsheet programs write is not part of the data.
                decoded = raw.decode("utf-8" if number else "utf-8-sig")
            except UnicodeDecodeError as error:
                raise Invalid(
                    f"Line {self.line + 1} is not UTF-8 (byte {error.start + 1} of the line).",
                    code="not_utf8",
                ) from None
            for line in ingest_formats.lines(decoded):
                self.line += 1
                yield line

    def __iter__(self) -> Iterator[Row]:
        """Yield the rows, skipping blank lines as the API does."""
        index = 0
        if self._csv is not None:
            fields = self.header
            rows = iter(self._csv)
            while True:
                start = self.line + 1
                row = next(rows, None)
                if row is None:
                    return
                cells = [row.get(name) or "" for name in fields] + list(row.get(None) or [])
                refused: list[text.Refused] = []
                item = ingest_formats.csv_item(row, index, refused)
                yield Row(index, start, cells, item, [_refusal(r) for r in refused])
                index += 1
        else:
            for line_text in self._lines:
                if not line_text.strip():
                    continue
                yield _ndjson_row(index, self.line, line_text.rstrip("\r\n"))
                index += 1


def _ndjson_row(index: int, line: int, line_text: str) -> Row:
    """One NDJSON line as a row; a rejects file's line is the row it holds."""
    try:
        item = ingest_formats.ndjson_item(line_text, index)
    except text.Refused as refused:
        return Row(index, line, line_text, None, [_refusal(refused)])
    if _rejects_entry(item):
        held = item["row"]
        if not isinstance(held, str):
            return Row(index, line, held, held)
        line_text = held  # a line that was not a JSON object is kept as its text
        try:
            item = ingest_formats.ndjson_item(held, index)
        except text.Refused as refused:
            return Row(index, line, held, None, [_refusal(refused)])
    # An object is kept as such, so that a rejects file is fixed by editing the report itself.
    return Row(index, line, item if isinstance(item, dict) else line_text, item)


def _refusal(refused: text.Refused) -> dict:
    """The problem of a row holding text the node cannot take."""
    return {"field": refused.field, "reason": refused.reason, "message": refused.message}


def batches(rows: Iterator[Row], size: int) -> Iterator[list[Row]]:
    """Group rows into lists of at most `size`."""
    iterator = iter(rows)
    while batch := list(islice(iterator, size)):
        yield batch


def caller_for(organisation: Organisation) -> Caller:
    """The caller an import submits as: the organisation itself, with no API key."""
    caller = Caller(
        organisation.id, organisation.name, organisation.role, organisation.country, None
    )
    check_role(caller, "reports.submit")
    return caller


def import_batch(
    session: Session,
    rows: list[Row],
    caller: Caller,
    *,
    policy: rules.Policy,
    now: datetime,
    atomic: bool,
) -> BatchOutcome:
    """Submit one batch; each row is accepted or rejected with its reason.

    Atomic: a batch with any rejected row stores nothing (its rejects are still returned).
    """
    outcome = BatchOutcome()
    outcome.rejected = [
        (row, _unstorable(row, caller, policy, now)) for row in rows if row.problems
    ]
    pending = [row for row in rows if not row.problems]
    if pending:
        try:
            result = reports.submit(
                session,
                [row.item for row in pending],
                caller,
                policy=policy,
                now=now,
                atomic=atomic,
                # The API refuses a whole request for one such report; a file gets its row
                # rejected, with the row's other problems.
                unverifiable="reject",
            )
        except reports.BatchRejected as error:
            rejected = error.rejected
        else:
            outcome.accepted = len(result.accepted)
            rejected = result.rejected
        outcome.rejected += [(pending[entry["index"]], entry) for entry in rejected]
    outcome.rejected.sort(key=lambda pair: pair[0].index)
    return outcome


def _unstorable(row: Row, caller: Caller, policy: rules.Policy, now: datetime) -> dict:
    """The rejection of a row with text the node cannot store, and the rest of its problems.

    The rest of the row is checked as any report is (nothing is stored); a field whose cell was
    refused is named once, for its text, not again as missing.
    """
    problems = list(row.problems)
    if row.item is not None:
        _, rejected = report_checks.validate([row.item], caller, policy, now, unverifiable="reject")
        refused = {problem["field"] for problem in problems}
        for entry in rejected:
            problems += [e for e in entry["errors"] if e["field"] not in refused]
    return report_checks.rejection(row.index, report_checks.in_field_order(problems, row.item))


class RejectsWriter:
    """Write rejected rows with their line, index and problems, then the row as it was read."""

    def __init__(self, handle: TextIO, file_format: str, header: list[str]):
        """Start a rejects file of the same format as the input."""
        self.handle = handle
        self.format = file_format
        self.count = 0
        if file_format == "csv":
            self._csv = csv.writer(handle, lineterminator="\n")
            self._csv.writerow([*REJECT_COLUMNS, *header])

    def write(self, row: Row, rejected: dict) -> None:
        """Write one rejected row."""
        problems = [_problem(error) for error in rejected["errors"]]
        first = problems[0]
        if self.format == "csv":
            listed = json.dumps(problems, ensure_ascii=False)
            reason = [row.line, row.index, first["field"], first["reason"], first["message"]]
            self._csv.writerow([*reason, listed, *row.original])
        else:
            entry = {"line": row.line, "index": row.index, **first, "errors": problems}
            entry["row"] = row.original
            self.handle.write(json.dumps(entry, ensure_ascii=False) + "\n")
        self.count += 1


def _problem(error: dict) -> dict:
    """The field, reason and message of one problem."""
    return {"field": error["field"], "reason": error["reason"], "message": error["message"]}


class Tally:
    """The running result of an import: counts, reasons, and the rejects file, opened on need.

    An existing file is never overwritten: the rejects go to the first free name
    `NAME-2.EXT`, `NAME-3.EXT`, ... and `kept` names the file that was left alone.
    """

    def __init__(self, rejects_path: Path, file_format: str, header: list[str]):
        """Count nothing yet; the rejects file is created only when a row is rejected."""
        self.rejects_path = rejects_path
        self.kept: Path | None = None  # an earlier file at the asked-for path, left as it was
        self.format = file_format
        self.header = header
        self.rows = self.accepted = self.rejected = 0
        self.reasons: dict[str, int] = {}
        self._handle: TextIO | None = None
        self._writer: RejectsWriter | None = None

    def add(self, batch: list[Row], outcome: BatchOutcome) -> None:
        """Count one batch and write its rejected rows."""
        self.rows += len(batch)
        self.accepted += outcome.accepted
        self.rejected += len(outcome.rejected)
        if outcome.rejected and self._writer is None:
            self._handle = self._create()
            self._writer = RejectsWriter(self._handle, self.format, self.header)
        for row, rejected in outcome.rejected:
            self._writer.write(row, rejected)
            # A row counts once under each reason it was refused for.
            for reason in dict.fromkeys(error["reason"] for error in rejected["errors"]):
                self.reasons[reason] = self.reasons.get(reason, 0) + 1

    def _create(self) -> TextIO:
        """Create the rejects file under the first name no file has yet."""
        asked = path = self.rejects_path
        number = 1
        while True:
            try:
                handle = path.open("x", encoding="utf-8", newline="")
            except FileExistsError:
                number += 1
                path = asked.with_name(f"{asked.stem}-{number}{asked.suffix}")
                continue
            if path != asked:
                self.kept, self.rejects_path = asked, path
            return handle

    def counts(self) -> dict[str, int]:
        """The counts so far."""
        return {"rows": self.rows, "accepted": self.accepted, "rejected": self.rejected}

    def close(self) -> None:
        """Close the rejects file, if one was opened."""
        if self._handle is not None:
            self._handle.close()
