"""The inputs both trees get in bench/compare.py: seeded reports in request bodies, and values
to look up."""

from __future__ import annotations

from dataclasses import dataclass

import ingest  # bench/ is on sys.path when a script runs
import phonenumbers

BATCH = 5000
LOOKUP_BATCH = 1000
SYNCS = 3
WARM_UP = 200


@dataclass(frozen=True)
class Batch:
    """One POST /api/v1/reports body, the role whose key sends it, and its number of reports."""

    role: str
    body: bytes
    reports: int


def batches(reports: list[dict], roles: tuple[str, ...]) -> list[Batch]:
    """The reports in bodies of 5,000, sent by the roles in turn."""
    bodies = ingest.batch_bodies(reports, BATCH)
    return [
        Batch(roles[index % len(roles)], body, len(reports[index * BATCH : (index + 1) * BATCH]))
        for index, body in enumerate(bodies)
    ]


def interleave(listed: list[str], unknown: list[str]) -> list[str]:
    """Listed and unknown values in turn, starting with a listed one."""
    return [value for pair in zip(listed, unknown, strict=True) for value in pair]


def distinct(count: int, seed: int) -> list[tuple[dict, str]]:
    """`count` verified phone reports of as many different numbers, each with its E.164 form."""
    reports, numbers = ingest.generate(count * 5 // 4 + 100, seed)
    seen: set[str] = set()
    unique = []
    for report in reports:
        parsed = phonenumbers.parse(report["value"], report["region"])
        e164 = phonenumbers.format_number(parsed, phonenumbers.PhoneNumberFormat.E164)
        if e164 not in seen:
            seen.add(e164)
            unique.append(({**report, "verified": True}, e164))
    if len(unique) < count:
        raise RuntimeError(f"only {len(unique)} of {numbers} numbers are distinct")
    return unique[:count]


@dataclass
class Inputs:
    """The seeded inputs both trees get."""

    ingest: list[Batch]
    listed: list[Batch]
    changes: list[Batch]
    federation: list[list[Batch]]  # a warm-up part, then the timed ones
    listed_count: int
    change_count: int
    lookups: list[str]
    batch_lookup: list[str]

    @classmethod
    def build(cls, rows: int, changes: int, lookups: int, indicators: int, **sizes: int) -> Inputs:
        """Generate the reports (bench/ingest.py's generator) and the values to look up."""
        ingest_reports, _ = ingest.generate(sizes["reports"], sizes["seed"])
        half = lookups // 2
        unknown_count = half + LOOKUP_BATCH // 2
        pool = distinct(
            max(rows, indicators + WARM_UP) + changes + unknown_count, sizes["seed"] + 1
        )
        verified = [report for report, _ in pool]
        listed = [e164 for _, e164 in pool[:rows]]
        unknown = [e164 for _, e164 in pool[rows + changes :]]  # numbers nobody reported
        step = -(-indicators // SYNCS)
        federated = verified[WARM_UP : WARM_UP + indicators]
        return cls(
            ingest=batches(ingest_reports, ingest.SUBMITTERS),
            listed=batches(verified[:rows], ("regulator",)),
            changes=batches(verified[rows : rows + changes], ("regulator",)),
            federation=[
                batches(part, ("regulator",))
                for part in [verified[:WARM_UP]]
                + [federated[start : start + step] for start in range(0, indicators, step)]
            ],
            listed_count=rows,
            change_count=changes,
            lookups=interleave(listed[:half], unknown[:half]),
            batch_lookup=interleave(listed[-LOOKUP_BATCH // 2 :], unknown[half:unknown_count]),
        )
