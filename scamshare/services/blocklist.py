"""Operator blocklists: full snapshots and deltas after a sequence cursor, streamed in four formats.

A snapshot holds every indicator operators receive (listed or disputed by this node or a peer
origin); a txt list, the firewall format, holds one kind and only values some `block` origin
lists (`include_warn` adds the others). A delta after cursor C holds every indicator stamped
after C, once, in its latest state: an `upsert` when the filtered snapshot now holds it, else a
`remove` with its reason. Because every change operators would see takes the next sequence
value (indicators/lifecycle.py), applying the deltas after C to the snapshot taken at C gives
the current snapshot.

A full list joins the lines the lifecycle stored with each listing (indicators/render.py), a
page at a time inside the database: a million rows fetched into Python would cost several times
the database's own dump. A delta is small and rendered by the same writer as it is read.

It stays one module (about 460 lines, the txt rules and STIX pages included) because the
filters, the snapshot and the delta must agree on what a download holds; splitting them would
put that agreement in two places.
"""

from __future__ import annotations

import hashlib
import json
import zlib
from collections.abc import Iterator
from dataclasses import asdict, dataclass, field, replace

import phonenumbers
from sqlalchemy import and_, case, func, literal, or_, select
from sqlalchemy.dialects.postgresql import aggregate_order_by
from sqlalchemy.orm import Session
from sqlalchemy.sql import ColumnElement

from scamshare.config import MEMBER_STATES
from scamshare.errors import Invalid
from scamshare.indicators import lifecycle, render, rules
from scamshare.interop import stix
from scamshare.models import EXPORTED_STATUSES, RISKS, Actor, Indicator
from scamshare.services import audit

FORMATS = ("csv", "json", "ndjson", "txt", "stix")
MEDIA_TYPES = {
    "csv": "text/csv",
    "json": "application/json",
    "ndjson": "application/x-ndjson",
    "txt": "text/plain",
    "stix": stix.MEDIA_TYPE,
}
PHONE_KINDS = ("phone", "phone_range")
# Rows per page: large enough that per-page costs vanish, small enough to keep memory flat.
BATCH = 5000
_MAX_CODE = 999
_SEPARATORS = {"csv": "\r\n", "txt": "\n", "ndjson": "\n", "json": ",\n", "stix": ",\n"}
_ENCLOSED = ("json", "stix")  # formats whose rows sit between a head and a tail
_STORED = {"csv": Indicator.csv_line, "json": Indicator.json_item, "ndjson": Indicator.json_item}


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
    include_warn: bool = False  # asked for: a txt list also holds values only warn origins list
    block_only: bool = False  # a txt list (firewall list): values some block origin lists

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
            include_warn=bool(query.get("include_warn")),
        )

    def describe(self) -> dict:
        """The filters that are set, for the audit log and the ETag."""
        return {
            name: value
            for name, value in asdict(self).items()
            if value not in ((), None) and value is not False
        }

    def fixed_conditions(self) -> list[ColumnElement[bool]]:
        """Conditions on what never changes for an indicator: its kind and its value."""
        conditions = []
        if self.kinds:
            conditions.append(Indicator.kind.in_(self.kinds))
        phone = _phone_condition(self)
        if phone is not None:
            conditions.append(phone)
        return conditions

    def current_conditions(self) -> list[ColumnElement[bool]]:
        """Conditions on what operators see now: status, risk, categories and origins."""
        conditions = [Indicator.shown_status.in_(self.statuses or EXPORTED_STATUSES)]
        if self.min_risk:
            conditions.append(Indicator.shown_risk.in_(RISKS[RISKS.index(self.min_risk) :]))
        if self.categories:
            wrapped = _wrapped(Indicator.categories)
            conditions.append(or_(*(wrapped.contains(f";{name};") for name in self.categories)))
        if self.origins:
            wrapped = _wrapped(Indicator.origins)
            conditions.append(or_(*(wrapped.contains(f";{cc}:") for cc in self.origins)))
        if self.block_only:
            # The stored origins name this node's policy for each (`CC:policy;...`).
            conditions.append(_wrapped(Indicator.origins).contains(":block;"))
        return conditions

    def conditions(self) -> list[ColumnElement[bool]]:
        """Every condition of the filters."""
        return self.fixed_conditions() + self.current_conditions()


def _wrapped(column) -> ColumnElement[str]:
    """A stored `a;b` list as `;a;b;`, so that one name is found whole with LIKE."""
    return literal(";") + func.coalesce(column, "") + literal(";")


