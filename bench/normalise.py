"""Benchmark ScamShare's phone normalisation against bare libphonenumber, and message templating.

Run from the repository root:

    python bench/normalise.py [--rounds 7] [--numbers 3000]

The phone inputs are libphonenumber's ASEAN example numbers in every format the fixture gives,
plus numbers generated from them for all eleven regions (E.164, national, international, and
international with another ASEAN country's dialling prefix). Both sides run on the same inputs in
the same process, in alternating rounds; each side's best round counts. The last line is
`ratio: X`, ScamShare's phone throughput over the bare baseline's (target: at least 0.85).
"""

from __future__ import annotations

import argparse
import csv
import random
import time
from pathlib import Path

import phonenumbers
from machine import describe  # bench/ is on sys.path when a script runs

from scamshare.normalise import NormalisationError, normalise

ROOT = Path(__file__).resolve().parent.parent
EXAMPLES = ROOT / "fixtures" / "libphonenumber-asean-examples" / "asean_example_numbers.csv"
MESSAGES = ROOT / "fixtures" / "sms-spam-collection-uci" / "SMSSpamCollection"
ASEAN = ("BN", "KH", "ID", "LA", "MY", "MM", "PH", "SG", "TH", "TL", "VN")
# A dialling prefix each calling region really uses to reach another country.
DIALLING_PREFIX = {
    "BN": "00", "KH": "001", "ID": "008", "LA": "00", "MY": "00", "MM": "00", "PH": "00",
    "SG": "001", "TH": "001", "TL": "00", "VN": "00",
}  # fmt: skip
FORMATS = (
    phonenumbers.PhoneNumberFormat.E164,
    phonenumbers.PhoneNumberFormat.NATIONAL,
    phonenumbers.PhoneNumberFormat.INTERNATIONAL,
)


def example_inputs() -> list[tuple[str, str]]:
    """Return the fixture's example numbers in E.164, national and international format."""
    with EXAMPLES.open(encoding="utf-8") as handle:
        rows = list(csv.DictReader(handle))
    return [
        (row[column], row["region"])
        for row in rows
        for column in ("e164", "national", "international")
    ]


def generated_inputs(count: int, seed: int = 20260123) -> list[tuple[str, str]]:
    """Return valid numbers made by varying the example numbers' last digits, in mixed formats."""
    generator = random.Random(seed)
    templates = []
    for region in ASEAN:
        for number_type in sorted(phonenumbers.PhoneNumberType.values()):
            example = phonenumbers.example_number_for_type(region, number_type)
            if example is not None:
                templates.append((region, example))
    inputs: list[tuple[str, str]] = []
    while len(inputs) < count:
        region, example = generator.choice(templates)
        national = str(example.national_number)
        varied = national[:-4] + f"{generator.randrange(10_000):04d}"
        number = phonenumbers.PhoneNumber(
            country_code=example.country_code, national_number=int(varied)
        )
        if not phonenumbers.is_valid_number(number):
            continue
        style = generator.randrange(4)
        if style < 3:
            inputs.append((phonenumbers.format_number(number, FORMATS[style]), region))
        else:
            caller = generator.choice(ASEAN)
            international = phonenumbers.format_number(
                number, phonenumbers.PhoneNumberFormat.INTERNATIONAL
            )
            inputs.append((f"{DIALLING_PREFIX[caller]} {international[1:]}", caller))
    return inputs


def bare_baseline(inputs: list[tuple[str, str]]) -> int:
    """Parse, validate and format each input with bare libphonenumber; count the valid ones."""
    valid = 0
    parse = phonenumbers.parse
    is_valid_number = phonenumbers.is_valid_number
    format_number = phonenumbers.format_number
    e164 = phonenumbers.PhoneNumberFormat.E164
    for text, region in inputs:
        try:
            number = parse(text, region)
        except phonenumbers.NumberParseException:
            continue
        if is_valid_number(number):
            format_number(number, e164)
            valid += 1
    return valid


def scamshare_phone(inputs: list[tuple[str, str]]) -> int:
    """Normalise each input with ScamShare; return how many were accepted."""
    valid = 0
    for text, region in inputs:
        try:
            normalise("phone", text, region)
        except NormalisationError:
            continue
        valid += 1
    return valid


def timed(function, inputs) -> float:
    """Return the wall time of one call of a function over the inputs."""
    started = time.perf_counter()
    function(inputs)
    return time.perf_counter() - started


def compare(inputs, rounds: int, chunk: int = 250) -> tuple[float, float]:
    """Return the baseline's and ScamShare's total time, each the sum of its best time per chunk.

    The two sides alternate chunk by chunk (swapping who goes first each round), and each chunk
    counts with its fastest round, so that another process on a shared machine slows both sides
    alike instead of whichever happened to run at the time.
    """
    chunks = [inputs[start : start + chunk] for start in range(0, len(inputs), chunk)]
    best_baseline = [float("inf")] * len(chunks)
    best_scamshare = [float("inf")] * len(chunks)
    for round_number in range(rounds):
        for index, part in enumerate(chunks):
            if round_number % 2:
                best_scamshare[index] = min(best_scamshare[index], timed(scamshare_phone, part))
                best_baseline[index] = min(best_baseline[index], timed(bare_baseline, part))
            else:
                best_baseline[index] = min(best_baseline[index], timed(bare_baseline, part))
                best_scamshare[index] = min(best_scamshare[index], timed(scamshare_phone, part))
    return sum(best_baseline), sum(best_scamshare)


def main() -> None:
    """Run both phone benchmarks in alternating rounds, then message templating, and print rates."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--rounds", type=int, default=7)
    parser.add_argument(
        "--numbers", type=int, default=3000, help="generated numbers besides the examples"
    )
    parser.add_argument("--messages", type=int, default=2000)
    arguments = parser.parse_args()

    inputs = example_inputs() + generated_inputs(arguments.numbers)
    random.Random(1).shuffle(inputs)
    baseline_valid = bare_baseline(inputs)
    scamshare_valid = scamshare_phone(inputs)
    print(f"machine: {describe()}")
    print(f"phonenumbers {phonenumbers.__version__}, phone inputs: {len(inputs)}")
    print(f"valid: baseline {baseline_valid}, scamshare {scamshare_valid}")

    baseline_time, scamshare_time = compare(inputs, arguments.rounds)
    baseline_rate = len(inputs) / baseline_time
    scamshare_rate = len(inputs) / scamshare_time
    print(f"bare parse+is_valid_number+format_number: {baseline_rate:,.0f} numbers/s")
    print(f"scamshare normalise('phone'): {scamshare_rate:,.0f} numbers/s")

    with MESSAGES.open(encoding="utf-8") as handle:
        messages = [line.split("\t", 1)[1] for line in handle.read().splitlines()][
            : arguments.messages
        ]
    started = time.perf_counter()
    for text in messages:
        normalise("message", text, "GB")
    elapsed = time.perf_counter() - started
    print(
        f"message templates: {len(messages) / elapsed:,.0f} messages/s ({len(messages)} messages)"
    )
    print(f"ratio: {scamshare_rate / baseline_rate:.3f}")


if __name__ == "__main__":
    main()
