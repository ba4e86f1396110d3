"""Configuration: defaults, overlaid by SCAMSHARE_* environment variables, then by the caller."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

MEMBER_STATES = ("BN", "KH", "ID", "LA", "MY", "MM", "PH", "SG", "TH", "TL", "VN")

# Each key is read from the environment as SCAMSHARE_<KEY>; its default's type decides parsing.
DEFAULTS: dict[str, Any] = {
    "COUNTRY": "SG",
    "NODE_ID": "",  # derived from the country when empty: "scamshare-sg"
    "DATA_DIR": "instance",
    "DATABASE_URL": "",  # derived from DATA_DIR when empty: SQLite file scamshare.db
    "MAX_BODY_BYTES": 32 * 1024 * 1024,
    "LOG_LEVEL": "INFO",
    "LOG_REQUESTS": True,
    "KEY_TOUCH_SECONDS": 60,  # how stale last_used_at may get before a request rewrites it
    "KEY_CACHE_SECONDS": 5,  # how long a worker trusts a key it read (revocations elsewhere)
    # Listing and expiry rules (scamshare/policy.py); per-kind overrides as "kind=value,...".
    "LISTING_MIN_ORGS": 3,
    "LISTING_WINDOW_DAYS": 10,
    "LISTING_RULES": "",  # e.g. "url=2/7,sender_id=4/10": N organisations within W days
    "TTL_DAYS": "",  # e.g. "url=7,phone=45"; defaults in policy.DEFAULT_TTL_DAYS
    "DELIST_COOLDOWN_DAYS": 30,
    "APPEAL_OVERDUE_DAYS": 5,
    "RANGE_MAX": 1000,
    # The scheduler (scamshare/scheduler.py): its database lease and job intervals.
    "SCHEDULER_LEASE_SECONDS": 60,
    "EXPIRE_INTERVAL_SECONDS": 3600,
    "PUSH_INTERVAL_SECONDS": 900,
    "RECONCILE_INTERVAL_SECONDS": 86400,
    # Federation (scamshare/federation): the node key, batch size, timeouts and retries.
    "NODE_KEY": "",  # PEM of the node's Ed25519 private key; else DATA_DIR/node_key.pem
    "FEDERATION_BATCH_SIZE": 5000,
    "FEDERATION_CONNECT_TIMEOUT": 5,
    "FEDERATION_READ_TIMEOUT": 30,
    "FEDERATION_ATTEMPTS": 3,
    "FEDERATION_RETRY_BASE_SECONDS": 1,
    "FEDERATION_BACKOFF_SECONDS": 60,
    # How long peers still accept batches signed with a node's previous key after it rotates.
    "KEY_ROTATION_OVERLAP_SECONDS": 7 * 24 * 3600,
    "BATCH_MAX": 10000,
    # Interop (scamshare/interop): the TLP 2.0 marking of every STIX object and MISP event.
    "TLP": "TLP:AMBER",
    # TAXII import (scamshare/services/taxii_import.py): a scheduler job when URL is set.
    "TAXII_IMPORT_URL": "",  # a TAXII 2.1 API root
    "TAXII_IMPORT_COLLECTION": "",
    "TAXII_IMPORT_ORG": "",  # the organisation (name or id) the reports are submitted as
    "TAXII_IMPORT_USER": "",
    "TAXII_PASSWORD": "",  # the TAXII server's password, for the command and the job
    "TAXII_IMPORT_INTERVAL_SECONDS": 3600,
    # The console (scamshare/console): its session cookie and sign-in limits.
    "SECRET_KEY": "",  # signs session cookies; else DATA_DIR/console_secret, made on first use
    "HTTPS": False,  # the node is served over HTTPS (the reverse proxy): cookies become Secure
    "CONSOLE_SESSION_MINUTES": 480,  # a console session ends this long after sign-in
    "CONSOLE_LOGIN_LIMIT": "5 per minute",  # failed sign-ins per client address
    "CONSOLE_COUNTS_SECONDS": 30,  # how old the dashboard's listings per kind may be
}
TLP_LEVELS = ("TLP:CLEAR", "TLP:GREEN", "TLP:AMBER", "TLP:AMBER+STRICT", "TLP:RED")


class ConfigError(ValueError):
    """A configuration value that cannot be used."""


def _parse(key: str, raw: str, default: Any) -> Any:
    """Parse one environment string into the type of its default."""
    if isinstance(default, bool):
        lowered = raw.strip().lower()
        if lowered in ("1", "true", "yes", "on"):
            return True
        if lowered in ("0", "false", "no", "off", ""):
            return False
        raise ConfigError(f"SCAMSHARE_{key} must be a boolean, not {raw!r}")
    if isinstance(default, int):
        try:
            return int(raw)
        except ValueError:
            raise ConfigError(f"SCAMSHARE_{key} must be an integer, not {raw!r}") from None
    return raw


def load(overrides: dict[str, Any] | None = None, environ: dict[str, str] | None = None) -> dict:
    """Return the effective configuration: defaults, then environment, then overrides."""
    environ = os.environ if environ is None else environ
    config = dict(DEFAULTS)
    for key, default in DEFAULTS.items():
        if f"SCAMSHARE_{key}" in environ:
            config[key] = _parse(key, environ[f"SCAMSHARE_{key}"], default)
    config.update(overrides or {})
    return finalise(config)


def finalise(config: dict) -> dict:
    """Validate the configuration and fill in the values derived from others."""
    country = str(config["COUNTRY"]).upper()
    if country not in MEMBER_STATES:
        raise ConfigError(
            f"SCAMSHARE_COUNTRY must be one of {' '.join(MEMBER_STATES)}, not {country!r}"
        )
    config["COUNTRY"] = country
    tlp = str(config["TLP"]).upper()
    if tlp not in TLP_LEVELS:
        raise ConfigError(f"SCAMSHARE_TLP must be one of {' '.join(TLP_LEVELS)}, not {tlp!r}")
    config["TLP"] = tlp
    config["NODE_ID"] = config["NODE_ID"] or f"scamshare-{country.lower()}"
    data_dir = Path(config["DATA_DIR"]).resolve()
    config["DATA_DIR"] = str(data_dir)
    if not config["DATABASE_URL"]:
        config["DATABASE_URL"] = f"sqlite:///{data_dir / 'scamshare.db'}"
    return config
