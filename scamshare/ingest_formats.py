"""Reading reports out of uploads and files: one row or line becomes one report object.

The HTTP API (POST /api/v1/reports) and `scamshare import` share these, so that a CSV row or an
NDJSON line means the same report whichever way it arrives.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Iterable, Iterator, Sequence

from scamshare import text
from scamshare.errors import Invalid

BOOLEAN_FIELDS = ("verified", "spoofed_caller_id")
TRUE_WORDS = frozenset({"true", "1", "yes", "y"})
FALSE_WORDS = frozenset({"false", "0", "no", "n", ""})
# A line the validator refuses as "a report is an object", like any other non-object.
BROKEN_LINE = "not a JSON object"


def decode(raw: bytes) -> str:
    """Decode an upload as UTF-8 (with or without a byte-order mark)."""
    try:
        return raw.decode("utf-8-sig")
    except UnicodeDecodeError as error:
        raise Invalid(
            f"The upload is not UTF-8 (byte {error.start} is not valid).", code="not_utf8"
        ) from None


def lines(text_: str) -> Iterator[str]:
    """Split text at CRLF, LF or CR, as people's tools end lines; each keeps its ending."""
    return iter(io.StringIO(text_, newline=""))


def ndjson_item(line: str, index: int | None = None):
    """Parse one NDJSON line; a broken line becomes an item the validator rejects.

    A line nested too deeply or holding text the node cannot store raises text.Refused.
    """
    try:
        return text.loads(line, "ndjson", index)
    except ValueError:
        return BROKEN_LINE


def ndjson_items(upload: str) -> list:
    """The report objects of an NDJSON upload, one per non-blank line."""
    items: list = []
    for line in lines(upload):
        if line.strip():
            items.append(ndjson_item(line, len(items)))
    return items


def check_csv_header(fieldnames: Sequence[str] | None) -> None:
    """Refuse CSV without a header row naming the report fields."""
    if not fieldnames or "kind" not in fieldnames:
        raise Invalid(
            "A CSV upload needs a header row with the report field names (kind, value, ...).",
            code="csv_header_missing",
        )


def csv_item(row: dict, index: int | None = None, refused: list | None = None) -> dict:
    """Turn a CSV row into a report object: empty cells are absent, booleans are words.

    A cell holding text the node cannot store raises text.Refused; given a `refused` list, the
    cell is left out and its refusal added to the list instead, so the rest can be checked.
    """
    item = {}
    for name, cell in row.items():
        try:
            if name is None:
                for extra in cell:
                    text.check(extra, "_extra_columns", "csv", index)
                item["_extra_columns"] = cell
                continue
            if cell is None or cell == "":
                continue
            text.check(cell, name, "csv", index)
        except text.Refused as refusal:
            if refused is None:
                raise
            refused.append(refusal)
            continue
        if name in BOOLEAN_FIELDS and cell.strip().lower() in TRUE_WORDS | FALSE_WORDS:
            item[name] = cell.strip().lower() in TRUE_WORDS
        else:
            item[name] = cell
    return item


class _Record:
    """An iterator of lines that keeps the lines of the record being read."""

    def __init__(self, source: Iterable[str]):
        """Read lines from a source."""
        self._source = iter(source)
        self.lines: list[str] = []

    def __iter__(self) -> _Record:
        """Iterate over itself."""
        return self

    def __next__(self) -> str:
        """The next line, remembered as part of the current record."""
        line = next(self._source)
        self.lines.append(line)
        return line


class CsvReader:
    """The rows of a CSV upload: a header naming report fields, then one report per row."""

    def __init__(self, source: Iterable[str]):
        """Read and check the header row of lines that keep their endings."""
        self._record = _Record(source)
        self._reader = csv.reader(self._record)
        self.index = 0
        self.header: list[str] = []
        self._columns: list[str] = []  # every column, for naming one in an error
        self._dropped = 0
        self.header = self._columns = self._next_cells() or []
        for name in self.header:
            text.check(name, name, "csv")
        check_csv_header(self.header)

    def drop_leading_columns(self, count: int) -> None:
        """Read on without the first `count` columns of every row (and of the header)."""
        self._dropped = count
        self.header = self._columns[count:]

    def _next_cells(self) -> list[str] | None:
        """The next record's cells, or None at the end; an over-long cell is refused."""
        self._record.lines = []
        start = self._reader.line_num + 1
        where = f"Row {self.index + 1} (line {start})" if self.header else "The header row"
        try:
            return next(self._reader)
        except StopIteration:
            return None
        except csv.Error as error:
            if "field larger than field limit" not in str(error):
                raise Invalid(
                    f"{where} is not valid CSV: {error}.",
                    code="malformed_csv",
                ) from None
            limit = csv.field_size_limit()
            column = _long_cell_column("".join(self._record.lines), limit)
            names = self._columns
            name = names[column] if column < len(names) else f"column {column + 1}"
            raise Invalid(
                f"{where}, column {name}: a cell is longer than {limit} characters.",
                code="cell_too_long",
                errors=[
                    {
                        "field": name,
                        "reason": "too_long",
                        "message": f"Longer than {limit} characters.",
                        "location": "csv",
                        "index": self.index,
                    }
                ],
            ) from None

    def __iter__(self) -> Iterator[dict]:
        """Yield each row as DictReader does (extra cells under None), skipping blank lines."""
        header = self.header
        while (cells := self._next_cells()) is not None:
            if not cells:
                continue
            if self._dropped:
                cells = cells[self._dropped :]
            row: dict = dict(zip(header, cells, strict=False))
            if len(cells) > len(header):
                row[None] = cells[len(header) :]
            else:
                row.update(dict.fromkeys(header[len(cells) :]))
            yield row
            self.index += 1


def csv_items(upload: str) -> list[dict]:
    """The report objects of a CSV upload."""
    return [csv_item(row, index) for index, row in enumerate(CsvReader(lines(upload)))]


def _long_cell_column(record: str, limit: int) -> int:
    """The 0-based column of the first cell longer than `limit` in one CSV record's text."""
    column = length = 0
    quoted = False
    position = 0
    while position < len(record):
        char = record[position]
        position += 1
        if quoted:
            if char == '"' and record[position : position + 1] == '"':
                position += 1
            elif char == '"':
                quoted = False
                continue
        elif char == '"':
            quoted = True
            continue
        elif char == ",":
            column, length = column + 1, 0
            continue
        length += 1
        if length > limit:
            return column
    return column
