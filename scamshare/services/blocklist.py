"""Operator blocklists: full snapshots and deltas after a sequence cursor, streamed in four formats.

A snapshot holds every indicator whose status is exported (listed, disputed). A delta after cursor
C holds every indicator stamped after C, once, in its latest state: an `upsert` when the filtered
snapshot now holds it, else a `remove` with its reason. Because every change of an exported field
takes the next sequence value (services/lifecycle.py), applying the deltas after C to the
snapshot taken at C gives the current snapshot.

Rows are rendered to text by the database itself: a million rows formatted in Python would cost
ten times the database's own dump, and operators download full lists whenever they resync. A CSV
line of an own listing is mostly text stored when it was stamped (stamped_parts).
"""

from __future__ import annotations

import hashlib
import json
import zlib
from collections.abc import Iterator
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from functools import reduce
from typing import Any

import phonenumbers
from sqlalchemy import String, and_, case, func, literal, literal_column, or_, select, type_coerce
from sqlalchemy.dialects.postgresql import aggregate_order_by
from sqlalchemy.orm import Session
from sqlalchemy.sql import ColumnElement, Select

from scamshare.errors import Invalid
from scamshare.models import CATEGORIES, EXPORTED_STATUSES, RISKS, Indicator
from scamshare.services import audit, lifecycle, peers
from scamshare.services.audit import Actor

FORMATS = ("csv", "json", "ndjson", "txt")
MEDIA_TYPES = {
    "csv": "text/csv",
    "json": "application/json",
    "ndjson": "application/x-ndjson",
    "txt": "text/plain",
}
COLUMNS = (
    "kind",
    "value",
    "status",
    "risk",
    "categories",
    "origins",
    "first_reported",
    "last_reported",
    "expires_at",
)
DELTA_COLUMNS = (*COLUMNS, "action", "reason")
PHONE_KINDS = ("phone", "phone_range")
# How operators treat a listing of each origin; this node's own listings are blocked.
OWN_POLICY = "block"
# Rows per fetch: large enough that per-batch costs vanish, small enough to keep memory flat.
BATCH = 5000
_MAX_CODE = 999


@dataclass(frozen=True)
class Filters:
    """What a download is restricted to; an empty filter lets everything through."""

    kinds: tuple[str, ...] = ()
    calling_codes: tuple[int, ...] = ()
    regions: tuple[str, ...] = ()
    origins: tuple[str, ...] = ()
    min_risk: str | None = None
    categories: tuple[str, ...] = ()
    statuses: tuple[str, ...] = ()
    limit: int | None = None

    @classmethod
    def from_query(cls, query: dict) -> Filters:
        """Build filters from parsed query arguments, in a canonical order."""

        def canonical(name: str) -> tuple:
            """Sorted distinct values of one list argument."""
            return tuple(sorted(set(query.get(name) or ())))

        return cls(
            kinds=canonical("kind"),
            calling_codes=canonical("calling_code"),
            regions=tuple(sorted({region.upper() for region in query.get("region") or ()})),
            origins=tuple(sorted({origin.upper() for origin in query.get("origin") or ()})),
            min_risk=query.get("min_risk"),
            categories=canonical("category"),
            statuses=canonical("status"),
            limit=query.get("limit"),
        )

    def describe(self) -> dict:
        """The filters that are set, for the audit log and the ETag."""
        return {name: value for name, value in asdict(self).items() if value not in ((), None)}