@dataclass
class Download:
    """One blocklist download, ready to stream: its cursor, filters and what selects its rows."""

    session: Session
    format: str
    filters: Filters
    country: str
    cursor: int
    since: int | None
    policies: dict[str, str] = field(default_factory=dict, repr=False)
    tlp: str = "TLP:AMBER"
    not_modified: bool = False  # the caller's copy (If-None-Match) is this very list

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
        """Yield the file as text: its head, its rows a page at a time, its tail."""
        if self.format == "csv":
            yield render.DELTA_CSV_HEADER if self.is_delta else render.CSV_HEADER
        elif self.format == "json":
            head = {"cursor": self.cursor, "since": self.since, "country": self.country}
            yield json.dumps(head)[:-1] + ', "items": [\n'
        elif self.format == "stix":
            yield stix.bundle_head(stix.bundle_id(self.etag(False) or self.filename))
        separator = _SEPARATORS[self.format]
        if self.format == "stix":
            pages = self._stix_pages()
        else:
            pages = self._delta_pages() if self.is_delta else self._pages()
        for number, page in enumerate(pages):
            if self.format in _ENCLOSED:
                yield ("" if number == 0 else separator) + page
            else:
                yield page + separator
        if self.format == "json":
            yield "\n]}\n"
        elif self.format == "stix":
            yield stix.BUNDLE_TAIL

    def _pages(self) -> Iterator[str]:
        """The stored lines of the snapshot, each page joined into one text by the database.

        Pages follow the indicator id inside the download's one transaction; a top-N list is
        one ordered page.
        """
        line = _STORED.get(self.format, Indicator.value)
        conditions = [Indicator.exported.is_(True), *self.filters.conditions()]
        separator = _SEPARATORS[self.format]
        connection = self.session.connection()
        if self.filters.limit is not None:
            query = select(line).where(*conditions).order_by(*_top_order())
            rows = connection.execute(query.limit(self.filters.limit)).scalars().all()
            if rows:
                yield separator.join(rows)
            return
        last = 0
        while True:
            page = (
                select(line.label("line"), Indicator.id.label("key"))
                .where(*conditions, Indicator.id > last)
                .order_by(Indicator.id)
                .limit(BATCH)
                .subquery()
            )
            joined = _joined(connection.dialect.name, page, separator)
            text, last_key = connection.execute(select(joined, func.max(page.c.key))).one()
            if last_key is None:
                return
            yield text
            last = last_key

    def _delta_pages(self) -> Iterator[str]:
        """Every indicator stamped after the cursor, rendered with its action and reason."""
        match = and_(Indicator.exported.is_(True), *self.filters.current_conditions())
        # Rows of the view's columns and the stored line: loading whole indicators through the
        # ORM cost most of a delta, and merged_view reads nothing else.
        stored = _STORED.get(self.format, literal(None))
        query = (
            select(*rules.VIEW_COLUMNS, match.label("match"), stored.label("stored"))
            .where(
                Indicator.sequence > self.since,
                Indicator.sequence <= self.cursor,
                *self.filters.fixed_conditions(),
            )
            .order_by(Indicator.sequence)
            .execution_options(yield_per=BATCH)
        )
        separator = _SEPARATORS[self.format]
        for rows in self.session.execute(query).partitions():
            yield separator.join(self._delta_line(row) for row in rows)

    def _stix_pages(self) -> Iterator[str]:
        """The bundle's objects: the fixed ones, then a page of indicators at a time.

        A full bundle holds the listings; a delta every value stamped after the cursor, those
        operators no longer receive as revoked versions (a value that only left the filter is
        left out: revoking it would tell every consumer it is no longer a scam).
        """
        fixed = stix.fixed_objects(self.country, self.tlp, MEMBER_STATES)
        yield _SEPARATORS["stix"].join(stix.dumps(obj) for obj in fixed)
        policies = self.policies or lifecycle.peer_policies(self.session)
        match = and_(Indicator.exported.is_(True), *self.filters.current_conditions())
        if self.is_delta:
            where = [Indicator.sequence > self.since, Indicator.sequence <= self.cursor]
            query = select(Indicator, match.label("match")).where(
                *where, *self.filters.fixed_conditions()
            )
            query = query.order_by(Indicator.sequence)
        else:
            query = select(Indicator, literal(True).label("match")).where(
                Indicator.exported.is_(True), *self.filters.conditions()
            )
            if self.filters.limit is not None:
                query = query.order_by(*_top_order()).limit(self.filters.limit)
            else:
                query = query.order_by(Indicator.id)
        query = query.execution_options(yield_per=BATCH)
        for rows in self.session.execute(query).partitions():
            objects = []
            for indicator, matched in rows:
                version = stix.version_of(indicator, self.country, policies)
                if matched or version.revoked:
                    obj = stix.indicator_object(version, self.country, self.tlp)
                    objects.append(stix.dumps(obj))
            if objects:
                yield _SEPARATORS["stix"].join(objects)

    def _delta_line(self, row) -> str:
        """One delta row through the one writer: upsert when the snapshot holds it, else remove.

        An upsert is the listing's stored line (the lifecycle stores each listing's view as it
        stamps it, and restamps an origin's listings when its policy changes) with the action
        added; only a removal needs its view worked out here.
        """
        if row.match and row.stored is not None:
            return render.upsert_line(row.stored, self.format)
        view = rules.merged_view(row, self.country, self.policies)
        if row.match:
            action, reason = "upsert", None
        elif view.exported:
            action, reason = "remove", "filtered"
        else:
            action, reason = "remove", view.removal_reason or "not_listed"
        if self.format == "txt":
            return render.txt_line(view, action)
        if self.format == "csv":
            return render.csv_line(view, action, reason)
        return render.json_item(view, action, reason)


