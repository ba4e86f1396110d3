"""`scamshare normalise`: one JSON object per value, from arguments or standard input."""

from __future__ import annotations

import json

from click.testing import CliRunner

from scamshare.cli.normalise import normalise_command


def run(arguments: list[str], stdin: str | None = None):
    """Invoke the command and return its exit code and the JSON objects it printed."""
    result = CliRunner().invoke(normalise_command, arguments, input=stdin)
    lines = [json.loads(line) for line in result.output.splitlines() if line.startswith("{")]
    return result, lines


def test_prints_one_object_per_value_with_canonical_value_and_facts():
    """Each value gets its canonical form, listability and facts; exit status 0 when all pass."""
    result, lines = run(["--kind", "phone", "--region", "sg", "8123 4567", "+65 8123-4567", "995"])
    assert result.exit_code == 0
    assert [line["input"] for line in lines] == ["8123 4567", "+65 8123-4567", "995"]
    assert [line["value"] for line in lines] == ["+6581234567", "+6581234567", "+65995"]
    assert lines[0]["facts"]["number_type"] == "mobile"
    assert lines[2]["listable"] is False
    assert lines[2]["facts"]["is_emergency"] is True


def test_rejected_values_show_reason_and_message_and_fail_the_run():
    """A rejected value prints its reason and sentence, the others still print, exit status 1."""
    result, lines = run(["--kind", "phone", "--region", "TH", "abc", "081 234 5678"])
    assert result.exit_code == 1
    assert lines[0] == {
        "input": "abc",
        "kind": "phone",
        "error": {
            "reason": "not_a_number",
            "message": "The value does not look like a phone number.",
        },
    }
    assert lines[1]["value"] == "+66812345678"


def test_a_dash_reads_values_from_standard_input_one_per_line():
    """With `-`, every non-blank line of standard input is one value."""
    stdin = "hxxps://evil[.]com/a?utm_source=x\n\nbit.ly/abc\r\n"
    result, lines = run(["--kind", "url", "-"], stdin)
    assert result.exit_code == 0
    assert [line["value"] for line in lines] == ["evil.com/a", "bit.ly/abc"]
    assert lines[1]["facts"]["is_shortener"] is True


def test_messages_print_their_template_and_keep_their_script():
    """Thai text is printed as Thai, not as escapes, so operators can read it."""
    result = CliRunner().invoke(
        normalise_command, ["-k", "message", "-r", "TH", "โอนเงิน 5,000 บาท ที่ https://th-refund.xyz"]
    )
    assert result.exit_code == 0
    assert "โอนเงิน <amount> ที่ <url>" in result.output
    shown = json.loads(result.output)
    assert shown["facts"]["extracted"] == [
        {"kind": "url", "value": "th-refund.xyz/", "listable": True}
    ]


def test_sender_ids_that_are_numbers_show_as_phones():
    """The kind printed is the kind the node will store."""
    _, lines = run(["--kind", "sender_id", "--region", "VN", "Vietcombank", "0912345678"])
    assert [(line["kind"], line["value"]) for line in lines] == [
        ("sender_id", "VIETCOMBANK"),
        ("phone", "+84912345678"),
    ]


def test_max_range_is_an_option():
    """Operators can try a wider range cap than the node default."""
    result, lines = run(["--kind", "phone_range", "+63917123****"])
    assert result.exit_code == 1
    assert lines[0]["error"]["reason"] == "range_too_wide"
    result, lines = run(["--kind", "phone_range", "--max-range", "10000", "+63917123****"])
    assert result.exit_code == 0
    assert lines[0]["facts"]["size"] == 10000


def test_an_unknown_region_or_kind_is_a_usage_error():
    """Bad options stop before any value is printed."""
    result, lines = run(["--kind", "phone", "--region", "XX", "8123 4567"])
    assert result.exit_code == 2
    assert lines == []
    assert "--region" in result.output
    result, lines = run(["--kind", "email", "a@b.c"])
    assert result.exit_code == 2
    assert lines == []


def test_the_command_is_named_normalise():
    """The lead registers the command in the `scamshare` group under this name."""
    assert normalise_command.name == "normalise"