@dataclass
class Download:
    """One blocklist download, ready to stream: its cursor, headers and statement."""

    session: Session
    format: str
    filters: Filters
    country: str
    cursor: int
    since: int | None
    statement: Select = field(repr=False)
    # For csv and txt: the unordered statement and its key, to read in pages joined by the
    # database (see _pages); None where rows are rendered one by one.
    pages: tuple[Select, ColumnElement] | None = field(default=None, repr=False)

    @property
    def is_delta(self) -> bool:
        """Tell whether this is a delta rather than a full list."""
        return self.since is not None

    def etag(self, gzip: bool) -> str | None:
        """The ETag of a full list: the same cursor, filters and format give the same bytes."""
        if self.is_delta:
            return None
        key = json.dumps(
            [self.cursor, self.format, self.filters.describe(), self.country, gzip],
            sort_keys=True,
            default=list,
        )
        return hashlib.sha256(key.encode()).hexdigest()[:32] + ("-gz" if gzip else "")

    @property
    def filename(self) -> str:
        """The file name: node country, what the file holds and its cursor."""
        country = self.country.lower()
        if self.is_delta:
            return f"scamshare-{country}-delta-{self.since}-{self.cursor}.{self.format}"
        return f"scamshare-{country}-blocklist-{self.cursor}.{self.format}"

    def chunks(self, gzip: bool = False) -> Iterator[bytes]:
        """Yield the file in chunks of about BATCH rows, gzip-compressed when asked."""
        compressor = zlib.compressobj(6, zlib.DEFLATED, 31) if gzip else None
        for text in self._texts():
            data = text.encode()
            if compressor is None:
                yield data
            else:
                compressed = compressor.compress(data)
                if compressed:
                    yield compressed
        if compressor is not None:
            yield compressor.flush()

    def _texts(self) -> Iterator[str]:
        """Yield the file as text, one batch of rows at a time."""
        if self.format == "csv":
            yield ",".join(DELTA_COLUMNS if self.is_delta else COLUMNS) + "\r\n"
        if self.pages is not None:
            yield from self._pages("\r\n" if self.format == "csv" else "\n")
            return
        # Core execution on the session's connection: the ORM's per-row result handling would
        # cost more than rendering the row.
        result = self.session.connection().execute(
            self.statement, execution_options={"stream_results": True, "yield_per": BATCH}
        )
        if self.format in ("csv", "txt"):
            separator = "\r\n" if self.format == "csv" else "\n"
            for rows in result.scalars().partitions():
                yield separator.join(rows) + separator
        elif self.format == "ndjson":
            for rows in result.partitions():
                yield "".join(_json_item(row, self.is_delta) + "\n" for row in rows)
        else:
            head = {"cursor": self.cursor, "since": self.since, "country": self.country}
            yield json.dumps(head)[:-1] + ', "items": ['
            separator = "\n"
            for rows in result.partitions():
                yield separator + ",\n".join(_json_item(row, self.is_delta) for row in rows)
                separator = ",\n"
            yield "\n]}\n"

    def _pages(self, separator: str) -> Iterator[str]:
        """Yield lines a page at a time, each page joined into one text by the database.

        Fetching a row into Python costs more than rendering it; one fetch per BATCH rows
        keeps a full download within a small factor of the database's own dump. The pages
        follow the key (id, or sequence for deltas) inside the download's one transaction.
        """
        base, key = self.pages
        connection = self.session.connection()
        postgres = connection.dialect.name == "postgresql"
        last = self.since or 0
        while True:
            page = base.where(key > last).order_by(key).limit(BATCH).subquery()
            if postgres:
                joined = func.string_agg(
                    page.c.line, aggregate_order_by(literal(separator), page.c.key)
                )
            else:
                joined = func.group_concat(page.c.line, separator)
            text, last_key = connection.execute(select(joined, func.max(page.c.key))).one()
            if last_key is None:
                return
            yield text + separator
            last = last_key


def _json_item(row, delta: bool) -> str:
    """Render one pre-rendered row as a compact JSON object."""
    item = {
        "kind": row.kind,
        "value": row.value,
        "status": row.status,
        "risk": row.risk,
        "categories": row.categories.split(";") if row.categories else [],
        "origins": parse_origins(row.origins),
        "first_reported": row.first_reported or None,
        "last_reported": row.last_reported or None,
        "expires_at": row.expires_at or None,
    }
    if delta:
        item["action"] = row.action
        item["reason"] = row.reason or None
    return json.dumps(item, separators=(",", ":"), ensure_ascii=False)


# --- origins -------------------------------------------------------------------------------------


