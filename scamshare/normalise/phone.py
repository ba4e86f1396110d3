"""Phone numbers and number ranges: canonical E.164 with facts from libphonenumber's metadata."""

from __future__ import annotations

import itertools
import re
import unicodedata

import phonenumbers
from phonenumbers import NumberParseException, PhoneNumber, PhoneNumberType, shortnumberinfo

from .errors import NormalisationError
from .result import Normalised
from .text import clean

_TYPE_NAMES = {
    getattr(PhoneNumberType, name): name.lower()
    for name in dir(PhoneNumberType)
    if name.isupper() and isinstance(getattr(PhoneNumberType, name), int)
}
_UNKNOWN = PhoneNumberType.UNKNOWN
_SUPPORTED_REGIONS = frozenset(phonenumbers.SUPPORTED_REGIONS)
_NON_GEOGRAPHIC = phonenumbers.REGION_CODE_FOR_NON_GEO_ENTITY

# Emergency numbers and short codes are at most six digits in libphonenumber's short-number data;
# longer numbers skip that lookup, which keeps the common path as fast as a bare validity check.
_SHORT_NUMBER_MAX_DIGITS = 6

# A trailing x after digits is a wildcard digit to a person, but an extension marker to
# libphonenumber, which would drop it silently and return a different number.
_TRAILING_WILDCARD = re.compile(r"\d[\s.\-]*[xX]+[\s.\-xX]*$")
_PARSE_NOISE = re.compile(r"[\d\s+().\-/]")

# Reasons from libphonenumber's parser, in its own error-type numbering.
_PARSE_REASONS = {
    NumberParseException.TOO_SHORT_AFTER_IDD: "too_short",
    NumberParseException.TOO_SHORT_NSN: "too_short",
    NumberParseException.TOO_LONG: "too_long",
}
_POSSIBILITY_REASONS = {
    phonenumbers.ValidationResult.TOO_SHORT: "too_short",
    phonenumbers.ValidationResult.TOO_LONG: "too_long",
    phonenumbers.ValidationResult.INVALID_COUNTRY_CODE: "unknown_country_code",
}
_REASON_MESSAGES = {
    "empty": "The phone number is empty.",
    "not_a_number": "The value does not look like a phone number.",
    "too_short": "The phone number has too few digits.",
    "too_long": "The phone number has too many digits.",
    "unknown_country_code": "The country calling code is not assigned.",
    "missing_region": (
        "The number is in national format but no region was given; "
        "add the country code (+CC) or a region."
    ),
    "invalid_for_region": "The number is not a valid number for its region.",
    "looks_like_range": "The value has wildcard digits; submit it as a phone_range.",
}


def check_region(region: str | None) -> str | None:
    """Return the region as an upper-case ISO 3166 code known to libphonenumber, or None."""
    if region is None or region in _SUPPORTED_REGIONS:
        return region
    code = region.strip().upper()
    if not code:
        return None
    if code not in _SUPPORTED_REGIONS:
        raise NormalisationError(
            "unknown_region", f"{region!r} is not a region libphonenumber knows."
        )
    return code


def _fail(reason: str) -> NormalisationError:
    """Build the error for one phone reason code with its standard sentence."""
    return NormalisationError(reason, _REASON_MESSAGES[reason])


def _prepare(value: str) -> str:
    """Return the submitted text ready for libphonenumber, cleaning Unicode only when needed."""
    if value.isascii() and value.isprintable():
        return value.strip()
    # NFKC turns full-width '+' and digits into ASCII; clean() does every other script's digits
    # and removes no-break, zero-width and bidirectional-control characters.
    return clean(unicodedata.normalize("NFKC", value)).strip()


def _parse(text: str, region: str | None) -> PhoneNumber:
    """Parse cleaned text with libphonenumber and translate its failures into reason codes."""
    try:
        return phonenumbers.parse(text, region)
    except NumberParseException as error:
        if error.error_type == NumberParseException.INVALID_COUNTRY_CODE:
            reason = (
                "missing_region" if region is None and "+" not in text else "unknown_country_code"
            )
        elif error.error_type in _PARSE_REASONS:
            reason = _PARSE_REASONS[error.error_type]
        else:
            digits = sum(char.isdigit() for char in text)
            # One or two digits with nothing else is a number that is too short, not prose.
            reason = "too_short" if digits and not _PARSE_NOISE.sub("", text) else "not_a_number"
        raise _fail(reason) from None


