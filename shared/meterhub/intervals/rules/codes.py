"""Error codes of interval-data ingestion, the CSV columns, and every rule decision the validator applies.

Leap publishes the codes (domain brief §5.5) but not the exact rules behind several of them; the decisions
below fill those gaps. Each is a choice, written down so the partner-facing docs, the validator and its
tests say the same thing. Leap's codes keep Leap's meaning; the codes marked *ours* are additions.

File
    * UTF-8 only, with or without a BOM (the BOM is dropped). LF and CRLF line ends. RFC 4180 quoting
      (fields may be quoted, contain commas, doubled quotes and line breaks). The header is line 1 and
      lines are physical lines of the file (1-based), so an error's line is the one an editor shows.
    * Gzip, ZIP/XLSX, UTF-16/32 (detected from the first bytes), bytes that are not UTF-8, and NUL bytes
      stop the file with `FIL_0002` at the offending line: such a file is not a CSV text, and guessing an
      encoding could silently corrupt meter ids. Rows before that line are still checked and reported.
    * A line longer than 65,536 characters stops the file with `FIL_0003`: no valid row comes near that
      (a full row is ~150 characters), and the cap keeps memory flat whatever is uploaded.
    * A header that is one field holding `;`, tab or `|` separated column names is `FIL_0004` (and
      nothing else): the fix is to export with commas, and listing seven missing columns would hide that.
    * Blank lines are skipped and not counted as rows. A header without data rows is `FIL_0001`: a file
      that ingests nothing is almost always a broken export, and failing it tells the partner so.
Header
    * Columns are found by name, in any order, case-insensitive, surrounding whitespace ignored.
      `meter_id`, `interval_start_time_utc` and `interval_end_time_utc` are required (`*_0001`); an energy
      column set is required (`NRG_0001`): `energy_net_kwh`, or `energy_consumed_kwh` and
      `energy_generated_kwh`, or all three. `final` and `region` are optional (Leap has no `_0001` code
      for them). Unknown columns are ignored and listed for the feedback file. A column named twice is
      `FIL_0005`: we cannot know which one the partner meant. Header problems stop the file (no rows read).
Rows
    * A row with fewer fields than the header is `LIN_0001` and nothing else is checked on it (its values
      would be in the wrong columns). More fields than the header is `LIN_0002` (ours) unless the extra
      fields are empty (trailing commas, as spreadsheets write them): an unquoted comma such as a
      decimal comma shifts the values into the wrong columns, which must not pass silently.
    * Otherwise every applicable code of the row is reported, each with its line and column.
    * Values may be surrounded by whitespace. An empty cell of an optional column means "not given".
meter_id
    A UUID in canonical 8-4-4-4-12 hex form, any case (stored lower-case); anything else is `MTR_0002`.
    Unknown meters and meters of another partner are both `MTR_0003` with the same message, so a file can
    never probe whether another partner's meter exists. A meter none of whose programs take
    partner-supplied data (TX ERS: ERCOT supplies it; CAISO/NYISO utility meters: the utility does) is
    `MTR_0004` (ours). Archived meters still take data: late data for past periods must settle.
Timestamps (`interval_start_time_utc`, `interval_end_time_utc`)
    * RFC 3339 / ISO 8601 extended form `YYYY-MM-DDTHH:MM[:SS[.ffffff]]` followed by a UTC designator:
      `Z` or `+00:00` (also `z`, `+0000`, `-00:00`); `T` may be `t` or a space. No designator, or any
      other form (week dates, basic form `20250101T0000Z`, `5:00`) is `STM_0002`/`ETM_0002`.
    * **Offsets other than UTC are rejected** (`STM_0002`/`ETM_0002`, the message names the rule), not
      normalised. The columns are `*_utc` by contract and Leap expects UTC, so accepting them would make
      us accept files Leap refuses; and a non-zero offset almost always means a local-time export, where
      the day boundaries and DST hours the partner's system produced cannot be trusted. Rejecting costs
      the partner one re-export; normalising silently could store a whole day one slot-hour off.
    * Aligned means minute in {00, 15, 30, 45} and zero seconds and fractions, else `STM_0003`/`ETM_0003`.
    * In the future (`STM_0003`/`ETM_0003`) is relative to the `now` the caller injects (the job start):
      a start after `now`, or an end after `now` (an interval that has not finished yet cannot have been
      measured). No skew allowance: the interval is 15 minutes, a partner can wait for it to end.
    * `DTR_0003` when end - start != 15 minutes; only checked when both are parsable and aligned, so one
      mistake gives one code. (Column reported: `interval_end_time_utc`.)
    * Everything is UTC, so daylight-saving time does not exist here: every UTC day has 96 slots, and the
      US DST days (e.g. 2025-03-09, 2025-11-02) are ordinary days.
Energies
    * Plain decimal numbers (`meterhub.intervals.rules.numbers`): an optional sign, ASCII digits and at most one
      decimal point (`1.5`, `-0.25`, `+2`, `.5`, `5.`). Exponents (`1e-3`), digit separators (`1_000`,
      `1,000`), other scripts' digits (Arabic-Indic, full-width...), `nan`, `inf` and anything else are
      `*_0002` (`NET_0002`, `CON_0002`, `GEN_0002`), whatever Python's `float()` would make of them: each
      is an export gone wrong, and guessing its meaning could store a value off by thousands. Net may be
      negative; consumed or generated < 0 is `CON_0003`/`GEN_0003`.
    * `NRG_0004` (ours, reported under the value's own column) when a value's size is more than
      1,000,000 kWh: one 15-minute interval at a 4 GW average, beyond any single meter, so only a unit
      error (Wh sent as kWh) or garbage gets there. Why this bound: `numbers.MAX_KWH_PER_INTERVAL`.
    * Per row the given (non-empty) values must form a set: net, or consumed and generated, or all three;
      else `NRG_0001` (also checked on the header, see above).
    * `NRG_0003` when all three are given and |net - (consumed - generated)| > 0.002 kWh + 0.1 % of
      max(consumed, generated). 0.002 kWh covers three values each rounded to 3 decimals (worst case
      3 * 0.0005); 0.1 % covers values exported with ~4 significant digits and float representation.
      (Column reported for `NRG_*`: `energy_net_kwh`.)
final
    `true/false`, `1/0`, `yes/no`, case-insensitive; an empty cell (or no `final` column) means false (an
    estimated, replaceable value). Anything else is `FNL_0002`.
region
    A US state code (50 states and DC) or a transmission region (`CAISO`, `ERCOT`, `ISONE`, `NYISO`,
    `PJM`, `SERC`, `WECC_PC`, `WECC_SW`), case-insensitive; empty means not given. A value that is not a
    plain word (digits, spaces, punctuation other than `_`/`-`) is `REG_0002`; a word that is no state or
    region is `REG_0003`, and so is a valid one that names neither the meter's state nor its region
    (when the meter lookup provides them).
Duplicates
    The same meter and interval start twice in one file is `DUP_0001` (ours) on every later occurrence
    (rows whose meter and start are valid count, whatever else is wrong with them). A file is one
    consistent statement of the intervals it holds; across files, a later upload replaces earlier values
    (see `meterhub.intervals.rules.slots`).
"""