def origins_of(country: str, sql: _Sql, policies: dict[str, str]) -> ColumnElement[str]:
    """Each indicator's origins with the local policy for each, as SQL text `CC:policy;...`.

    This node is an origin when it lists or disputes the value itself; every peer origin whose
    contribution lists or disputes it is another, with the policy this node set for that peer.
    """
    own = _own_origin(country)
    peer = sql.entry("country")
    policy = " ".join(
        f"WHEN {peer} = '{_safe(cc)}' THEN '{_safe(rule)}'" for cc, rule in sorted(policies.items())
    )
    policy = f"CASE {policy} ELSE 'block' END" if policy else "'block'"
    foreign = (
        f"(SELECT {sql.aggregate(f'{peer} || {chr(39)}:{chr(39)} || {policy}')} "
        f"FROM {sql.entries()} WHERE {sql.entry('status')} IN {_EXPORTED_SQL})"
    )
    text = (
        f"CASE WHEN {sql.no_foreign()} THEN COALESCE({own}, '') "
        f"ELSE COALESCE({own} || ';', '') || COALESCE({foreign}, '') END"
    )
    return literal_column(text, String)


def _own_origin(country: str) -> str:
    """This node as an origin, in SQL: `CC:block` when it lists or disputes the value, else NULL."""
    origin = f"{_safe(country)}:{OWN_POLICY}"
    return f"CASE WHEN indicators.status IN {_EXPORTED_SQL} THEN '{origin}' END"


def status_of(sql: _Sql) -> ColumnElement[str]:
    """The status operators see: this node's own, or else the strongest of its peer origins'."""
    exists = "EXISTS (SELECT 1 FROM {entries} WHERE {status} = '{wanted}')"
    listed = exists.format(entries=sql.entries(), status=sql.entry("status"), wanted="listed")
    disputed = exists.format(entries=sql.entries(), status=sql.entry("status"), wanted="disputed")
    return literal_column(
        f"CASE WHEN indicators.status IN {_EXPORTED_SQL} OR {sql.no_foreign()} "
        f"THEN indicators.status WHEN {listed} THEN 'listed' WHEN {disputed} THEN 'disputed' "
        "ELSE indicators.status END",
        String,
    )


def risk_of(sql: _Sql) -> ColumnElement[str]:
    """The risk operators see: this node's own, or else the highest of its peer origins'."""
    rank = " ".join(f"WHEN '{tier}' THEN {n}" for n, tier in enumerate(RISKS))
    highest = (
        f"(SELECT {sql.entry('risk')} FROM {sql.entries()} "
        f"WHERE {sql.entry('status')} IN {_EXPORTED_SQL} "
        f"ORDER BY CASE {sql.entry('risk')} {rank} END DESC LIMIT 1)"
    )
    return literal_column(
        f"CASE WHEN indicators.status IN {_EXPORTED_SQL} OR {sql.no_foreign()} "
        f"THEN indicators.risk ELSE COALESCE({highest}, indicators.risk) END",
        String,
    )


def foreign_reason(sql: _Sql) -> ColumnElement[str]:
    """Why a peer origin removed the value, for values only a peer had exported."""
    return literal_column(
        f"(SELECT {sql.entry('removal_reason')} FROM {sql.entries()} "
        f"WHERE {sql.entry('status')} = 'removed' LIMIT 1)",
        String,
    )


_EXPORTED_SQL = "(" + ", ".join(f"'{status}'" for status in EXPORTED_STATUSES) + ")"


def _safe(text: str) -> str:
    """Refuse anything but the codes inlined into SQL (countries and policies)."""
    if not text.isalnum() or not text.isascii():
        raise ValueError(f"{text!r} cannot be inlined into SQL")
    return text


def merged(row, country: str, policies: dict[str, str]) -> dict[str, Any]:
    """The merged view of one indicator row (own fields plus `foreign`), as operators see it."""
    own = row.status in EXPORTED_STATUSES
    peers = [entry for entry in row.foreign if entry["status"] in EXPORTED_STATUSES]
    origins = [{"country": country, "policy": OWN_POLICY}] if own else []
    origins += [
        {"country": entry["country"], "policy": policies.get(entry["country"], "block")}
        for entry in peers
    ]
    if own or not peers:
        status, risk = row.status, row.risk
    else:
        status = "listed" if any(e["status"] == "listed" for e in peers) else "disputed"
        risk = max((e["risk"] for e in peers), key=RISKS.index)
    return {"status": status, "risk": risk, "origins": origins, "peers": peers}


