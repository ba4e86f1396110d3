"""URLs and domains: defanged, IDNA hosts, clean paths, and the registrable domain from the PSL."""

from __future__ import annotations

import ipaddress
import re
import threading
import unicodedata
from typing import TYPE_CHECKING
from urllib.parse import quote

import idna

from .errors import NormalisationError
from .result import Normalised
from .text import clean

if TYPE_CHECKING:
    import tldextract

# Longer than any URL a browser will follow from an SMS; the cap keeps hostile input cheap.
MAX_URL_LENGTH = 8192
_MAX_HOST_LENGTH = 253
_MAX_LABEL_LENGTH = 63

SCHEMES = {"http": 80, "https": 443}

# Link shorteners hide the destination, so operators treat them with more suspicion; s.id,
# shorturl.at and cutt.ly are common in South-East Asian smishing.
SHORTENERS = frozenset(
    {
        "bit.ly", "bitly.com", "bit.do", "buff.ly", "cutt.ly", "cutt.us", "goo.gl", "is.gd",
        "lnkd.in", "ow.ly", "rb.gy", "rebrand.ly", "s.id", "shorturl.at", "short.gy", "shorte.st",
        "t.co", "t.ly", "tiny.cc", "tinyurl.com", "tiny.one", "v.gd", "qrco.de", "bl.ink",
        "surl.li", "shorturl.asia", "u.to", "clck.ru", "trib.al", "dlvr.it", "soo.gd", "s.net.vn",
        "gg.gg", "urlz.fr", "x.co", "y2u.be", "zpr.io", "tr.ee", "1url.com", "2.gp", "cli.re",
        "linkfly.to", "l.linklyhq.com", "heylink.me", "msha.ke", "rebrandly.com", "t2m.io",
        "smarturl.it",
    }
)  # fmt: skip

# Query parameters that only say where a click came from; dropping them lets one scam link
# shared through different channels meet in one indicator.
TRACKING_PARAMETERS = frozenset(
    {
        "fbclid", "gclid", "gclsrc", "dclid", "gbraid", "wbraid", "msclkid", "yclid", "twclid",
        "ttclid", "igshid", "igsh", "mc_cid", "mc_eid", "_ga", "_gl", "_hsenc", "_hsmi",
        "mkt_tok", "oly_anon_id", "oly_enc_id", "vero_id", "vero_conv", "li_fat_id", "s_kwcid",
        "srsltid", "epik", "rb_clickid", "wickedid", "irclickid", "ml_subscriber",
        "ml_subscriber_hash",
    }
)  # fmt: skip
_TRACKING_PREFIXES = ("utm_", "pk_", "mtm_")

_DEFANG_SCHEME = re.compile(r"(?i)\bh(?:xx|\*\*|x)p(s?)(?=\s*[\[(]?:)")
_DEFANG_COLON = re.compile(r"\[:\]|\(:\)|\[://\]")
_DEFANG_DOT = re.compile(
    r"\s*(?:\[\s*(?:\.|dot)\s*\]|\(\s*(?:\.|dot)\s*\)|\{\s*(?:\.|dot)\s*\}|\\\.)\s*", re.I
)
_SCHEME = re.compile(r"^([A-Za-z][A-Za-z0-9+.\-]*)://")
_IDEOGRAPHIC_DOTS = str.maketrans({"。": ".", "．": ".", "｡": "."})
_ASCII_LABEL = re.compile(r"^[a-z0-9_](?:[a-z0-9_\-]*[a-z0-9_])?$")
_NUMERIC_LABEL = re.compile(r"^(?:0[xX][0-9A-Fa-f]*|\d+)$")

_UNRESERVED = frozenset("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-._~")
# Characters a path may hold literally (RFC 3986 pchar and '/'); everything else is escaped.
_PATH_UNSAFE = re.compile(r"%[0-9A-Fa-f]{2}|[^A-Za-z0-9\-._~!$&'()*+,;=:@/]")
# The same inside one query parameter, where '&' separates parameters and so stays escaped.
_QUERY_UNSAFE = re.compile(r"%[0-9A-Fa-f]{2}|[^A-Za-z0-9\-._~!$'()*+,;=:@/?]")

_extractor: tldextract.TLDExtract | None = None
_extractor_lock = threading.Lock()


def _public_suffix_extractor() -> tldextract.TLDExtract:
    """Build the Public Suffix List matcher once, from the snapshot bundled with tldextract."""
    global _extractor
    if _extractor is None:
        with _extractor_lock:
            if _extractor is None:
                # Imported here, not at the top: tldextract brings requests with it (about
                # 150 ms), which importing normalise does not pay for (a test checks this).
                import tldextract

                # No suffix-list URLs and no cache: never touch the network, which may be closed.
                extractor = tldextract.TLDExtract(
                    suffix_list_urls=(), cache_dir=None, include_psl_private_domains=True
                )
                extractor.extract_str("example.com")
                _extractor = extractor
    return _extractor


