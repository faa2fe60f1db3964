"""The numbers of interval files: which spellings are an energy value, and how much one 15-minute value may be.

Why not plain `float()`: it reads far more than the decimal numbers the load schema documents. `1_000` (a
digit separator), Arabic-Indic U+0661 U+002E U+0662 (or any other script's digits), `1e308` (an exponent),
`NaN` and `Infinity` all become floats, and a validator built on it stored them. A partner's system never
means any of these as kWh; each is a broken or foreign-locale export, and guessing what it meant could
store a value off by thousands. So the grammar is spelled out here once, and what is outside it is refused:

* Surrounding whitespace (as `str.strip()` removes it) is ignored, then
* an optional `+` or `-`, then ASCII digits `0-9` with at most one decimal point `.` and at least one
  digit: `1.5`, `-0.25`, `+2`, `.5` and `5.` are numbers (some database and fixed-width exports write
  the last three forms; none is ambiguous, so refusing them would only cost partners a re-export).
* Not numbers: exponents (`1e-3`, `1E-05`: spreadsheets show tiny or huge values that way unless the
  column is formatted as a number), digit separators (`1,000` quoted, `1 000`, `1_000`), decimal commas
  (`1,5`), digits or signs of other scripts (Arabic-Indic, Devanagari, full-width digits, the Unicode
  minus U+2212), `nan`, `inf`, `Infinity` in any case, units (`1.5 kWh`), and the empty cell (which means
  "not given" and is the caller's business).

A grammatical value can still be absurd: `MAX_KWH_PER_INTERVAL` bounds one 15-minute value (the
validator's `NRG_0004`).
"""

from __future__ import annotations

import re

DECIMAL = re.compile(r"[+-]?(?:[0-9]+(?:\.[0-9]*)?|\.[0-9]+)")
"""The grammar of an energy value once its surrounding whitespace is stripped (use with `fullmatch`)."""

MAX_KWH_PER_INTERVAL = 1_000_000.0
"""The most energy one meter can measure in one 15-minute interval, in kWh (net, consumed or generated).

1,000,000 kWh in 15 minutes is a 4 GW average, while the largest single loads on one meter (aluminium
smelters, hyperscale data-centre campuses) are around 0.5-1 GW and the largest US generating units about
1.4 GW: no real meter comes near it, so a partner is never refused for a true value. It still catches what
the grammar cannot: `1e308`-sized numbers spelled out in digits, a float overflowing to infinity, and Wh
sent as kWh for any site averaging more than 4 MW (1,000 kWh per interval becomes 1,000,000). A global bound
cannot catch Wh-as-kWh on small sites (a house's 1 kWh sent as 1,000 "kWh" is a real value for a factory);
that would need a per-meter capacity, which meters do not carry.
"""


def parse_decimal(text: str) -> float | None:
    """The value of `text` when it is a number of the grammar, else None.

    The value can be infinite when the digits are more than a float holds (hundreds of digits): it is a
    number, just an implausible one, so the caller's bound check (not this) refuses it.
    """
    stripped = text.strip()
    return float(stripped) if DECIMAL.fullmatch(stripped) else None


def refusal(text: str) -> str | None:
    """Why `text` is not a number of the grammar, phrased to follow the cell value in a message; None when it is.

    The common export mistakes get their fix named, so a partner knows what to change in one read.
    """
    stripped = text.strip()
    if DECIMAL.fullmatch(stripped):
        return None
    if not stripped.isascii():
        return "is not a plain decimal number: use ASCII digits 0-9 and '.', not another script's digits or signs"
    if _EXPONENT.fullmatch(stripped):
        return "is not a plain decimal number: scientific notation is not accepted, write e.g. 0.00001, not 1E-05"
    if _GROUPED.fullmatch(stripped):
        return "is not a plain decimal number: write it without digit separators, e.g. 1000.5, not 1,000.5"
    if _NON_FINITE.fullmatch(stripped):
        return f"is not a finite decimal number ({_RULE})"
    return f"is not a plain decimal number ({_RULE})"


_RULE = "ASCII digits 0-9, an optional sign and decimal point, e.g. -1.25"
_EXPONENT = re.compile(r"[+-]?(?:[0-9]+(?:\.[0-9]*)?|\.[0-9]+)[eE][+-]?[0-9]+")
_GROUPED = re.compile(r"[+-]?[0-9]+(?:[,_ '][0-9]+)+(?:\.[0-9]*)?")
_NON_FINITE = re.compile(r"[+-]?(?:nan|inf|infinity)", re.IGNORECASE)