def parse_origins(text: str | None) -> list[dict[str, str]]:
    """Turn `CC:policy;CC:policy` into a list of {country, policy}."""
    origins = []
    for part in filter(None, (text or "").split(";")):
        country, _, policy = part.partition(":")
        origins.append({"country": country, "policy": policy})
    return origins


# --- stored line parts --------------------------------------------------------------------------


def stamped_parts(
    status: str,
    risk: str,
    categories: str,
    first_reported_at: datetime | None,
    last_reported_at: datetime | None,
    expires_at: datetime | None,
) -> tuple[str, str]:
    """An own listing's CSV fields between its value and origins, and those after its origins.

    lifecycle.stamp stores them with every exported change (models.Indicator.csv_head and
    csv_tail), so a download joins a few texts per row instead of rendering every field; the
    database renders the same text for rows without them (_Sql.categories and _Sql.iso).
    """
    times = ",".join(
        moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ") if moment is not None else ""
        for moment in (first_reported_at, last_reported_at, expires_at)
    )
    return f"{status},{risk},{categories}", times


# --- SQL rendering, per dialect -----------------------------------------------------------------


class _Sql:
    """The few expressions whose SQL differs between SQLite and PostgreSQL."""

    def __init__(self, dialect: str):
        """Remember the dialect."""
        self.postgres = dialect == "postgresql"

    def iso(self, column) -> ColumnElement[str]:
        """A timestamp as ISO 8601 UTC text to the second, or empty text."""
        name = _name(column)
        if self.postgres:
            # The timestamp's own ISO text (open_download sets DateStyle ISO): to_char cost
            # a third of a download.
            sql = f"replace(left(({name} AT TIME ZONE 'UTC')::text, 19), ' ', 'T') || 'Z'"
        else:
            # SQLite holds UTC as 'YYYY-MM-DD HH:MM:SS.ffffff' text: cutting it is 3x faster
            # than strftime, which parses it first.
            sql = f"replace(substr({name}, 1, 19), ' ', 'T') || 'Z'"
        return _coalesce(literal_column(sql, String))

    def entries(self) -> str:
        """A FROM item over the indicator's peer-origin entries, each as `f.value`."""
        if self.postgres:
            return 'json_array_elements(indicators."foreign") AS f(value)'
        return 'json_each(indicators."foreign") AS f'

    def entry(self, name: str) -> str:
        """One text field of a peer-origin entry."""
        if self.postgres:
            return f"(f.value ->> '{name}')"
        return f"json_extract(f.value, '$.{name}')"

    def aggregate(self, expression: str) -> str:
        """Join texts with `;`."""
        return (
            f"string_agg({expression}, ';')"
            if self.postgres
            else f"group_concat({expression}, ';')"
        )

    def no_foreign(self) -> str:
        """Whether no peer origin ever contributed to the value (the common, cheap case)."""
        if self.postgres:
            # The stored text first: json_array_length parses the JSON, on every row.
            return (
                "(indicators.\"foreign\"::text = '[]' "
                'OR json_array_length(indicators."foreign") = 0)'
            )
        return "indicators.\"foreign\" = '[]'"

    def categories(self) -> ColumnElement[str]:
        """The category names of an indicator, sorted, joined with `;`.

        Looking each known name up in the JSON text is several times faster than expanding
        the JSON per row; the names are fixed identifiers, quoted as keys only.
        """
        text = "indicators.category_counts::text" if self.postgres else "indicators.category_counts"
        find = "strpos" if self.postgres else "instr"
        marks = " || ".join(
            f"CASE WHEN {find}({text}, '\"{name}\"') > 0 THEN ';{name}' ELSE '' END"
            for name in sorted(CATEGORIES)
        )
        # Most indicators carry one category: its name is the one key, cut out of the text.
        single = (
            f"CASE WHEN {find}({text}, ',') = 0 AND substr({text}, 1, 2) = '{{\"' "
            f"THEN substr({text}, 3, {find}({text}, '\":') - 3) "
            f"ELSE substr({marks}, 2) END"
        )
        # An own listing carries the text stamped with its exported state (lifecycle.stamp): the
        # same names, without a search per known name on every row.
        stamped = (
            f"CASE WHEN indicators.status IN {_EXPORTED_SQL} AND indicators.categories IS NOT NULL "
            f"THEN indicators.categories ELSE {single} END"
        )
        return literal_column(stamped, String)

    def csv_line(self, fields: list[ColumnElement]) -> ColumnElement[str]:
        """The CSV line of the fields (COLUMNS, then DELTA_COLUMNS' two), none of which is NULL."""
        if self.postgres:
            parts = [fields[0]]
            for part in fields[1:]:
                parts += [literal(","), part]
            return _concat(*parts)
        # On SQLite one printf per row allocates one text where `||` allocates one per part,
        # and the three timestamps, when all set, are cut by one printf and one replace: a
        # quarter of a download. printf would print NULL as '', but no field is ever NULL.
        timestamps = (Indicator.first_reported_at, Indicator.last_reported_at, Indicator.expires_at)
        every = func.printf(",".join(["%s"] * len(fields)), *fields)
        cut = func.replace(func.printf("%.19sZ,%.19sZ,%.19sZ", *timestamps), " ", "T")
        first, last = fields[:6], fields[9:]  # around the three timestamps
        fast = func.printf(",".join(["%s"] * (len(first) + 1 + len(last))), *first, cut, *last)
        return type_coerce(
            case((and_(*(column.is_not(None) for column in timestamps)), fast), else_=every),
            String,
        )

    def csv_value(self) -> ColumnElement[str]:
        """The value as one CSV field: quoted when it holds a comma, quote or line break.

        Only URLs can hold those; checking the kind first spares the other rows four searches.
        """
        find = "strpos" if self.postgres else "instr"
        char = "chr" if self.postgres else "char"
        needs_quotes = " OR ".join(
            f"{find}(indicators.value, {needle}) > 0"
            for needle in ("','", "'\"'", f"{char}(10)", f"{char}(13)")
        )
        return literal_column(
            f"CASE WHEN indicators.kind = 'url' AND ({needs_quotes}) THEN '\"' || "
            "replace(indicators.value, '\"', '\"\"') || '\"' ELSE indicators.value END",
            String,
        )


