"""Unicode cleaning shared by all kinds: invisible characters, digits of any script, look-alikes."""

from __future__ import annotations

import re
import unicodedata

# Default-ignorable code points outside category Cf: they render as nothing, so spoofers use them
# to make two spellings of one value look identical while comparing different.
_IGNORABLE = frozenset(
    [
        0x034F, 0x115F, 0x1160, 0x17B4, 0x17B5, 0x3164, 0xFFA0,
        *range(0x180B, 0x1810), *range(0xFE00, 0xFE10), *range(0xE0100, 0xE01F0),
    ]
)  # fmt: skip

# Whitespace controls become a space so that words on either side stay apart.
_SPACE_CONTROLS = frozenset([0x09, 0x0A, 0x0B, 0x0C, 0x0D, 0x1C, 0x1D, 0x1E, 0x1F, 0x85])


# Myanmar and Shan digits double as letters: Zawgyi draws some vowel signs with Shan digits and
# many writers type the digit zero for the letter wa, so messages fold them only in numbers.
MYANMAR_DIGITS = frozenset(range(0x1040, 0x104A)) | frozenset(range(0x1090, 0x109A))


class _CleaningTable(dict):
    """A `str.translate` table that decides each code point on first sight and remembers it."""

    def __init__(self, fold_digits: bool, keep_digits: frozenset[int] = frozenset()) -> None:
        """Say whether decimal digits of other scripts become ASCII, and which ones stay."""
        super().__init__()
        self.fold_digits = fold_digits
        self.keep_digits = keep_digits

    def __missing__(self, code_point: int) -> int | str | None:
        """Map spaces to ' ', decimal digits to ASCII, and drop controls, formats and ignorables."""
        char = chr(code_point)
        category = unicodedata.category(char)
        mapped: int | str | None
        if code_point in _SPACE_CONTROLS or category in ("Zs", "Zl", "Zp"):
            mapped = " "
        elif category in ("Cc", "Cf", "Cs") or code_point in _IGNORABLE:
            mapped = None
        elif category == "Nd" and self.fold_digits and code_point not in self.keep_digits:
            mapped = str(unicodedata.decimal(char))
        else:
            mapped = code_point
        self[code_point] = mapped
        return mapped


_CLEANING = {
    "all": _CleaningTable(fold_digits=True),
    "none": _CleaningTable(fold_digits=False),
    "not_myanmar": _CleaningTable(fold_digits=True, keep_digits=MYANMAR_DIGITS),
}


def clean(value: str, digits: str = "all") -> str:
    """Drop invisible and control characters, make every space ASCII and fold decimal digits.

    `digits` says which digits become ASCII: "all", "none" (URLs, where a digit is a character of
    the address) or "not_myanmar" (messages, which fold Myanmar digits only inside numbers).
    """
    return value.translate(_CLEANING[digits])


def collapse_spaces(value: str) -> str:
    """Collapse runs of white space into one space and trim both ends."""
    return " ".join(value.split())


