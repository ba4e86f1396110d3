"""Property tests: canonical values are fixed points, and no input raises anything unexpected."""

from __future__ import annotations

import itertools

import phonenumbers
import pytest
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

from scamshare.normalise import (
    KINDS,
    SIMILARITY_THRESHOLD,
    NormalisationError,
    normalise,
    range_bounds,
    range_covers,
    signature_bands,
    similarity,
)

from .data import ASEAN_REGIONS, asean_examples

# Modest example counts keep the whole normalisation suite well under half a minute on two cores.
PROPERTY = settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])
EXAMPLES = asean_examples()
REGIONS = st.sampled_from((None, *ASEAN_REGIONS))
ANY_TEXT = st.text(st.characters(exclude_categories=()), max_size=80)
FORMATS = {
    "e164": phonenumbers.PhoneNumberFormat.E164,
    "national": phonenumbers.PhoneNumberFormat.NATIONAL,
    "international": phonenumbers.PhoneNumberFormat.INTERNATIONAL,
    "rfc3966": phonenumbers.PhoneNumberFormat.RFC3966,
}


# Facts about what was submitted rather than about the value: a canonical input has none to fold.
INPUT_FACTS = {"folded", "input_host"}


def canonical_part(result) -> dict:
    """Return a result without the facts that describe the submitted spelling."""
    shown = result.to_dict()
    shown["facts"] = {
        name: fact for name, fact in shown["facts"].items() if name not in INPUT_FACTS
    }
    return shown


def assert_fixed_point(result, region=None, **options):
    """Normalising a canonical value again, with or without the region, changes nothing."""
    assert canonical_part(normalise(result.kind, result.value, **options)) == canonical_part(result)
    assert canonical_part(
        normalise(result.kind, result.value, region, **options)
    ) == canonical_part(result)


@st.composite
def asean_phone_inputs(draw):
    """Draw an ASEAN example number with some last digits replaced, in one of several formats."""
    row = draw(st.sampled_from(EXAMPLES))
    national = row["e164"][1 + len(row["country_code"]) :]
    replaced = draw(st.integers(1, min(4, len(national) - 1)))
    digits = draw(st.text("0123456789", min_size=replaced, max_size=replaced))
    number = phonenumbers.PhoneNumber(
        country_code=int(row["country_code"]), national_number=int(national[:-replaced] + digits)
    )
    style = draw(st.sampled_from(sorted(FORMATS)))
    return phonenumbers.format_number(number, FORMATS[style]), row["region"]


@PROPERTY
@given(asean_phone_inputs())
def test_a_canonical_phone_number_normalises_to_itself(phone_input):
    """Whatever a valid ASEAN number looked like, its E.164 form is a fixed point."""
    text, region = phone_input
    try:
        result = normalise("phone", text, region)
    except NormalisationError:
        assume(False)
    assert_fixed_point(result, region)


DIGIT_STRINGS = st.one_of(
    st.from_regex(r"\+?[0-9 ()\-.]{1,18}", fullmatch=True),
    st.from_regex(r"\+?(?:1[0-9]{2,3}|9[0-9]{2}|[0-9]{8,11})", fullmatch=True),
)


@PROPERTY
@given(DIGIT_STRINGS, REGIONS)
def test_any_accepted_digit_string_is_a_fixed_point(text, region):
    """Random digit strings that happen to be numbers or short codes are fixed points too."""
    try:
        result = normalise("phone", text, region)
    except NormalisationError:
        return
    assert_fixed_point(result, region)


@PROPERTY
@given(st.sampled_from(EXAMPLES), st.integers(1, 3), st.sampled_from(["x", "*", "?"]))
def test_a_canonical_range_normalises_to_itself(row, wildcards, mark):
    """A range written any way normalises to a value that is its own canonical form."""
    try:
        result = normalise("phone_range", row["e164"][:-wildcards] + mark * wildcards)
    except NormalisationError:
        assume(False)
    assert result.value == row["e164"][:-wildcards] + "*" * wildcards
    assert range_covers(result.value, row["e164"])
    assert_fixed_point(result, row["region"])


SENDER_ALPHABET = st.sampled_from(
    list("ABCDEFGHIJKLMNOPQRSTUVWXYZabcxyz0123456789 &._-!")
    + list("АВЕКМНОРСТХаеорсхΑΒΕΚΜΟΡΤＡＢＣ１２\u200b\u00e9ᴄꭺ")
)


@PROPERTY
@given(st.text(SENDER_ALPHABET, min_size=1, max_size=14), REGIONS)
def test_a_canonical_sender_id_normalises_to_itself(text, region):
    """Folded, upper-cased sender IDs (and numeric ones, as phones) are fixed points."""
    try:
        result = normalise("sender_id", text, region)
    except NormalisationError:
        assume(False)
    assert_fixed_point(result, region)