def _name(column) -> str:
    """The qualified SQL name of an indicator column."""
    return f"indicators.{column.key}"


def _coalesce(expression, default: str = "") -> ColumnElement[str]:
    """A default text instead of NULL, so that concatenation never yields NULL."""
    return type_coerce(func.coalesce(expression, default), String)


def _concat(*parts) -> ColumnElement[str]:
    """Concatenate text expressions with `||`."""
    typed = [type_coerce(part, String) for part in parts]
    return reduce(lambda left, right: left.concat(right), typed)


# --- filters ------------------------------------------------------------------------------------


def _risks_from(minimum: str) -> tuple[str, ...]:
    """The risk tiers at or above a minimum."""
    return RISKS[RISKS.index(minimum) :]


def _phone_condition(filters: Filters) -> ColumnElement[bool] | None:
    """Restrict phone and phone-range values to calling codes or regions; other kinds pass."""
    if not filters.calling_codes and not filters.regions:
        return None
    alternatives = []
    for code in filters.calling_codes:
        # Calling codes are a prefix code: "+65" starts exactly the numbers of code 65.
        alternatives.append(Indicator.value.startswith(f"+{code}", autoescape=True))
    for region in filters.regions:
        code = phonenumbers.country_code_for_region(region)
        prefix = Indicator.value.startswith(f"+{code}", autoescape=True)
        if len(phonenumbers.region_codes_for_country_code(code)) > 1:
            # A code shared by several regions (+1, +7, +44): the number's own region decides.
            prefix = and_(prefix, Indicator.facts["region"].as_string() == region)
        alternatives.append(prefix)
    return or_(Indicator.kind.not_in(PHONE_KINDS), *alternatives)