def _short_number_region(number: PhoneNumber, region: str | None) -> str | None:
    """Return the region whose short-number data knows this number, preferring the given region."""
    candidates = phonenumbers.region_codes_for_country_code(number.country_code)
    if region in candidates:
        candidates = (region, *(code for code in candidates if code != region))
    for code in candidates:
        if shortnumberinfo.is_valid_short_number_for_region(number, code):
            return code
    return None


def classify_number(number: PhoneNumber, region: str | None) -> Normalised:
    """Classify a parsed number and return its canonical E.164 value and facts."""
    national = phonenumbers.national_significant_number(number)
    number_type = phonenumbers.number_type(number)
    number_region = phonenumbers.region_code_for_number(number)
    is_short_code = False
    is_emergency = False
    if number_type == _UNKNOWN or len(national) <= _SHORT_NUMBER_MAX_DIGITS:
        if len(national) <= _SHORT_NUMBER_MAX_DIGITS:
            short_region = _short_number_region(number, region)
            if short_region is not None:
                number_region = short_region
                is_emergency = shortnumberinfo.is_emergency_number(national, short_region)
                is_short_code = number_type == _UNKNOWN
        if number_type == _UNKNOWN and not is_short_code:
            possibility = phonenumbers.is_possible_number_with_reason(number)
            raise _fail(_POSSIBILITY_REASONS.get(possibility, "invalid_for_region"))
    # Positional arguments: this runs once per submitted number and keyword passing costs more.
    return Normalised(
        "phone",
        f"+{number.country_code}{national}",
        not (is_short_code or is_emergency),
        {
            "region": number_region,
            "country_code": number.country_code,
            "number_type": "short_code" if is_short_code else _TYPE_NAMES[number_type],
            "is_short_code": is_short_code,
            "is_emergency": is_emergency,
        },
    )


def normalise_phone(value: str, region: str | None = None) -> Normalised:
    """Return a phone number as E.164 with its region, type and short-code/emergency facts."""
    text = _prepare(value)
    if not text:
        raise _fail("empty")
    if "#" in text:
        # A '#' ends a USSD or star code, which libphonenumber would strip into a short number.
        raise _fail("not_a_number")
    if (
        "*" in text
        or "?" in text
        or (("x" in text or "X" in text) and _TRAILING_WILDCARD.search(text))
    ):
        raise _fail("looks_like_range")
    return classify_number(_parse(text, region), region)


# ---------------------------------------------------------------------------------------------
# Number ranges
# ---------------------------------------------------------------------------------------------

_STATED_WIDTH = re.compile(r"[*xX?]\s*\{\s*(\d{1,3})\s*\}$")
_RANGE_TAIL = re.compile(r"^(?P<head>.*\d)(?P<tail>[\s.\-()*xX?]*)$", re.DOTALL)
_WILDCARD_CHARS = re.compile(r"[*xX?]")
_RANGE_VALUE = re.compile(r"\+([1-9][0-9]*)(\*+)")
# Beyond this many wildcard digits the range is no longer a block of numbers but a whole plan.
MAX_RANGE_WILDCARDS = 12
# Completions tried when checking that a prefix can start a valid number: every combination of
# the first wildcard digits, then each digit repeated over the rest.
_ENUMERATED_WILDCARDS = 3


