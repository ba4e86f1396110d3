"""SMS message templates: normalised text, typed placeholders, fingerprint, MinHash signature.

About 350 lines: reading links and numbers out of a text and masking them in its template are
one pass over the text, so they stay together.
"""

from __future__ import annotations

import hashlib
import math
import re
import threading
import unicodedata
import warnings
from typing import TYPE_CHECKING, Any

import phonenumbers

from .errors import NormalisationError
from .phone import classify_number
from .result import Normalised
from .sender_id import normalise_sender_id
from .signature import signature as minhash_signature
from .signature import signature_bands
from .text import clean, collapse_spaces, fold_confusable_words
from .url import defang, normalise_url

if TYPE_CHECKING:
    import myanmartools

# Concatenated SMS rarely exceed a few segments; the cap keeps hostile input cheap.
MAX_MESSAGE_LENGTH = 5000
# Extracted indicators per message; more than this is a list pasted as a message, not an SMS.
MAX_EXTRACTED = 20

ZAWGYI_THRESHOLD = 0.95

# Placeholders are private-use characters while the template is built (so no later rule can
# touch them) and typed words in angle brackets in the template people read.
PLACEHOLDERS = {
    "url": "\ue000",
    "email": "\ue001",
    "phone": "\ue002",
    "amount": "\ue003",
    "date": "\ue004",
    "time": "\ue005",
    "code": "\ue006",
    "number": "\ue007",
}
_DISPLAY = str.maketrans({mark: f"<{name}>" for name, mark in PLACEHOLDERS.items()})
_RESERVED = str.maketrans(dict.fromkeys(range(0xE000, 0xE010)))

_EMAIL = re.compile(r"[A-Za-z0-9._%+\-]+@[A-Za-z0-9\-]+(?:\.[A-Za-z0-9\-]+)*\.[A-Za-z]{2,}")
_URL_BODY = r"[A-Za-z0-9\-._~:/?#\[\]@!$&'()*+,;=%]"
# Only ASCII counts as "touching" a link: Thai, Lao, Khmer and Burmese put no space between a
# word and the link after it ("กดลิงก์singpost-th.top/x"), yet those letters are \w to Python.
_URL = re.compile(
    rf"(?i)(?P<explicit>(?:https?://|www\.){_URL_BODY}+)"
    rf"|(?<![A-Za-z0-9_@.\-])(?P<bare>(?:[a-z0-9](?:[a-z0-9\-]{{0,61}}[a-z0-9])?\.)+[a-z]{{2,24}}"
    rf"(?::\d{{1,5}})?(?:/{_URL_BODY}*)?)(?![A-Za-z0-9_\-])"
)
_URL_TRAILING = ".,;:!?)]}'\""
# Schemes as people mistype them on a phone: "http;//", "http//", "https:/", "http:\\", "htp://".
_SCHEME_TYPO = re.compile(
    r"(?i)(?<![a-z])ht{1,2}p(?P<secure>s?)(?:\s?[:;.,]\s?[/\\]{1,3}|[/\\]{2,3})(?=[a-z0-9\[])"
)
# A word glued to the front of a link by a missing space ("info.www.example.com"): "www." starts
# a host, so whatever stands before it is text.
_GLUED_WWW = re.compile(r"(?i)(?<=.)(?<![/:])www\d?\.")
# Words that end a sentence or call to action and often lose the space before a link
# ("kunjungi.bank-verify.top"); deliberately no word that is also a common sub-domain label
# ("login", "link", "go", "web", "my", "info", "secure").
_GLUE_WORDS = frozenset(
    {
        "click", "visit", "here", "now", "today", "please", "pls", "at", "to", "via", "klik",
        "layari", "sila", "sini", "disini", "kunjungi", "segera", "sekarang", "ke", "di", "dito",
        "sa", "ngayon", "pindutin",
    }
)  # fmt: skip
# Without a scheme or "www.", a dotted word is a link only under a suffix that scam links use;
# English SMS glue words with dots ("ok.how") and some of those words are real TLDs, so "my",
# "me" and "la" ("sorry.my", "call.me", "ok.la") count only with a path or a two-level suffix.
_BARE_SUFFIXES = frozenset(
    {
        "com", "net", "org", "info", "biz", "xyz", "top", "site", "online", "club", "vip", "shop",
        "icu", "cc", "ly", "io", "co", "link", "live", "app", "asia", "tk", "ml", "ga", "cf",
        "gq", "pw", "ws", "buzz", "cyou", "sbs", "cfd", "bond", "click", "store", "website",
        "space", "fun", "tech", "pro", "win", "bid", "loan", "work", "life", "today", "run", "one",
        "gov", "edu", "bn", "kh", "id", "mm", "ph", "sg", "th", "tl", "vn",
    }
)  # fmt: skip