def defang(text: str) -> str:
    """Undo the usual defanging (`hxxp`, `[.]`, `(.)`, `[dot]`, `[:]`) used when sharing links."""
    text = _DEFANG_SCHEME.sub(r"http\1", text)
    text = _DEFANG_COLON.sub(lambda match: "://" if "/" in match.group() else ":", text)
    return _DEFANG_DOT.sub(".", text)


def _escape(match: re.Match[str]) -> str:
    """Decode an escape of an unreserved character, upper-case other escapes, escape the rest."""
    token = match.group()
    if len(token) == 3:
        char = chr(int(token[1:], 16))
        return char if char in _UNRESERVED else token.upper()
    return quote(token, safe="")


def _normalise_path(path: str) -> str:
    """Normalise percent-encoding and remove dot segments from a URL path."""
    path = _PATH_UNSAFE.sub(_escape, path)
    if "." in path:
        path = _remove_dot_segments(path)
    return path or "/"


def _remove_dot_segments(path: str) -> str:
    """Resolve `.` and `..` segments as RFC 3986 section 5.2.4 does."""
    segments = path.split("/")
    output: list[str] = []
    for index, segment in enumerate(segments):
        last = index == len(segments) - 1
        if segment == ".":
            if last:
                output.append("")
        elif segment == "..":
            if len(output) > 1:
                output.pop()
            if last:
                output.append("")
        else:
            output.append(segment)
    result = "/".join(output)
    return result if result.startswith("/") else "/" + result


def _is_tracking(parameter: str) -> bool:
    """Tell whether a query parameter only records where a click came from."""
    name = parameter.split("=", 1)[0].lower()
    return name in TRACKING_PARAMETERS or name.startswith(_TRACKING_PREFIXES)


def _normalise_query(query: str) -> str:
    """Drop tracking parameters and empty pieces, keep the order, normalise percent-encoding."""
    kept = [
        _QUERY_UNSAFE.sub(_escape, piece)
        for piece in query.split("&")
        if piece and not _is_tracking(piece)
    ]
    return "&".join(kept)


def _parse_ipv4(host: str) -> str | None:
    """Read a host as browsers do when it is an IPv4 address (also hex, octal, or one integer)."""
    parts = host.split(".")
    if parts[-1] == "" and len(parts) > 1:
        parts.pop()
    if not _NUMERIC_LABEL.match(parts[-1]):
        return None
    if len(parts) > 4:
        raise NormalisationError(
            "invalid_host", "The host looks like an IPv4 address but is not one."
        )
    numbers = []
    for part in parts:
        if not _NUMERIC_LABEL.match(part):
            raise NormalisationError(
                "invalid_host", "The host looks like an IPv4 address but is not one."
            )
        if part[:2].lower() == "0x":
            numbers.append(int(part[2:] or "0", 16))
        elif len(part) > 1 and part.startswith("0"):
            if not set(part) <= set("01234567"):
                raise NormalisationError("invalid_host", "The host has an invalid octal IPv4 part.")
            numbers.append(int(part, 8))
        else:
            numbers.append(int(part))
    *leading, last = numbers
    if any(number > 255 for number in leading) or last >= 256 ** (5 - len(numbers)):
        raise NormalisationError("invalid_host", "The host is an IPv4 address out of range.")
    address = last
    for position, number in enumerate(leading):
        address += number << (8 * (3 - position))
    return str(ipaddress.IPv4Address(address))


def _normalise_label(label: str) -> str:
    """Return one host label in lower-case ASCII, punycode-encoding it when it is not ASCII."""
    if not label.isascii():
        try:
            label = idna.encode(label, uts46=True).decode("ascii")
        except (idna.IDNAError, UnicodeError, ValueError):
            raise NormalisationError(
                "invalid_host", "A host label is not a valid internationalised name."
            ) from None
    label = label.lower()
    if not label or len(label) > _MAX_LABEL_LENGTH or not _ASCII_LABEL.match(label):
        raise NormalisationError("invalid_host", "The host has an empty or invalid label.")
    return label


def normalise_host(host: str) -> tuple[str, bool]:
    """Return a host in canonical form (lower-case IDNA or IP) and whether it is an IP address."""
    host = unicodedata.normalize("NFKC", host).translate(_IDEOGRAPHIC_DOTS).strip()
    if host.startswith("[") and host.endswith("]"):
        try:
            return f"[{ipaddress.IPv6Address(host[1:-1]).compressed}]", True
        except ValueError:
            raise NormalisationError(
                "invalid_host", "The host is not a valid IPv6 address."
            ) from None
    host = host.rstrip(".")
    if not host:
        raise NormalisationError("invalid_host", "The URL has no host.")
    ipv4 = _parse_ipv4(host)
    if ipv4 is not None:
        return ipv4, True
    canonical = ".".join(_normalise_label(label) for label in host.split("."))
    if len(canonical) > _MAX_HOST_LENGTH:
        raise NormalisationError("invalid_host", "The host name is longer than 253 characters.")
    return canonical, False