def _split_range(text: str) -> tuple[str, int]:
    """Split a range into the digits part and its number of wildcard digits."""
    stated = _STATED_WIDTH.search(text)
    if stated is not None:
        head = text[: stated.start()].rstrip(" .-")
        if not head or not head[-1].isdigit():
            raise NormalisationError("invalid_range", "A stated width must follow the digits.")
        wildcards = int(stated.group(1))
    else:
        match = _RANGE_TAIL.match(text)
        if match is None:
            raise NormalisationError(
                "invalid_range", "The range has no digits before its wildcards."
            )
        head = match.group("head")
        wildcards = len(_WILDCARD_CHARS.findall(match.group("tail")))
    if _WILDCARD_CHARS.search(head):
        raise NormalisationError(
            "invalid_range", "Wildcard digits may only come at the end of a number range."
        )
    if wildcards == 0:
        raise NormalisationError(
            "invalid_range",
            "The range has no wildcard digits (x, * or *{N}); submit a single number as a phone.",
        )
    return head, wildcards


def _completions(wildcards: int):
    """Yield wildcard fillings in an order that reaches a valid number early."""
    enumerated = min(wildcards, _ENUMERATED_WILDCARDS)
    rest = wildcards - enumerated
    fills = "0123456789" if rest else ("",)
    for digit in fills:
        for combination in itertools.product("0123456789", repeat=enumerated):
            yield "".join(combination) + digit * rest


def _first_valid(country_code: int, prefix: str, wildcards: int) -> PhoneNumber | None:
    """Return one valid number inside the range, or None when the prefix starts no valid number."""
    leading_zeros = len(prefix) - len(prefix.lstrip("0"))
    for filling in _completions(wildcards):
        national = prefix + filling
        candidate = PhoneNumber(country_code=country_code, national_number=int(national))
        if leading_zeros:
            candidate.italian_leading_zero = True
            candidate.number_of_leading_zeros = leading_zeros
        if phonenumbers.is_valid_number(candidate):
            return candidate
    return None


def normalise_phone_range(
    value: str, region: str | None = None, max_range: int = 1000
) -> Normalised:
    """Return a block of numbers as an E.164 prefix with one `*` per wildcard digit."""
    text = _prepare(value)
    if not text:
        raise _fail("empty")
    head, wildcards = _split_range(text)
    if wildcards > MAX_RANGE_WILDCARDS or 10**wildcards > max_range:
        raise NormalisationError(
            "range_too_wide",
            f"The range covers {10**wildcards if wildcards <= MAX_RANGE_WILDCARDS else 'too many'} "
            f"numbers; at most {max_range} are allowed.",
        )
    # Zeros stand in for the wildcards so that libphonenumber strips the international or trunk
    # prefix exactly as it would for a real number in the block.
    number = _parse(head + "0" * wildcards, region)
    national = phonenumbers.national_significant_number(number)
    if len(national) <= wildcards or not national.endswith("0" * wildcards):
        raise NormalisationError(
            "invalid_range_prefix",
            "The range has no digits of the national number before its wildcards.",
        )
    prefix = national[:-wildcards]
    example = _first_valid(number.country_code, prefix, wildcards)
    if example is None:
        raise NormalisationError(
            "invalid_range_prefix",
            f"No valid number of this length starts with +{number.country_code}{prefix}; "
            "each x, * or ? stands for one digit (state a width as *{N}).",
        )
    e164_prefix = f"+{number.country_code}{prefix}"
    return Normalised(
        kind="phone_range",
        value=e164_prefix + "*" * wildcards,
        listable=True,
        facts={
            "prefix": e164_prefix,
            "wildcards": wildcards,
            "size": 10**wildcards,
            "region": phonenumbers.region_code_for_number(example) or _NON_GEOGRAPHIC,
        },
    )


def range_bounds(range_value: str) -> tuple[int, int]:
    """Return the lowest and highest E.164 numbers (digits as integers) a canonical range covers."""
    match = _RANGE_VALUE.fullmatch(range_value)
    if match is None:
        raise ValueError(f"{range_value!r} is not a canonical phone_range value")
    prefix = int(match.group(1))
    scale = 10 ** len(match.group(2))
    return prefix * scale, prefix * scale + scale - 1


def range_covers(range_value: str, e164: str) -> bool:
    """Tell whether a canonical range covers a canonical E.164 number."""
    digits = e164[1:]
    if not e164.startswith("+") or not (digits.isascii() and digits.isdigit()):
        return False
    low, high = range_bounds(range_value)
    return low <= int(digits) <= high
