"""Configuration: defaults, environment, overrides."""

from __future__ import annotations

import pytest

from scamshare import config


def test_defaults_derive_node_id_and_sqlite_file(tmp_path):
    """With nothing set, the node is SG on a SQLite file in the data directory."""
    loaded = config.load({"DATA_DIR": str(tmp_path)}, environ={})
    assert loaded["COUNTRY"] == "SG"
    assert loaded["NODE_ID"] == "scamshare-sg"
    assert loaded["DATABASE_URL"] == f"sqlite:///{tmp_path / 'scamshare.db'}"


def test_environment_overlays_defaults_with_types():
    """SCAMSHARE_* variables are parsed to the default's type."""
    loaded = config.load(
        environ={
            "SCAMSHARE_COUNTRY": "vn",
            "SCAMSHARE_MAX_BODY_BYTES": "2048",
            "SCAMSHARE_LOG_REQUESTS": "false",
        }
    )
    assert loaded["COUNTRY"] == "VN"
    assert loaded["NODE_ID"] == "scamshare-vn"
    assert loaded["MAX_BODY_BYTES"] == 2048
    assert loaded["LOG_REQUESTS"] is False


def test_overrides_beat_the_environment():
    """The caller's configuration wins."""
    loaded = config.load({"COUNTRY": "TH"}, environ={"SCAMSHARE_COUNTRY": "VN"})
    assert loaded["COUNTRY"] == "TH"


@pytest.mark.parametrize(
    ("environ", "message"),
    [
        ({"SCAMSHARE_COUNTRY": "FR"}, "must be one of"),
        ({"SCAMSHARE_MAX_BODY_BYTES": "lots"}, "must be an integer"),
        ({"SCAMSHARE_LOG_REQUESTS": "maybe"}, "must be a boolean"),
    ],
)
def test_bad_values_are_refused_by_name(environ, message):
    """A bad setting names the variable and the reason."""
    with pytest.raises(config.ConfigError, match=message):
        config.load(environ=environ)


def test_importing_modules_has_no_side_effects():
    """Importing every module creates no app, engine, thread or file."""
    import importlib
    import pkgutil
    import threading

    import scamshare

    before = threading.active_count()
    for module in pkgutil.walk_packages(scamshare.__path__, "scamshare."):
        if module.name in ("scamshare.__main__",) or ".migrations." in module.name:
            continue
        importlib.import_module(module.name)
    assert threading.active_count() == before