from __future__ import annotations

from enum import StrEnum

from meterhub.intervals.rules.numbers import MAX_KWH_PER_INTERVAL


class Column(StrEnum):
    """The load-schema columns, by their header names (Leap's file-preview header, in its order)."""

    METER_ID = "meter_id"
    START = "interval_start_time_utc"
    END = "interval_end_time_utc"
    NET = "energy_net_kwh"
    CONSUMED = "energy_consumed_kwh"
    GENERATED = "energy_generated_kwh"
    FINAL = "final"
    REGION = "region"


class ErrorCode(StrEnum):
    """Every code a file or row can get; `meaning` is its one-line documentation, `column` its column."""

    UNCATEGORISED = "UNCATEGORISED"
    LIN_0001 = "LIN_0001"
    LIN_0002 = "LIN_0002"
    MTR_0001 = "MTR_0001"
    MTR_0002 = "MTR_0002"
    MTR_0003 = "MTR_0003"
    MTR_0004 = "MTR_0004"
    STM_0001 = "STM_0001"
    STM_0002 = "STM_0002"
    STM_0003 = "STM_0003"
    ETM_0001 = "ETM_0001"
    ETM_0002 = "ETM_0002"
    ETM_0003 = "ETM_0003"
    DTR_0003 = "DTR_0003"
    GEN_0002 = "GEN_0002"
    GEN_0003 = "GEN_0003"
    NET_0002 = "NET_0002"
    CON_0002 = "CON_0002"
    CON_0003 = "CON_0003"
    NRG_0001 = "NRG_0001"
    NRG_0003 = "NRG_0003"
    NRG_0004 = "NRG_0004"
    REG_0002 = "REG_0002"
    REG_0003 = "REG_0003"
    FNL_0002 = "FNL_0002"
    DUP_0001 = "DUP_0001"
    FIL_0001 = "FIL_0001"
    FIL_0002 = "FIL_0002"
    FIL_0003 = "FIL_0003"
    FIL_0004 = "FIL_0004"
    FIL_0005 = "FIL_0005"

    @property
    def meaning(self) -> str:
        return _MEANINGS[self]

    @property
    def column(self) -> str | None:
        """The column errors of this code are reported under; None for line- and file-level codes, and for
        NRG_0004, which is reported under the column of the value it refuses."""
        return _COLUMNS.get(self)

    @property
    def is_leap(self) -> bool:
        """True for Leap's published codes, False for our additions."""
        return self not in OUR_CODES


