"""The one error every normaliser raises: a machine-readable reason and a sentence for people."""

from __future__ import annotations


class NormalisationError(ValueError):
    """A submitted value cannot become a canonical key; `reason` says why in a stable code."""

    def __init__(self, reason: str, message: str) -> None:
        """Keep the machine code and the human sentence side by side."""
        super().__init__(message)
        self.reason = reason
        self.message = message

    def __repr__(self) -> str:
        """Show both the code and the sentence, which is what a log reader needs."""
        return f"NormalisationError({self.reason!r}, {self.message!r})"

    def to_dict(self) -> dict[str, str]:
        """Return the error in the shape the API and the command line print."""
        return {"reason": self.reason, "message": self.message}
