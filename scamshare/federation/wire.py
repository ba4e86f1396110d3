"""Loading a batch off the wire: the schema's answer, with a direct path for plain valid input.

A batch carries up to 20,000 contributions, and marshmallow costs tens of microseconds for
each, more than the database spends storing one. `load_contribution` is `ContributionSchema`
compiled by `scamshare.fastload`: plainly valid contributions are checked directly, anything
else goes to the schema, so results and error messages are always the schema's; a property test
checks that both agree.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from marshmallow import ValidationError

from scamshare.fastload import compile_loader
from schemas.federation import BATCH_LIMIT, BatchSchema, ContributionSchema

# The schema's own answer, with fastload's direct path for plainly valid contributions.
load_contribution = compile_loader(ContributionSchema())


def iso_text(wire_text: Any, moment: datetime | None) -> str | None:
    """What `moment.isoformat()` renders, taken from the wire text that parsed to it if equal.

    Senders write `isoformat()` in UTC, and rendering a datetime again costs more than storing
    it; the wire text is used only when it has exactly the shape `isoformat()` gives.
    """
    if moment is None:
        return None
    if type(wire_text) is str and (
        (len(wire_text) == 25 or (len(wire_text) == 32 and wire_text[19] == "."))
        and wire_text.endswith("+00:00")
        and wire_text[4] == wire_text[7] == "-"
        and wire_text[10] == "T"
        and wire_text[13] == wire_text[16] == ":"
        and wire_text[20:26] != "000000"
    ):
        return wire_text
    return moment.isoformat()


def load_batch(data: Any) -> dict:
    """Load a batch: its envelope through the schema, its many contributions on the fast path.

    Besides the loaded fields, `iso_texts` holds each contribution's three datetimes as
    `isoformat()` renders them (first reported, last reported, expires), or None.
    """
    if not isinstance(data, dict) or not isinstance(data.get("contributions"), list):
        return BatchSchema().load(data)
    envelope = BatchSchema(exclude=("contributions",)).load(
        {k: v for k, v in data.items() if k != "contributions"}
    )
    if len(data["contributions"]) > BATCH_LIMIT:
        return BatchSchema().load(data)  # let the schema word the length error
    loaded, texts, errors = [], [], {}
    for index, item in enumerate(data["contributions"]):
        try:
            contribution = load_contribution(item)
        except ValidationError as error:
            errors[index] = error.messages
            continue
        loaded.append(contribution)
        texts.append(
            (
                iso_text(item.get("first_reported"), contribution["first_reported"]),
                iso_text(item.get("last_reported"), contribution["last_reported"]),
                iso_text(item.get("expires_at"), contribution["expires_at"]),
            )
        )
    if errors:
        raise ValidationError({"contributions": errors})
    return {**envelope, "contributions": loaded, "iso_texts": texts}