def registrable_domain(host: str) -> str | None:
    """Return the registrable domain of a canonical host (PSL, private suffixes included)."""
    extracted = _public_suffix_extractor().extract_str(host)
    if not extracted.suffix:
        raise NormalisationError(
            "unknown_public_suffix",
            f"{host!r} does not end in a public suffix known to the bundled Public Suffix List.",
        )
    return extracted.top_domain_under_public_suffix or None


def _split_netloc(netloc: str) -> tuple[str, str]:
    """Split an authority into host and port, dropping any user information."""
    host_port = netloc.rpartition("@")[2]
    if host_port.startswith("["):
        end = host_port.find("]")
        if end < 0:
            raise NormalisationError("invalid_host", "The IPv6 host has no closing bracket.")
        host, rest = host_port[: end + 1], host_port[end + 1 :]
        if rest and not rest.startswith(":"):
            raise NormalisationError("invalid_url", "Unexpected text after the IPv6 host.")
        return host, rest[1:]
    host, _, port = host_port.partition(":")
    return host, port


def _prepare(value: str) -> tuple[str, bool]:
    """Clean and defang a submitted URL or host, give it a scheme when it has none.

    Says also whether the scheme was written.
    """
    if len(value) > MAX_URL_LENGTH:
        raise NormalisationError("too_long", f"The URL is longer than {MAX_URL_LENGTH} characters.")
    text = defang(clean(value, digits="none").strip())
    # White space inside a URL is either a wrapping artefact or a deliberate evasion.
    text = "".join(text.split())
    if not text:
        raise NormalisationError("empty", "The URL is empty.")
    if _SCHEME.match(text) is None:
        return ("http:" + text if text.startswith("//") else "http://" + text), False
    return text, True


def _split(text: str) -> tuple[str, str, str, str, str]:
    """Split a prepared URL into scheme, netloc, path, query and fragment."""
    scheme, _, rest = text.partition("://")
    rest, _, fragment = rest.partition("#")
    rest, _, query = rest.partition("?")
    slash = rest.find("/")
    netloc, path = (rest, "") if slash < 0 else (rest[:slash], rest[slash:])
    # Browsers treat a backslash as a slash in http(s) URLs; scammers use that to hide the host.
    if "\\" in netloc:
        netloc, _, tail = netloc.partition("\\")
        path = "/" + tail.replace("\\", "/") + path
    return scheme.lower(), netloc, path.replace("\\", "/"), query, fragment


def normalise_url(value: str) -> Normalised:
    """Return a canonical URL with its host, registrable domain, IP and shortener facts.

    The canonical value has no scheme: `http://`, `https://` and a bare `host/path` (how most
    scam SMS write links) are one link, and so are the scheme's default port, a host in any
    letter case and a trailing slash. It is `host[:port]/path[?query]`, the path at least `/`.
    """
    prepared, written = _prepare(value)
    scheme, netloc, path, query, _fragment = _split(prepared)
    if scheme not in SCHEMES:
        raise NormalisationError(
            "unsupported_scheme", f"The scheme {scheme!r} is not http or https."
        )
    host, port = _split_netloc(netloc)
    host, is_ip = normalise_host(host)
    authority = host
    if port:
        if not port.isascii() or not port.isdigit() or int(port) > 65535:
            raise NormalisationError("invalid_url", "The port is not a number from 0 to 65535.")
        # A port stays unless it is the default of the scheme written: without a scheme it
        # cannot be told default, and keeping it keeps the canonical value canonical.
        if not written or int(port) != SCHEMES[scheme]:
            authority = f"{host}:{int(port)}"
    domain = host if is_ip else registrable_domain(host)
    query = _normalise_query(query)
    path = _normalise_path(path).rstrip("/") or "/"
    canonical = f"{authority}{path}" + (f"?{query}" if query else "")
    return Normalised(
        kind="url",
        value=canonical,
        listable=True,
        facts={
            "host": host,
            "domain": domain,
            "is_ip": is_ip,
            "is_shortener": host in SHORTENERS or domain in SHORTENERS,
        },
    )


def normalise_domain(value: str) -> Normalised:
    """Return the registrable domain of a host or URL, or the address of an IP host."""
    _scheme, netloc, _path, _query, _fragment = _split(_prepare(value)[0])
    host, _port = _split_netloc(netloc)
    host, is_ip = normalise_host(host)
    if is_ip:
        return Normalised(kind="domain", value=host, facts={"input_host": host, "is_ip": True})
    domain = registrable_domain(host)
    if domain is None:
        raise NormalisationError(
            "invalid_domain",
            f"{host!r} is itself a public suffix; only names registered under it are indicators.",
        )
    return Normalised(kind="domain", value=domain, facts={"input_host": host, "is_ip": False})