_SENDER_PREFIX = re.compile(
    r"^\s*(?:[\[【(<「]\s*(?P<bracketed>[^\]】)>」\s][^\]】)>」]{1,18}?)\s*[\]】)>」]"
    r"|(?i:from|sender)\s*[:：]\s*(?P<labelled>[^\s:,;]{3,16}))"
)

_B = r"(?<![0-9a-z])"  # no ASCII letter or digit just before
_E = r"(?![0-9a-z])"  # no ASCII letter or digit just after
_MONTH = (
    r"(?:jan(?:uary)?|feb(?:ruary)?|mar(?:ch)?|apr(?:il)?|may|june?|july?|aug(?:ust)?"
    r"|sep(?:t(?:ember)?)?|oct(?:ober)?|nov(?:ember)?|dec(?:ember)?)"
)
_DATE = re.compile(
    rf"{_B}(?:\d{{4}}[-/.]\d{{1,2}}[-/.]\d{{1,2}}|\d{{1,2}}[-/.]\d{{1,2}}[-/.]\d{{2,4}}"
    rf"|\d{{1,2}}(?:st|nd|rd|th)?[\s-]*{_MONTH}\.?(?:[\s,-]*\d{{4}})?"
    rf"|{_MONTH}\.?\s*\d{{1,2}}(?:st|nd|rd|th)?(?:,?\s*\d{{4}})?){_E}"
)
_TIME = re.compile(
    rf"{_B}(?:\d{{1,2}}(?::\d{{2}}){{1,2}}(?:\s*[ap]\.?m\.?)?|\d{{1,2}}h\d{{2}}|\d{{1,2}}\s*[ap]m){_E}"
)
_NUMBER = r"(?:\d{1,3}(?:[,.]\d{3})+(?:[.,]\d{1,2})?|\d+(?:[.,]\d+)?)"
_CURRENCY_BEFORE = (
    r"(?:rm|rp\.?|s\$|us\$|b\$|\$|usd|sgd|myr|idr|thb|vnd|php|mmk|khr|lak|bnd|gbp|eur"
    r"|£|€|¥|₱|฿|₫|₭|៛|ks\.?|p)"
)
_MULTIPLIER = r"(?:k|m|bn|jt|juta|rb|ribu|triệu|tr|million|billion)"
_CURRENCY_AFTER = (
    r"(?:baht|บาท|dong|đồng|vnđ|vnd|đ|peso|pesos|ringgit|rupiah|kyats?|ကျပ်|riels?|រៀល|kip|ກີບ"
    r"|pounds?|p|dollars?|usd|sgd|myr|idr|thb|php|eur|gbp|€|£|\$|ks|k|m|jt|juta|rb|ribu|triệu|tr"
    r"|nghìn|ngàn|million|billion)"
)
_AMOUNT = re.compile(
    rf"{_B}(?:{_CURRENCY_BEFORE}\s?{_NUMBER}(?:\s?{_MULTIPLIER})?|{_NUMBER}\s?{_CURRENCY_AFTER}){_E}"
)
# Tokens that mix letters and at least two digits: vouchers, reference numbers, OTPs.
_CODE = re.compile(rf"{_B}(?=[0-9a-z]*\d[0-9a-z]*\d)(?=[0-9a-z]*[a-z])[0-9a-z]{{4,24}}{_E}")
_LONG_DIGITS = re.compile(rf"{_B}\d(?:[\s-]?\d){{6,}}{_E}")
_SHORT_DIGITS = re.compile(rf"{_B}\d{{4,6}}{_E}")
_REPEATED_PUNCTUATION = re.compile(r"([!?.,*~=_\-])\1+")
_MYANMAR = re.compile(r"[\u1000-\u109f\uaa60-\uaa7f\ua9e0-\ua9ff]")
# A run of Myanmar digits is a number only when no Myanmar letter or sign touches it.
_MYANMAR_NUMBER = re.compile(
    r"(?<![\u1000-\u103f\u104a-\u108f\u109a-\u109f])[\u1040-\u1049]+"
    r"(?![\u1000-\u103f\u104a-\u108f\u109a-\u109f])"
)
_TO_ASCII_DIGITS = str.maketrans({chr(0x1040 + digit): str(digit) for digit in range(10)})


