"""Loading a batch off the wire: the schema's answer, with a direct path for plain valid input.

A batch carries up to 20,000 contributions, and marshmallow costs tens of microseconds for
each, more than the database spends storing one. `load_contribution` is `ContributionSchema`
compiled by `scamshare.fastload`: plainly valid contributions are checked directly, anything
else goes to the schema, so results and error messages are always the schema's; a property test
checks that both agree.
"""

from __future__ import annotations

from typing import Any

from marshmallow import ValidationError

from scamshare.fastload import compile_loader
from schemas.federation import BATCH_LIMIT, BatchSchema, ContributionSchema

# The schema's own answer, with fastload's direct path for plainly valid contributions.
load_contribution = compile_loader(ContributionSchema())


def load_batch(data: Any) -> dict:
    """Load a batch: its envelope through the schema, its many contributions on the fast path."""
    if not isinstance(data, dict) or not isinstance(data.get("contributions"), list):
        return BatchSchema().load(data)
    envelope = BatchSchema(exclude=("contributions",)).load(
        {k: v for k, v in data.items() if k != "contributions"}
    )
    if len(data["contributions"]) > BATCH_LIMIT:
        return BatchSchema().load(data)  # let the schema word the length error
    loaded, errors = [], {}
    for index, item in enumerate(data["contributions"]):
        try:
            loaded.append(load_contribution(item))
        except ValidationError as error:
            errors[index] = error.messages
    if errors:
        raise ValidationError({"contributions": errors})
    return {**envelope, "contributions": loaded}