# Letters of other scripts that look like Latin letters (a curated subset of Unicode UTS #39
# confusables): Cyrillic, Greek, Armenian, Cherokee and a few Latin look-alikes. Full-width and
# mathematical letters are not listed because NFKC already folds them.
_CONFUSABLE_PAIRS = {
    # Cyrillic capitals
    "А": "A", "В": "B", "Е": "E", "Ѕ": "S", "І": "I", "Ј": "J", "К": "K", "М": "M", "Н": "H",
    "О": "O", "Р": "P", "С": "C", "Т": "T", "У": "Y", "Х": "X", "Ү": "Y", "Һ": "H", "Ӏ": "I",
    "Ԛ": "Q", "Ԝ": "W", "Ԍ": "G", "Ꙅ": "S", "Ѵ": "V", "Ԁ": "D", "З": "3", "Ь": "b",
    # Cyrillic small letters
    "а": "a", "в": "b", "е": "e", "ѕ": "s", "і": "i", "ј": "j", "к": "k", "м": "m", "н": "h",
    "о": "o", "р": "p", "с": "c", "т": "t", "у": "y", "х": "x", "ү": "y", "һ": "h", "ӏ": "l",
    "ԁ": "d", "ԛ": "q", "ԝ": "w", "ѵ": "v", "ɡ": "g", "ь": "b",
    # Greek capitals
    "Α": "A", "Β": "B", "Ε": "E", "Ζ": "Z", "Η": "H", "Ι": "I", "Κ": "K", "Μ": "M", "Ν": "N",
    "Ο": "O", "Ρ": "P", "Τ": "T", "Υ": "Y", "Χ": "X", "Ϲ": "C", "Ϳ": "J",
    # Greek small letters
    "α": "a", "ι": "i", "κ": "k", "ν": "v", "ο": "o", "ρ": "p", "τ": "t", "υ": "u", "χ": "x",
    "ϲ": "c", "ϳ": "j",
    # Armenian
    "Օ": "O", "օ": "o", "Ս": "U", "ս": "u", "Տ": "S", "Լ": "L", "ց": "g", "հ": "h", "ո": "n",
    # Cherokee capitals
    "Ꭺ": "A", "Ᏼ": "B", "Ꮯ": "C", "Ꭰ": "D", "Ꭼ": "E", "Ꮐ": "G", "Ꮋ": "H", "Ꭻ": "J", "Ꮶ": "K",
    "Ꮮ": "L", "Ꮇ": "M", "Ꮲ": "P", "Ꮪ": "S", "Ꭲ": "T", "Ꮩ": "V", "Ꮃ": "W", "Ꮓ": "Z",
    # Latin look-alikes (small capitals are lower-case letters, so they fold to lower case)
    "ı": "i", "ȷ": "j", "ſ": "s", "ʟ": "l", "ɪ": "i", "ɴ": "n", "ʀ": "r", "ᴀ": "a", "ᴄ": "c",
    "ᴅ": "d", "ᴇ": "e", "ᴋ": "k", "ᴍ": "m", "ᴏ": "o", "ᴘ": "p", "ᴛ": "t", "ᴜ": "u", "ᴠ": "v",
    "ᴡ": "w", "ᴢ": "z", "ʜ": "h", "ɢ": "g", "ʏ": "y", "ꜱ": "s",
}  # fmt: skip
_CONFUSABLES = str.maketrans(_CONFUSABLE_PAIRS)
_CONFUSABLE_SEARCH = re.compile("[" + "".join(_CONFUSABLE_PAIRS) + "]")
_TOKEN = re.compile(r"\S+")


def fold_confusables(value: str) -> str:
    """Replace every look-alike letter with the Latin letter it imitates."""
    return value.translate(_CONFUSABLES)


def strip_marks(value: str) -> str:
    """Remove combining marks (accents), so that `É` and `E` compare equal."""
    decomposed = unicodedata.normalize("NFKD", value)
    return unicodedata.normalize(
        "NFC", "".join(char for char in decomposed if not unicodedata.combining(char))
    )


def _is_latin_like(token: str) -> bool:
    """Tell whether every letter of a token is Latin or a Latin look-alike."""
    for char in token:
        if char.isalpha() and not (
            char in _CONFUSABLE_PAIRS or unicodedata.name(char, "").startswith("LATIN ")
        ):
            return False
    return True


def fold_confusable_words(text: str) -> str:
    """Fold look-alikes only in words that are otherwise Latin, so real Greek or Cyrillic stays."""
    if _CONFUSABLE_SEARCH.search(text) is None:
        return text

    def fold(match: re.Match[str]) -> str:
        """Fold one word when it is made of Latin letters and look-alikes only."""
        token = match.group()
        if _CONFUSABLE_SEARCH.search(token) and _is_latin_like(token):
            return token.translate(_CONFUSABLES)
        return token

    return _TOKEN.sub(fold, text)
