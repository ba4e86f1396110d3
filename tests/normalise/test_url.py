"""URLs and domains: defanging, IDNA, clean paths, tracking parameters, the registrable domain."""

from __future__ import annotations

import socket

import pytest

from scamshare.normalise import NormalisationError, normalise
from scamshare.normalise import url as url_module


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("https://example.com/login", "example.com/login"),
        ("hxxps://evil[.]com/login", "evil.com/login"),
        ("hXXp://evil(.)com", "evil.com/"),
        ("hxxps[:]//evil[.]co[.]th/x", "evil.co.th/x"),
        ("evil[dot]com/path", "evil.com/path"),
        ("evil{.}com", "evil.com/"),
        ("evil [.] com", "evil.com/"),
        ("example.com", "example.com/"),
        ("//cdn.example.net/x", "cdn.example.net/x"),
        ("HTTPS://EXAMPLE.COM:443/A?b=1#frag", "example.com/A?b=1"),
        ("http://example.com:80/", "example.com/"),
        ("http://example.com:8080", "example.com:8080/"),
        ("https://example.com:0443/", "example.com/"),
        ("https://example.com./", "example.com/"),
        (
            "https://example.com/?utm_source=sms&utm_medium=x&id=7&fbclid=abc&gclid=z",
            "example.com/?id=7",
        ),
        ("https://example.com/?UTM_Campaign=x&b=2&a=1&&", "example.com/?b=2&a=1"),
        (
            "https://example.com/a%7eb/%e2%82%ac?q=%7e&r=%2f",
            "example.com/a~b/%E2%82%AC?q=~&r=%2F",
        ),
        ("https://example.com/€/a b", "example.com/%E2%82%AC/ab"),
        ("https://example.com/100%", "example.com/100%25"),
        ("https://example.com/a/./b/../c", "example.com/a/c"),
        ("https://example.com/a/%2e%2e/b", "example.com/b"),
        ("https://example.com/../../x", "example.com/x"),
        ("https://bücher.de/", "xn--bcher-kva.de/"),
        ("https://ตัวอย่าง.ไทย/", "xn--72c1a1bt4awk9o.xn--o3cw4h/"),
        ("https://ví-dụ.vn/", "xn--v-d-rma6749a.vn/"),
        ("https://vi\u0301-du\u0323.vn/", "xn--v-d-rma6749a.vn/"),
        ("https://ＢＡＮＫ.com", "bank.com/"),
        ("https://bank。com/", "bank.com/"),
        ("https://ba\u200bnk.com/", "bank.com/"),
        ("https://user:pw@evil.pages.dev/x", "evil.pages.dev/x"),
        ("https://paypal.com@evil.com/", "evil.com/"),
        ("https://evil.com\\@paypal.com/", "evil.com/@paypal.com"),
        ("http://192.168.1.1/x", "192.168.1.1/x"),
        ("http://3232235777/", "192.168.1.1/"),
        ("http://0xC0.0250.1.1/", "192.168.1.1/"),
        ("http://[2001:DB8:0:0::1]:8443/", "[2001:db8::1]:8443/"),
    ],
)
def test_urls_meet_in_one_canonical_form(value, expected):
    """Defanged, mixed-case, tracked and encoded spellings of one link become one URL."""
    result = normalise("url", value)
    assert result.kind == "url"
    assert result.value == expected
    assert result.listable is True


@pytest.mark.parametrize(
    "value",
    [
        "https://singpost-redelivery.top/track",
        "http://singpost-redelivery.top/track",
        "singpost-redelivery.top/track",
        "singpost-redelivery.top/track/",
        "HTTP://SingPost-Redelivery.TOP:80/track",
        "https://singpost-redelivery.top:443/track/",
        "//singpost-redelivery.top/track",
        "hxxps://singpost-redelivery[.]top/track",
    ],
)
def test_a_link_is_one_link_whatever_its_scheme(value):
    """http://, https:// and scheme-less forms of one host and path are one URL value."""
    assert normalise("url", value).value == "singpost-redelivery.top/track"


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("http://example.com:443/a", "example.com:443/a"),
        ("https://example.com:80/a", "example.com:80/a"),
        ("example.com:80/a", "example.com:80/a"),
        ("example.com:8443/a/", "example.com:8443/a"),
    ],
)
def test_a_port_stays_unless_it_is_the_written_schemes_default(value, expected):
    """Without a scheme a port cannot be told default, so it stays: the value stays canonical."""
    result = normalise("url", value).value
    assert result == expected
    assert normalise("url", result).value == result