def _ascii_digits(match: re.Match[str]) -> str:
    """Return a run of Myanmar digits in ASCII."""
    return match.group().translate(_TO_ASCII_DIGITS)


_detector: myanmartools.ZawgyiDetector | None = None
_detector_lock = threading.Lock()


def _zawgyi_detector() -> myanmartools.ZawgyiDetector:
    """Load myanmartools' Zawgyi model once, on first Burmese text."""
    global _detector
    if _detector is None:
        with _detector_lock:
            if _detector is None:
                # Imported here, not at the top: importing normalise loads no model until the
                # first Burmese text needs it (a test checks this).
                import myanmartools

                # myanmartools 1.2 loads its model with importlib.resources.open_binary, which
                # Python 3.11 deprecates; the warning is theirs and harmless, so keep it quiet.
                with warnings.catch_warnings():
                    warnings.simplefilter("ignore", DeprecationWarning)
                    _detector = myanmartools.ZawgyiDetector()
    return _detector


def zawgyi_probability(text: str) -> float:
    """Return the probability that Burmese text is Zawgyi-encoded (0 when it has no Burmese)."""
    if _MYANMAR.search(text) is None:
        return 0.0
    probability = _zawgyi_detector().get_zawgyi_probability(text)
    # The detector answers -inf when it saw no Burmese it could score.
    return probability if probability > 0 and not math.isnan(probability) else 0.0


def _extract_urls(text: str, found: list[Normalised]) -> str:
    """Replace e-mail addresses and links with placeholders, collecting the links as URLs."""
    text = _EMAIL.sub(f" {PLACEHOLDERS['email']} ", text)
    text = _SCHEME_TYPO.sub(lambda match: f"http{match.group('secure')}://", text)

    def replace(match: re.Match[str]) -> str:
        """Swap one link for its placeholder when it normalises, else leave the words alone."""
        raw = match.group()
        stripped = raw.rstrip(_URL_TRAILING)
        trailing = raw[len(stripped) :]
        bare = match.group("bare") is not None
        glued, link = _unglue(stripped) if bare else ("", stripped)
        try:
            url = normalise_url(link)
        except NormalisationError:
            return raw
        if bare and not link.lower().startswith("www") and not _plausible_bare_link(link, url):
            return raw
        found.append(url)
        return f"{glued} {PLACEHOLDERS['url']} {trailing}"

    return _URL.sub(replace, text)


def _unglue(raw: str) -> tuple[str, str]:
    """Split a dotted word into the words glued before a link and the link itself."""
    host_end = raw.find("/")
    host = raw if host_end < 0 else raw[:host_end]
    www = _GLUED_WWW.search(host)
    if www is not None:
        return raw[: www.start()].rstrip("."), raw[www.start() :]
    labels = host.split(".")
    glued = 0
    # Keep at least a name and a suffix after the glued words.
    while glued < len(labels) - 2 and labels[glued].lower() in _GLUE_WORDS:
        glued += 1
    if not glued:
        return "", raw
    cut = len(".".join(labels[:glued])) + 1
    return raw[: cut - 1], raw[cut:]


def _plausible_bare_link(raw: str, url: Normalised) -> bool:
    """Tell whether a dotted word without a scheme is a link rather than words glued by a dot.

    Abbreviations ("No.ID", "Tel.No", "Pte.Ltd", "Bhd.MY") have real public suffixes after
    their dot. A link never capitalises its suffix alone; with a path ("wa.me/6012...",
    "t.me/x") it is a link, and without one it needs a name of at least three characters and a
    suffix that scam links use or a two-level one ("co.id", "com.my").
    """
    facts = url.facts
    if facts["is_ip"]:
        return True
    domain = facts["domain"]
    if domain is None:  # the host is itself a public suffix ("co.id", "gov.my")
        return False
    name, _, suffix = domain.partition(".")
    host = raw.split("/", 1)[0].split(":", 1)[0]
    written_suffix = host[len(host) - len(suffix) :]
    if written_suffix.isupper() and not host.isupper():
        return False
    if "/" in raw:
        return True
    if facts["is_shortener"] or len(name) < 3:
        return False
    return "." in suffix or suffix in _BARE_SUFFIXES