def _current_match(
    filters: Filters, origins: ColumnElement[str], status, risk
) -> ColumnElement[bool]:
    """Whether an indicator belongs in the filtered snapshot now (fields that can change)."""
    conditions = [status.in_(filters.statuses or EXPORTED_STATUSES)]
    if filters.min_risk:
        conditions.append(risk.in_(_risks_from(filters.min_risk)))
    if filters.categories:
        conditions.append(
            or_(*(Indicator.category_counts[name].as_integer() > 0 for name in filters.categories))
        )
    if filters.origins:
        wrapped = _concat(literal(";"), origins, literal(";"))
        conditions.append(or_(*(wrapped.contains(f";{cc}:") for cc in filters.origins)))
    return and_(*conditions)


def _fixed_conditions(filters: Filters) -> list[ColumnElement[bool]]:
    """Conditions on what never changes for an indicator: its kind and its value."""
    conditions = []
    if filters.kinds:
        conditions.append(Indicator.kind.in_(filters.kinds))
    phone = _phone_condition(filters)
    if phone is not None:
        conditions.append(phone)
    return conditions


def check_filters(filters: Filters, since: int | None) -> None:
    """Refuse filter combinations that cannot be served, naming the field."""
    errors = []
    for region in filters.regions:
        if phonenumbers.country_code_for_region(region) == 0:
            errors.append(_query_error("region", "unknown_region", f"{region!r} is not a region."))
    for code in filters.calling_codes:
        if not phonenumbers.region_codes_for_country_code(code) or code > _MAX_CODE:
            errors.append(
                _query_error("calling_code", "unknown_code", f"{code} is not a calling code.")
            )
    if filters.limit is not None and since is not None:
        errors.append(
            _query_error(
                "limit",
                "limit_with_since",
                "A top-N list has no deltas (its members change when others change): download "
                "it in full, with If-None-Match to skip unchanged lists.",
            )
        )
    if errors:
        raise Invalid("; ".join(error["message"] for error in errors), errors=errors)


def _query_error(name: str, reason: str, message: str) -> dict:
    """One field error about a query argument."""
    return {"field": name, "reason": reason, "message": message, "location": "query"}


# --- statements ---------------------------------------------------------------------------------


def _rendered(
    sql: _Sql, fmt: str, delta: bool, match, origins, status, risk, country: str
) -> list[ColumnElement]:
    """The selected columns: one finished line for csv and txt, text fields for JSON formats."""
    action = case((match, "upsert"), else_="remove")
    reason = case(
        (match, ""),
        (status.in_(EXPORTED_STATUSES), "filtered"),
        else_=_coalesce(func.coalesce(Indicator.removal_reason, foreign_reason(sql)), "not_listed"),
    )
    if fmt == "txt":
        if delta:
            return [_concat(case((match, "+"), else_="-"), Indicator.value).label("line")]
        return [Indicator.value.label("line")]
    fields = [
        Indicator.kind,
        Indicator.value,
        status,
        risk,
        sql.categories(),
        origins,
        sql.iso(Indicator.first_reported_at),
        sql.iso(Indicator.last_reported_at),
        sql.iso(Indicator.expires_at),
    ]
    if fmt == "csv":
        fields[1] = sql.csv_value()
        if delta:
            fields += [action, reason]
        # Most values have no peer origin: their line needs none of the merged view's
        # subqueries, and the one test spares each row three.
        plain = [
            fields[0],
            fields[1],
            Indicator.status,
            Indicator.risk,
            fields[4],
            _coalesce(literal_column(_own_origin(country), String)),
            *fields[6:],
        ]
        # An own listing carries its fields stamped (stamped_parts) but for its kind, value
        # and origin (which names this node's country): joining them costs a fraction of
        # rendering every field.
        stamped = _concat(
            Indicator.kind,
            literal(","),
            fields[1],
            literal(","),
            Indicator.csv_head,
            literal(f",{_safe(country)}:{OWN_POLICY},"),
            Indicator.csv_tail,
        )
        if delta:
            stamped = _concat(stamped, literal(","), action, literal(","), reason)
        has_stamped = and_(
            Indicator.status.in_(EXPORTED_STATUSES),
            Indicator.csv_head.is_not(None),
            Indicator.csv_tail.is_not(None),
        )
        line = case(
            (
                literal_column(sql.no_foreign()),
                case((has_stamped, stamped), else_=sql.csv_line(plain)),
            ),
            else_=sql.csv_line(fields),
        )
        return [type_coerce(line, String).label("line")]
    labels = list(DELTA_COLUMNS if delta else COLUMNS)
    if delta:
        fields += [action, reason]
    return [
        type_coerce(part, String).label(label) for part, label in zip(fields, labels, strict=True)
    ]


