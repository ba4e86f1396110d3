"""The SMS Spam Collection: spam variants collapse into shared templates, ham stays apart."""

from __future__ import annotations

import itertools
from collections import defaultdict

import pytest

from scamshare.normalise import SIMILARITY_THRESHOLD, normalise, similarity

from .data import sms_spam_collection

# The collection's messages are British, so the submitter's region is Great Britain.
REGION = "GB"
# Upper bound the issue sets on ham messages matching any spam template at the threshold.
HAM_FALSE_MATCH_LIMIT = 0.005


@pytest.fixture(scope="module")
def collection():
    """Return (label, text, normalised) for every message, normalised once per test module."""
    return [
        (label, text, normalise("message", text, REGION)) for label, text in sms_spam_collection()
    ]


def _spam_templates(collection) -> dict[str, str]:
    """Return each distinct spam fingerprint with its signature."""
    return {
        result.value: result.facts["signature"]
        for label, _, result in collection
        if label == "spam"
    }


def _band_index(signatures: dict[str, str], collection) -> dict[str, set[str]]:
    """Index spam fingerprints by band, as a node's database would."""
    bands = {
        result.value: result.facts["bands"] for label, _, result in collection if label == "spam"
    }
    index: dict[str, set[str]] = defaultdict(set)
    for fingerprint in signatures:
        for band in bands[fingerprint]:
            index[band].add(fingerprint)
    return index


def test_the_fixture_is_the_whole_collection(collection):
    """The copy in fixtures/ is the original: 4,827 ham and 747 spam messages."""
    labels = [label for label, _, _ in collection]
    assert labels.count("ham") == 4827
    assert labels.count("spam") == 747


@pytest.mark.parametrize(
    "variants",
    [
        (
            "URGENT! Your Mobile number has been awarded with a £2000 prize GUARANTEED. "
            "Call 09058094454 from land line. Claim 3030. Valid 12hrs only",
            "URGENT! Your Mobile number has been awarded with a £2000 prize GUARANTEED. "
            "Call 09058094455 from land line. Claim 3030. Valid 12hrs only",
        ),
        (
            "PRIVATE! Your 2003 Account Statement for 07753741225 shows 800 un-redeemed S. I. M. "
            "points. Call 08715203677 Identifier Code: 42478 Expires 24/10/04",
            "PRIVATE! Your 2003 Account Statement for 07808247860 shows 800 un-redeemed S. I. M. "
            "points. Call 08719899229 Identifier Code: 40411 Expires 06/11/04",
        ),
    ],
)
def test_spam_variants_in_the_collection_share_one_template(collection, variants):
    """Messages that differ only in numbers, codes and dates get one fingerprint."""
    fingerprints = {text: result.value for label, text, result in collection if label == "spam"}
    assert set(variants) <= set(fingerprints)
    assert len({fingerprints[text] for text in variants}) == 1


def test_spam_variants_collapse_into_shared_templates(collection):
    """Exact templates merge variants; near-duplicate clusters number at most 80% of the texts."""
    spam = [(text, result) for label, text, result in collection if label == "spam"]
    distinct_texts = {text for text, _ in spam}
    texts_by_template: dict[str, set[str]] = defaultdict(set)
    for text, result in spam:
        texts_by_template[result.value].add(text)
    shared = [texts for texts in texts_by_template.values() if len(texts) > 1]
    assert len(texts_by_template) < len(distinct_texts)
    assert len(shared) >= 20

    # Cluster templates that are near-duplicates, finding candidates through the bands.
    signatures = _spam_templates(collection)
    index = _band_index(signatures, collection)
    parent = {fingerprint: fingerprint for fingerprint in signatures}

    def root(fingerprint: str) -> str:
        """Return the cluster a template belongs to."""
        while parent[fingerprint] != fingerprint:
            parent[fingerprint] = parent[parent[fingerprint]]
            fingerprint = parent[fingerprint]
        return fingerprint

    for members in index.values():
        for first, second in itertools.combinations(sorted(members), 2):
            if similarity(signatures[first], signatures[second]) >= SIMILARITY_THRESHOLD:
                parent[root(second)] = root(first)
    clusters = {root(fingerprint) for fingerprint in signatures}
    assert len(clusters) <= 0.8 * len(distinct_texts)


def test_fewer_than_half_a_percent_of_ham_match_any_spam_template(collection):
    """Ham messages rarely reach the similarity threshold against any spam template."""
    signatures = _spam_templates(collection)
    index = _band_index(signatures, collection)
    ham = [result for label, _, result in collection if label == "ham"]
    matched = 0
    for result in ham:
        candidates = set().union(*(index.get(band, ()) for band in result.facts["bands"]))
        signature = result.facts["signature"]
        if result.value in signatures or any(
            similarity(signature, signatures[candidate]) >= SIMILARITY_THRESHOLD
            for candidate in candidates
        ):
            matched += 1
    assert matched / len(ham) < HAM_FALSE_MATCH_LIMIT