def _extract_phones(text: str, region: str | None, found: list[Normalised]) -> str:
    """Replace phone numbers found by libphonenumber's matcher, collecting them as phones."""
    pieces = []
    position = 0
    # "ZZ" lets the matcher find international numbers when the submitter's region is unknown.
    for match in phonenumbers.PhoneNumberMatcher(text, region or "ZZ"):
        try:
            found.append(classify_number(match.number, region))
        except NormalisationError:
            continue
        pieces.append(text[position : match.start])
        pieces.append(f" {PLACEHOLDERS['phone']} ")
        position = match.end
    pieces.append(text[position:])
    return "".join(pieces)


def _extract_sender(text: str, region: str | None) -> Normalised | None:
    """Return the sender ID a message names at its start (`[BANK] ...`, `From: BANK ...`)."""
    match = _SENDER_PREFIX.match(text)
    if match is None:
        return None
    candidate = match.group("bracketed") or match.group("labelled")
    try:
        return normalise_sender_id(candidate, region)
    except NormalisationError:
        return None


def _template(text: str) -> str:
    """Case-fold and fold look-alikes, then replace the variable parts with placeholders."""
    # Case-fold on both sides of the look-alike folding: some look-alikes only appear after case
    # folding (small Cherokee letters fold to capitals) and some fold to a cased letter.
    text = fold_confusable_words(text.casefold()).casefold()
    text = _DATE.sub(PLACEHOLDERS["date"], text)
    text = _TIME.sub(PLACEHOLDERS["time"], text)
    text = _AMOUNT.sub(PLACEHOLDERS["amount"], text)
    text = _CODE.sub(PLACEHOLDERS["code"], text)
    text = _LONG_DIGITS.sub(PLACEHOLDERS["number"], text)
    text = _SHORT_DIGITS.sub(PLACEHOLDERS["code"], text)
    text = _REPEATED_PUNCTUATION.sub(r"\1", text)
    return collapse_spaces(text)


def _indicator(result: Normalised) -> dict[str, Any]:
    """Return an extracted indicator in the short shape stored with a message."""
    return {"kind": result.kind, "value": result.value, "listable": result.listable}


def _prepare(value: str) -> str:
    """Return the message cleaned of invisible characters, compatibility forms and defanging."""
    text = unicodedata.normalize("NFKC", value) if len(value) <= MAX_MESSAGE_LENGTH else value
    # Checked after NFKC too, which can turn one character into eighteen.
    if len(text) > MAX_MESSAGE_LENGTH:
        raise NormalisationError(
            "too_long", f"The message is longer than {MAX_MESSAGE_LENGTH} characters."
        )
    text = collapse_spaces(clean(text, digits="not_myanmar").translate(_RESERVED))
    if not text:
        raise NormalisationError("empty_message", "The message has no visible text.")
    return defang(text)


_FINGERPRINT = re.compile(r"[0-9a-f]{32}")


def is_fingerprint(value: str) -> bool:
    """Whether a value has the shape of a template fingerprint (what a message indicator holds)."""
    return _FINGERPRINT.fullmatch(value) is not None


def normalise_message(value: str, region: str | None = None) -> Normalised:
    """Return a message's template fingerprint with template, signature and extracted indicators."""
    text = _prepare(value)
    probability = zawgyi_probability(text)
    is_zawgyi = probability >= ZAWGYI_THRESHOLD
    if not is_zawgyi:
        text = _MYANMAR_NUMBER.sub(_ascii_digits, text)
    found: list[Normalised] = []
    sender = _extract_sender(text, region)
    if sender is not None:
        found.append(sender)
    text = _extract_urls(text, found)
    text = _extract_phones(text, region, found)
    compact = _template(text)
    template = compact.translate(_DISPLAY)
    signature = minhash_signature(template)
    extracted: list[dict[str, Any]] = []
    for result in found:
        indicator = _indicator(result)
        if indicator not in extracted and len(extracted) < MAX_EXTRACTED:
            extracted.append(indicator)
    return Normalised(
        kind="message",
        value=hashlib.sha256(template.encode("utf-8")).hexdigest()[:32],
        listable=True,
        facts={
            "template": template,
            "signature": signature,
            "bands": signature_bands(signature),
            "zawgyi": is_zawgyi,
            "zawgyi_probability": round(probability, 4),
            "extracted": extracted,
        },
    )


def message_signature(text: str, region: str | None = None) -> str:
    """Return the similarity signature of a message's template, for near-duplicate look-ups."""
    return normalise_message(text, region).facts["signature"]


__all__ = ["message_signature", "normalise_message"]
