"""The number grammar of interval files (meterhub.intervals.rules.numbers): what is a number, what is not, the bound."""

from __future__ import annotations

import re

import pytest
from meterhub.intervals.rules.numbers import MAX_KWH_PER_INTERVAL, parse_decimal, refusal

# The grammar as the README states it, written independently of the module: surrounding whitespace, then an
# optional sign, ASCII digits with an optional decimal point, at least one digit.
README_GRAMMAR = re.compile(r"\s*[+-]?([0-9]+\.?[0-9]*|\.[0-9]+)\s*")

ACCEPTED = [
    ("0", 0.0),
    ("1.5", 1.5),
    ("-0.25", -0.25),
    ("+1.5", 1.5),
    (".5", 0.5),
    ("-.5", -0.5),
    ("5.", 5.0),
    ("+5.", 5.0),
    ("007.50", 7.5),
    ("-0", 0.0),
    ("0.000001", 0.000001),
    ("1234567.125", 1234567.125),
    (" 1.25 ", 1.25),
    ("\t2\t", 2.0),
    ("1.5\u00a0", 1.5),  # a no-break space after the value is still only surrounding whitespace
]

REFUSED = [
    "",
    " ",
    ".",
    "+",
    "-",
    "+-1",
    "--1",
    "1.2.3",
    "1-",
    "1e3",
    "1E-05",
    "1e308",
    "-1e308",
    "e5",
    "1.5e",
    "NaN",
    "nan",
    "-nan",
    "Infinity",
    "inf",
    "-inf",
    "1_000",
    "1__0",
    "1,000",
    "1 000",
    "1.5 kWh",
    "0x1A",
    "\u0661.\u0662",  # Arabic-Indic digits, as float() reads them: 1.2
    "\u0661\u066b\u0662",  # Arabic-Indic digits with the Arabic decimal separator
    "\u06f1\u06f2",  # Extended Arabic-Indic (Persian) digits
    "\u0967\u0968",  # Devanagari digits
    "\uff11\uff12",  # full-width digits
    "1\u00a0000",  # a no-break space as a thousands separator
    "\u22121.5",  # the Unicode minus sign
]


@pytest.mark.parametrize(("text", "value"), ACCEPTED, ids=[repr(text) for text, _ in ACCEPTED])
def test_plain_decimals_are_numbers(text: str, value: float) -> None:
    assert parse_decimal(text) == value
    assert refusal(text) is None


@pytest.mark.parametrize("text", REFUSED, ids=[repr(text) for text in REFUSED])
def test_everything_else_float_might_read_is_refused_with_a_reason(text: str) -> None:
    assert parse_decimal(text) is None
    reason = refusal(text)
    assert reason and "decimal" in reason


@pytest.mark.parametrize("text", [text for text, _ in ACCEPTED] + REFUSED)
def test_the_grammar_is_the_one_the_readme_states(text: str) -> None:
    # Every case is in the documented grammar exactly when it is accepted (whitespace in the README's sense
    # is Python's: str.strip() and re's \s agree on the characters used here)
    assert (parse_decimal(text) is not None) == bool(README_GRAMMAR.fullmatch(text))


@pytest.mark.parametrize(
    ("text", "hint"),
    [
        ("1E-05", "scientific notation"),
        ("1e308", "scientific notation"),
        ("1_000", "separator"),
        ("1 000", "separator"),
        ("\u0661.\u0662", "ASCII digits"),
        ("NaN", "finite"),
        ("-Infinity", "finite"),
    ],
)
def test_the_reason_tells_how_to_fix_common_exports(text: str, hint: str) -> None:
    reason = refusal(text)
    assert reason is not None and hint in reason


def test_a_decimal_too_long_for_a_float_is_in_the_grammar_and_beyond_the_bound() -> None:
    # A 400-digit number is a decimal; float() makes it infinite, which the bound (not the grammar) refuses
    value = parse_decimal("9" * 400)
    assert value is not None and not value <= MAX_KWH_PER_INTERVAL