def _rank() -> ColumnElement[int]:
    """The risk tier as a number, very_high highest."""
    return case({tier: rank for rank, tier in enumerate(RISKS)}, value=Indicator.risk, else_=-1)


def build_statement(
    dialect: str,
    fmt: str,
    filters: Filters,
    country: str,
    since: int | None,
    cursor: int,
    policies: dict[str, str] | None = None,
) -> Select:
    """The one SELECT that renders a full list or a delta with its filters."""
    sql = _Sql(dialect)
    origins = origins_of(country, sql, policies or {})
    status, risk = status_of(sql), risk_of(sql)
    match = _current_match(filters, origins, status, risk)
    delta = since is not None
    statement = select(*_rendered(sql, fmt, delta, match, origins, status, risk, country)).where(
        *_fixed_conditions(filters)
    )
    if delta:
        # Rows stamped after the cursor we answer with would come again in the next delta;
        # leaving them out keeps a delta a function of its two cursors.
        return statement.where(Indicator.sequence > since, Indicator.sequence <= cursor).order_by(
            Indicator.sequence
        )
    if dialect == "sqlite":
        # Through the index SQLite would sort a million rows by id; a unary plus keeps the
        # index out, so it scans the table, which is in id order already.
        statement = statement.where(literal_column("+indicators.exported") == 1, match)
    else:
        statement = statement.where(Indicator.exported.is_(True), match)
    if filters.limit is not None:
        return statement.order_by(
            _rank().desc(), Indicator.last_reported_at.desc(), Indicator.id
        ).limit(filters.limit)
    return statement.order_by(Indicator.id)


def open_download(
    session: Session, fmt: str, filters: Filters, country: str, since: int | None = None
) -> Download:
    """Read the cursor and prepare the download in one consistent snapshot of the database.

    The cursor is read before any row, in the same snapshot: every change numbered up to it is
    visible (lifecycle.reserve_sequences makes sequence values commit in order), so a consumer
    that asks for the changes after it next time misses nothing.
    """
    if fmt not in FORMATS:
        raise Invalid(f"format must be one of {', '.join(FORMATS)}.", code="unknown_format")
    check_filters(filters, since)
    if session.bind.dialect.name == "postgresql":
        connection = session.connection(execution_options={"isolation_level": "REPEATABLE READ"})
        # A page's estimated cost (the merged view's subplans) passes jit_above_cost, and
        # compiling it took longer than running it: 70-90 ms per page of 5,000 rows.
        connection.exec_driver_sql("SET LOCAL jit = off")
        connection.exec_driver_sql("SET LOCAL datestyle = 'ISO, MDY'")  # see _Sql.iso
    cursor = lifecycle.current_sequence(session)
    if since is not None and since > cursor:
        raise Invalid(
            f"The cursor {since} is ahead of this node's sequence ({cursor}); download the full "
            "list again.",
            code="cursor_ahead",
            errors=[_query_error("since", "cursor_ahead", f"at most {cursor}")],
        )
    dialect = session.bind.dialect.name
    statement = build_statement(
        dialect, fmt, filters, country, since, cursor, peers.policies(session)
    )
    pages = None
    if fmt in ("csv", "txt") and filters.limit is None:
        key = Indicator.sequence if since is not None else Indicator.id
        pages = (statement.order_by(None).add_columns(key.label("key")), key)
    return Download(session, fmt, filters, country, cursor, since, statement, pages)


def record_download(
    session: Session, actor: Actor, download: Download, *, not_modified: bool, gzip: bool
) -> None:
    """Write one download to the audit log: who, format, filters and cursors."""
    audit.record(
        session,
        actor,
        "blocklist.download",
        target="blocklist" if not download.is_delta else "blocklist.delta",
        details={
            "format": download.format,
            "filters": download.filters.describe(),
            "since": download.since,
            "cursor": download.cursor,
            "not_modified": not_modified,
            "gzip": gzip,
        },
    )
