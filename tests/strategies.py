"""Hypothesis strategies shared by the fast-loader property tests."""

from __future__ import annotations

from hypothesis import strategies as st


def field_values(words: list[str], datetimes, list_items: list) -> st.SearchStrategy:
    """Any value a JSON field might hold: plain types, the schema's own words, datetimes, lists."""
    return st.one_of(
        st.none(),
        st.booleans(),
        st.integers(-5, 10**6),
        st.floats(allow_nan=False, allow_infinity=False),
        st.text(max_size=12),
        st.sampled_from(words),
        datetimes,
        st.lists(st.sampled_from(list_items), max_size=3),
    )