def _joined(dialect: str, page, separator: str) -> ColumnElement[str]:
    """The page's lines joined into one text, in key order, by the database."""
    if dialect == "postgresql":
        return func.string_agg(page.c.line, aggregate_order_by(literal(separator), page.c.key))
    return func.group_concat(page.c.line, separator)


def _rank() -> ColumnElement[int]:
    """The shown risk tier as a number, very_high highest."""
    return case({tier: rank for rank, tier in enumerate(RISKS)}, value=Indicator.shown_risk)


def _top_order() -> tuple:
    """A top-N list's order: the riskiest, then the most recently reported."""
    return (_rank().desc(), Indicator.last_reported_at.desc(), Indicator.id)


# --- filters ------------------------------------------------------------------------------------


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


def check_filters(filters: Filters, since: int | None, fmt: str = "csv") -> None:
    """Refuse filter combinations that cannot be served, naming the field."""
    errors = []
    if fmt == "txt" and len(filters.kinds) != 1:
        errors.append(
            _query_error(
                "kind",
                "one_kind_required" if filters.kinds else "required",
                "A txt list is one kind of value per file, as a firewall loads it: name one "
                "kind (phone, phone_range, sender_id, url, domain or message).",
            )
        )
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


# --- downloads ----------------------------------------------------------------------------------


def open_download(
    session: Session,
    fmt: str,
    filters: Filters,
    country: str,
    since: int | None = None,
    tlp: str = "TLP:AMBER",
) -> Download:
    """Read the cursor and prepare the download in one consistent snapshot of the database.

    The cursor is read before any row, in the same snapshot: every change numbered up to it is
    visible (lifecycle.reserve_sequences makes sequence values commit in order), so a consumer
    that asks for the changes after it next time misses nothing.
    """
    if fmt not in FORMATS:
        raise Invalid(f"format must be one of {', '.join(FORMATS)}.", code="unknown_format")
    check_filters(filters, since, fmt)
    if fmt == "txt":
        # A firewall blocks every line of its list: values only warn origins list stay out,
        # unless the caller asks for them too.
        filters = replace(filters, block_only=not filters.include_warn)
    if session.bind.dialect.name == "postgresql":
        session.connection(execution_options={"isolation_level": "REPEATABLE READ"})
    cursor = lifecycle.current_sequence(session)
    if since is not None and since > cursor:
        raise Invalid(
            f"The cursor {since} is ahead of this node's sequence ({cursor}); download the full "
            "list again.",
            code="cursor_ahead",
            errors=[_query_error("since", "cursor_ahead", f"at most {cursor}")],
        )
    if since is not None and since < lifecycle.full_list_since(session):
        raise Invalid(
            f"The values of this node's indicators were rewritten after cursor {since} (URLs "
            "without their scheme): a delta cannot remove the old values, download the full "
            "list again.",
            code="full_list_needed",
            errors=[_query_error("since", "full_list_needed", "download the full list again")],
        )
    policies = lifecycle.peer_policies(session) if since is not None else {}
    return Download(session, fmt, filters, country, cursor, since, policies, tlp)


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