_MEANINGS: dict[ErrorCode, str] = {
    ErrorCode.UNCATEGORISED: "An unexpected problem with this line (should practically never happen).",
    ErrorCode.LIN_0001: "The line has fewer fields than the header.",
    ErrorCode.LIN_0002: "The line has more non-empty fields than the header (an unquoted comma?).",
    ErrorCode.MTR_0001: "The meter_id column is not present.",
    ErrorCode.MTR_0002: "meter_id is not a UUID.",
    ErrorCode.MTR_0003: "meter_id is not a known meter of this partner.",
    ErrorCode.MTR_0004: "The ISO or utility supplies this meter's interval data; partner data is refused.",
    ErrorCode.STM_0001: "The interval_start_time_utc column is not present.",
    ErrorCode.STM_0002: "interval_start_time_utc is not a UTC ISO 8601 timestamp (Z or +00:00).",
    ErrorCode.STM_0003: "interval_start_time_utc is not on a 15-minute boundary, or is in the future.",
    ErrorCode.ETM_0001: "The interval_end_time_utc column is not present.",
    ErrorCode.ETM_0002: "interval_end_time_utc is not a UTC ISO 8601 timestamp (Z or +00:00).",
    ErrorCode.ETM_0003: "interval_end_time_utc is not on a 15-minute boundary, or is in the future.",
    ErrorCode.DTR_0003: "The interval is not 15 minutes long (end - start).",
    ErrorCode.GEN_0002: "energy_generated_kwh is not a plain decimal number (ASCII digits, sign, point).",
    ErrorCode.GEN_0003: "energy_generated_kwh is negative.",
    ErrorCode.NET_0002: "energy_net_kwh is not a plain decimal number (ASCII digits, sign, point).",
    ErrorCode.CON_0002: "energy_consumed_kwh is not a plain decimal number (ASCII digits, sign, point).",
    ErrorCode.CON_0003: "energy_consumed_kwh is negative.",
    ErrorCode.NRG_0001: "No valid set of energy values: net, or consumed and generated, or all three.",
    ErrorCode.NRG_0003: "The energy values conflict: net differs from consumed - generated.",
    ErrorCode.NRG_0004: (
        f"An energy value is beyond {MAX_KWH_PER_INTERVAL:,.0f} kWh, more than any meter measures in 15 minutes."
    ),
    ErrorCode.REG_0002: "region is not parsable as a state or region name.",
    ErrorCode.REG_0003: "region is not a US state or transmission region, or not the meter's.",
    ErrorCode.FNL_0002: "final is not one of true/false, 1/0, yes/no.",
    ErrorCode.DUP_0001: "The same meter_id and interval_start_time_utc appear on an earlier line.",
    ErrorCode.FIL_0001: "The file has no data: it is empty, line 1 is blank, or there are no data rows.",
    ErrorCode.FIL_0002: "The file is not UTF-8 text (gzip/zip, UTF-16, invalid UTF-8 or a NUL byte).",
    ErrorCode.FIL_0003: "A line (or quoted field) is longer than the limit.",
    ErrorCode.FIL_0004: "The header is separated by ';', tab or '|' instead of commas.",
    ErrorCode.FIL_0005: "A column name appears twice in the header.",
}

_COLUMNS: dict[ErrorCode, str] = {
    ErrorCode.MTR_0001: Column.METER_ID,
    ErrorCode.MTR_0002: Column.METER_ID,
    ErrorCode.MTR_0003: Column.METER_ID,
    ErrorCode.MTR_0004: Column.METER_ID,
    ErrorCode.STM_0001: Column.START,
    ErrorCode.STM_0002: Column.START,
    ErrorCode.STM_0003: Column.START,
    ErrorCode.ETM_0001: Column.END,
    ErrorCode.ETM_0002: Column.END,
    ErrorCode.ETM_0003: Column.END,
    ErrorCode.DTR_0003: Column.END,
    ErrorCode.GEN_0002: Column.GENERATED,
    ErrorCode.GEN_0003: Column.GENERATED,
    ErrorCode.NET_0002: Column.NET,
    ErrorCode.CON_0002: Column.CONSUMED,
    ErrorCode.CON_0003: Column.CONSUMED,
    ErrorCode.NRG_0001: Column.NET,
    ErrorCode.NRG_0003: Column.NET,
    ErrorCode.REG_0002: Column.REGION,
    ErrorCode.REG_0003: Column.REGION,
    ErrorCode.FNL_0002: Column.FINAL,
    ErrorCode.DUP_0001: Column.START,
}

OUR_CODES = frozenset(
    {
        ErrorCode.LIN_0002,
        ErrorCode.MTR_0004,
        ErrorCode.NRG_0004,
        ErrorCode.DUP_0001,
        ErrorCode.FIL_0001,
        ErrorCode.FIL_0002,
        ErrorCode.FIL_0003,
        ErrorCode.FIL_0004,
        ErrorCode.FIL_0005,
    }
)
# File-level codes: validation stops at their line, what follows cannot be read as rows.
FILE_CODES = frozenset(
    {ErrorCode.FIL_0001, ErrorCode.FIL_0002, ErrorCode.FIL_0003, ErrorCode.FIL_0004, ErrorCode.FIL_0005}
)