LABEL = st.text(st.sampled_from(list("abcxyz019-_ABCüéไทยđ")), min_size=1, max_size=12)
PATH = st.text(st.sampled_from(list("abcXYZ019-._~!$&'()*+,;=:@/%?#[] é€ไ\\")), max_size=25)


@st.composite
def url_inputs(draw):
    """Draw URL-like text: optional scheme, labels under a real suffix, port, path and query."""
    scheme = draw(st.sampled_from(["", "http://", "https://", "HTTPS://", "hxxp://", "//"]))
    labels = draw(st.lists(LABEL, min_size=1, max_size=3))
    suffix = draw(
        st.sampled_from(["com", "co.th", "com.vn", "sg", "pages.dev", "ไทย", "xyz", "co.id"])
    )
    port = draw(st.sampled_from(["", ":80", ":443", ":8080"]))
    query = draw(st.sampled_from(["", "?utm_source=x", "?a=1&utm_medium=y&b=%7e", "?fbclid=1"]))
    return f"{scheme}{'.'.join(labels)}.{suffix}{port}/{draw(PATH)}{query}"


@PROPERTY
@given(url_inputs())
def test_a_canonical_url_normalises_to_itself(text):
    """A canonical URL is a fixed point, and so is the registrable domain derived from it."""
    try:
        result = normalise("url", text)
    except NormalisationError:
        assume(False)
    assert_fixed_point(result)
    if result.facts["domain"] is None and not result.facts["is_ip"]:
        # A link on a host that is itself a public suffix (za.com, blogspot.com) is a URL
        # indicator with no registrable domain: the domain kind refuses the host.
        with pytest.raises(NormalisationError):
            normalise("domain", text)
        return
    domain = normalise("domain", text)
    assert_fixed_point(domain)
    assert domain.value == result.facts["domain"]


@PROPERTY
@given(ANY_TEXT)
def test_any_accepted_text_is_a_fixed_point_as_url_and_domain(text):
    """Even for arbitrary text, whatever is accepted as a URL or a domain is canonical."""
    for kind in ("url", "domain"):
        try:
            result = normalise(kind, text)
        except NormalisationError:
            continue
        assert_fixed_point(result)


@PROPERTY
@given(st.text(st.characters(exclude_categories=("Cs",)), min_size=1, max_size=120), REGIONS)
def test_a_template_is_its_own_template(text, region):
    """Normalising a template again yields the same template, fingerprint and signature."""
    try:
        result = normalise("message", text, region)
    except NormalisationError:
        assume(False)
    again = normalise("message", result.facts["template"], region)
    assert again.facts["template"] == result.facts["template"]
    assert again.value == result.value
    assert again.facts["signature"] == result.facts["signature"]


@pytest.mark.parametrize("kind", KINDS)
@PROPERTY
@given(text=ANY_TEXT, region=st.sampled_from((None, "GB", *ASEAN_REGIONS)))
def test_arbitrary_unicode_raises_nothing_but_normalisation_error(kind, text, region):
    """Any string, of any script, with controls and lone surrogates, is a result or one error."""
    try:
        result = normalise(kind, text, region)
    except NormalisationError as error:
        assert error.reason and error.message
        return
    assert result.to_dict()["value"] == result.value


# Letters only: a word with digits in it would become a <code> placeholder in the template.
WORDS = st.lists(
    st.sampled_from(["".join(letters) for letters in itertools.product("klmnp", repeat=3)][:40]),
    min_size=16,
    max_size=40,
)


@PROPERTY
@given(WORDS, WORDS)
def test_similarity_estimates_the_jaccard_similarity_of_the_words(first, second):
    """MinHash estimates are symmetric, 1 for one template, and near the true Jaccard share."""
    signature_a = normalise("message", " ".join(first)).facts["signature"]
    signature_b = normalise("message", " ".join(second)).facts["signature"]
    assume(signature_a and signature_b)
    estimate = similarity(signature_a, signature_b)
    assert estimate == similarity(signature_b, signature_a)
    assert similarity(signature_a, signature_a) == 1.0
    words_a, words_b = set(first), set(second)
    jaccard = len(words_a & words_b) / len(words_a | words_b)
    # 128 permutations: the standard error is at most 0.045, five of them is never reached.
    assert abs(estimate - jaccard) < 0.23
    if estimate >= SIMILARITY_THRESHOLD + 0.2:
        assert set(signature_bands(signature_a)) & set(signature_bands(signature_b))


@PROPERTY
@given(st.sampled_from(EXAMPLES), st.integers(1, 3), st.integers(0, 10**15))
def test_range_coverage_agrees_with_range_bounds(row, wildcards, candidate):
    """A number is covered exactly when its digits lie within the range's bounds."""
    range_value = row["e164"][:-wildcards] + "*" * wildcards
    low, high = range_bounds(range_value)
    assert range_covers(range_value, f"+{candidate}") == (low <= candidate <= high)
    assert range_covers(range_value, f"+{low}") and range_covers(range_value, f"+{high}")