@pytest.mark.parametrize(
    ("value", "host", "domain", "is_ip", "is_shortener"),
    [
        ("https://a.b.shop.co.th/x", "a.b.shop.co.th", "shop.co.th", False, False),
        ("https://login.bank.com.my/", "login.bank.com.my", "bank.com.my", False, False),
        ("https://evil.pages.dev/", "evil.pages.dev", "evil.pages.dev", False, False),
        ("https://scam.blogspot.com/", "scam.blogspot.com", "scam.blogspot.com", False, False),
        ("bit.ly/3abcXYZ", "bit.ly", "bit.ly", False, True),
        ("https://s.id/hadiah", "s.id", "s.id", False, True),
        ("https://tinyurl.com/y7x", "tinyurl.com", "tinyurl.com", False, True),
        ("http://10.1.2.3/", "10.1.2.3", "10.1.2.3", True, False),
        ("http://[::1]/", "[::1]", "[::1]", True, False),
        ("https://github.io/", "github.io", None, False, False),
    ],
)
def test_url_facts(value, host, domain, is_ip, is_shortener):
    """The host, registrable domain (private suffixes count), IP and shortener flags are facts."""
    assert normalise("url", value).facts == {
        "host": host,
        "domain": domain,
        "is_ip": is_ip,
        "is_shortener": is_shortener,
    }


@pytest.mark.parametrize(
    ("value", "reason"),
    [
        ("", "empty"),
        ("  \u200b ", "empty"),
        ("ftp://example.com/", "unsupported_scheme"),
        ("javascript://alert(1)", "unsupported_scheme"),
        ("http://localhost/", "unknown_public_suffix"),
        ("http://intranet.corp/", "unknown_public_suffix"),
        ("http://exa..mple.com/", "invalid_host"),
        ("http://-example.com/", "invalid_host"),
        ("http:///path", "invalid_host"),
        ("http://[::1/", "invalid_host"),
        ("http://[zz::1]/", "invalid_host"),
        ("http://256.1.1.1/", "invalid_host"),
        ("http://1.2.3.4.5/", "invalid_host"),
        ("http://a\u200db.☃.com/", "invalid_host"),
        ("http://" + "a" * 64 + ".com/", "invalid_host"),
        ("http://example.com:99999/", "invalid_url"),
        ("http://example.com:http/", "invalid_url"),
        ("http://example.com/" + "a" * 9000, "too_long"),
    ],
)
def test_url_rejections(value, reason):
    """Empty, non-web, unreachable or malformed links are rejected with their reason."""
    with pytest.raises(NormalisationError) as raised:
        normalise("url", value)
    assert raised.value.reason == reason


@pytest.mark.parametrize(
    ("value", "expected", "input_host"),
    [
        ("example.com", "example.com", "example.com"),
        ("https://www.Example.co.uk/login", "example.co.uk", "www.example.co.uk"),
        (
            "hxxps://login.secure-bank[.]com[.]my/x",
            "secure-bank.com.my",
            "login.secure-bank.com.my",
        ),
        ("evil.github.io", "evil.github.io", "evil.github.io"),
        ("münchen.de", "xn--mnchen-3ya.de", "xn--mnchen-3ya.de"),
        ("a.b.c.gov.ph", "c.gov.ph", "a.b.c.gov.ph"),
        ("WWW.SHOPEE.SG.", "shopee.sg", "www.shopee.sg"),
    ],
)
def test_domains_are_registrable_domains(value, expected, input_host):
    """A host or URL submitted as a domain becomes its registrable domain."""
    result = normalise("domain", value)
    assert result.kind == "domain"
    assert result.value == expected
    assert result.facts == {"input_host": input_host, "is_ip": False}


def test_an_ip_address_is_kept_as_a_domain_value():
    """A bare IP host has no registrable domain; it stays as it is."""
    result = normalise("domain", "http://10.0.0.1/x")
    assert result.value == "10.0.0.1"
    assert result.facts == {"input_host": "10.0.0.1", "is_ip": True}


@pytest.mark.parametrize(
    ("value", "reason"),
    [
        ("github.io", "invalid_domain"),
        ("co.uk", "invalid_domain"),
        ("localhost", "unknown_public_suffix"),
        ("", "empty"),
    ],
)
def test_domain_rejections(value, reason):
    """A public suffix alone or a name outside the Public Suffix List is not a domain indicator."""
    with pytest.raises(NormalisationError) as raised:
        normalise("domain", value)
    assert raised.value.reason == reason


def test_the_public_suffix_list_is_read_without_the_network(monkeypatch):
    """The bundled PSL snapshot is used: building the matcher opens no connection."""

    def refuse(*_arguments, **_keywords):
        """Fail the test if anything tries to connect."""
        raise AssertionError("the Public Suffix List matcher tried to use the network")

    monkeypatch.setattr(url_module, "_extractor", None)
    monkeypatch.setattr(socket.socket, "connect", refuse)
    monkeypatch.setattr(socket, "create_connection", refuse)
    assert normalise("domain", "https://a.b.example.com.sg/").value == "example.com.sg"
