"""ScamShare: the ASEAN anti-scam information-sharing node."""

__version__ = "0.1.0"
