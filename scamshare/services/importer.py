"""Importing a file of reports: read rows, submit them in batches, keep the rejects with reasons.

The rows go through `services.reports.submit`, exactly as an API submission does; the caller
(the `scamshare import` command) runs each batch in its own transaction and commits it.
"""

from __future__ import annotations

import csv
import json
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import datetime
from itertools import islice
from pathlib import Path
from typing import Any, BinaryIO, TextIO

from marshmallow import ValidationError
from sqlalchemy.orm import Session

from scamshare import ingest_formats, text
from scamshare import policy as rules
from scamshare.auth import Caller, check_role
from scamshare.errors import Invalid
from scamshare.models import Organisation
from scamshare.services import report_checks, reports
from schemas.reports import ReportSchema

FORMATS = ("csv", "ndjson")
EXTENSIONS = {".csv": "csv", ".ndjson": "ndjson", ".jsonl": "ndjson"}
REJECT_COLUMNS = ("line", "index", "field", "reason", "message")
_verified_field = ReportSchema().fields["verified"]


@dataclass
class Row:
    """One row of the file: where it was, what it said, and the report object it makes."""

    index: int  # 0-based position among the file's reports
    line: int  # 1-based line on which the row starts
    original: Any  # CSV cells in header order (extras after), or the NDJSON line's text
    item: Any
    problem: dict | None = None  # why the row is rejected before validation, if it is


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


class RowReader:
    """Read a CSV or NDJSON file row by row, remembering the line it has reached."""

    def __init__(self, handle: BinaryIO, file_format: str):
        """Wrap a file opened in binary mode; lines are decoded one by one as UTF-8."""
        self.format = file_format
        self.line = 0  # the last line consumed
        self.header: list[str] = []
        self._lines = self._decoded(handle)
        self._csv: ingest_formats.CsvReader | None = None
        if file_format == "csv":
            self._csv = ingest_formats.CsvReader(self._lines)
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
                yield _row(index, start, cells, ingest_formats.csv_item, row)
                index += 1
        else:
            for line_text in self._lines:
                if not line_text.strip():
                    continue
                line = line_text.rstrip("\r\n")
                yield _row(index, self.line, line, ingest_formats.ndjson_item, line)
                index += 1


def _row(index: int, line: int, original: Any, read: Callable, source: Any) -> Row:
    """A row read into its report object, or rejected for text the node cannot take."""
    try:
        return Row(index, line, original, read(source, index))
    except text.Refused as refused:
        problem = {"field": refused.field, "reason": refused.reason, "message": refused.message}
        return Row(index, line, original, None, problem)


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


def _claims_verified(item: Any) -> bool:
    """Tell whether a report object asks to be verified, read as the schema reads it."""
    if not isinstance(item, dict) or "verified" not in item:
        return False
    try:
        return bool(_verified_field.deserialize(item["verified"]))
    except ValidationError:
        return False


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
    outcome.rejected = [(row, row.problem) for row in rows if row.problem is not None]
    pending = [row for row in rows if row.problem is None]
    if caller.role not in report_checks.VERIFYING_ROLES:
        # The API refuses a whole request for one such report; a file gets those rows rejected.
        message = f"verified needs a regulator or law-enforcement organisation, not {caller.role}"
        refused = {row.index for row in pending if _claims_verified(row.item)}
        outcome.rejected += [
            (row, {"field": "verified", "reason": "not_allowed", "message": message})
            for row in pending
            if row.index in refused
        ]
        pending = [row for row in pending if row.index not in refused]
    if pending:
        try:
            result = reports.submit(
                session,
                [row.item for row in pending],
                caller,
                policy=policy,
                now=now,
                atomic=atomic,
            )
        except Invalid as error:
            if error.code != "batch_rejected":
                raise
            outcome.rejected += [(pending[entry["index"]], entry) for entry in error.errors]
        else:
            outcome.accepted = len(result.accepted)
            outcome.rejected += [(pending[entry["index"]], entry) for entry in result.rejected]
    outcome.rejected.sort(key=lambda pair: pair[0].index)
    return outcome


class RejectsWriter:
    """Write rejected rows with their line, index, field, reason and message."""

    def __init__(self, handle: TextIO, file_format: str, header: list[str]):
        """Start a rejects file of the same format as the input."""
        self.handle = handle
        self.format = file_format
        self.count = 0
        if file_format == "csv":
            self._csv = csv.writer(handle, lineterminator="\n")
            self._csv.writerow([*REJECT_COLUMNS, *header])

    def write(self, row: Row, error: dict) -> None:
        """Write one rejected row."""
        reason = [row.line, row.index, error["field"], error["reason"], error["message"]]
        if self.format == "csv":
            self._csv.writerow([*reason, *row.original])
        else:
            entry = dict(zip(REJECT_COLUMNS, reason, strict=True))
            entry["row"] = row.original
            self.handle.write(json.dumps(entry, ensure_ascii=False) + "\n")
        self.count += 1


class Tally:
    """The running result of an import: counts, reasons, and the rejects file, opened on need."""

    def __init__(self, rejects_path: Path, file_format: str, header: list[str]):
        """Count nothing yet; the rejects file is created only when a row is rejected."""
        self.rejects_path = rejects_path
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
            self._handle = self.rejects_path.open("w", encoding="utf-8", newline="")
            self._writer = RejectsWriter(self._handle, self.format, self.header)
        for row, error in outcome.rejected:
            self._writer.write(row, error)
            self.reasons[error["reason"]] = self.reasons.get(error["reason"], 0) + 1

    def counts(self) -> dict[str, int]:
        """The counts so far."""
        return {"rows": self.rows, "accepted": self.accepted, "rejected": self.rejected}

    def close(self) -> None:
        """Close the rejects file, if one was opened."""
        if self._handle is not None:
            self._handle.close()
