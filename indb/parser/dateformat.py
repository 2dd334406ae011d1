"""PostgreSQL's date and time templates: ``to_char(ts, 'Day, DD Mon YYYY')`` made a DuckDB
expression when the statement is parsed, and ``to_timestamp(s, 'DD Mon YYYY')`` /
``to_date(s, ...)`` a format of DuckDB's ``strptime``.

A template is read as PostgreSQL's ``formatting.c`` reads one: at each place, an optional prefix
(``FM`` fill mode: no padding; ``TM``: names without padding), then the longest of PostgreSQL's
keywords that matches there, case-sensitively (``Day``, ``DAY`` and ``day`` are three), then an
optional suffix (``TH``/``th``: an ordinal, ``12TH``; ``SP``, which PostgreSQL ignores); text in
double quotes is copied (``\\"`` a quote), and so is any other character. Each keyword becomes
the DuckDB expression that writes what PostgreSQL writes, runs of those ``strftime`` writes the
same way (``MM``, ``DD``, ``HH24``...) becoming one ``strftime`` call, joined with ``||`` (NULL
in, NULL out).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from sqlglot import exp

from indb.errors import SqlError

# PostgreSQL's keywords (DCH_keywords), in its order of search: the first that matches wins, so
# a longer one comes before its prefixes (DDD, DD, D)
KEYWORDS = (
    "A.D.", "A.M.", "AD", "AM", "B.C.", "BC", "CC", "DAY", "DDD", "DD", "DY", "Day", "Dy", "D",
    "FF1", "FF2", "FF3", "FF4", "FF5", "FF6", "FX", "HH24", "HH12", "HH", "IDDD", "ID", "IW",
    "IYYY", "IYY", "IY", "I", "J", "MI", "MM", "MONTH", "MON", "MS", "Month", "Mon", "OF", "P.M.",
    "PM", "Q", "RM", "SSSSS", "SSSS", "SS", "TZH", "TZM", "TZ", "US", "WW", "W", "Y,YYY", "YYYY",
    "YYY", "YY", "Y", "a.d.", "a.m.", "ad", "am", "b.c.", "bc", "cc", "day", "ddd", "dd", "dy",
    "d", "ff1", "ff2", "ff3", "ff4", "ff5", "ff6", "fx", "hh24", "hh12", "hh", "iddd", "id", "iw",
    "iyyy", "iyy", "iy", "i", "j", "mi", "mm", "month", "mon", "ms", "of", "p.m.", "pm", "q", "rm",
    "sssss", "ssss", "ss", "tz", "us", "ww", "w", "y,yyy", "yyyy", "yyy", "yy", "y")
PREFIXES = ("FM", "fm", "TM", "tm")
SUFFIXES = ("TH", "th", "SP", "sp")


@dataclass(frozen=True)
class Field:
    """A keyword of the template, with its prefix and suffix."""

    keyword: str
    fill: bool = False     # FM: no padding, no leading zeros
    names: bool = False    # TM: names without padding
    ordinal: str = ""      # TH or th: the number's ordinal suffix after it


Element = str | Field  # a str is text copied as it is


def read(template: str) -> list[Element]:
    """The template's elements, as PostgreSQL's parse_format reads them."""
    elements: list[Element] = []
    at = 0
    while at < len(template):
        prefix = next((p for p in PREFIXES if template.startswith(p, at)), "")
        at += len(prefix)
        keyword = next((k for k in KEYWORDS if template.startswith(k, at)), None)
        if keyword is not None:
            at += len(keyword)
            suffix = next((s for s in SUFFIXES if template.startswith(s, at)), "")
            at += len(suffix)
            elements.append(Field(keyword, fill=prefix.upper() == "FM", names=prefix.upper() == "TM",
                                  ordinal=suffix if suffix.upper() == "TH" else ""))
        elif at < len(template):
            at = _read_text(template, at, elements)
    return elements


def _read_text(template: str, at: int, elements: list[Element]) -> int:
    """Text at ``at``: a double-quoted run (a backslash quotes the next character), or one
    character (a backslash before a double quote is the quote); where the text ends."""
    if template[at] != '"':
        at += template.startswith('\\"', at)
        elements.append(template[at])
        return at + 1
    at += 1
    while at < len(template) and template[at] != '"':
        at += template[at] == "\\" and at + 1 < len(template)
        elements.append(template[at])
        at += 1
    return at + 1


def is_date_template(template: str) -> bool:
    """Whether the template has a date or time keyword that a number's template does not have
    too (a number's ``D`` is its point, its ``MI`` a minus): ``'100% YYYY'`` is a date's."""
    return any(isinstance(e, Field) and e.keyword.upper() not in ("D", "MI") for e in read(template))


# -- to_char ---------------------------------------------------------------------------------

def _call(name: str, *args: exp.Expr) -> exp.Expr:
    return exp.Anonymous(this=name, expressions=list(args))


def _part(name: str) -> Callable[[exp.Expr], exp.Expr]:
    return lambda value: _call(name, value.copy())


def _era_year(year: Callable[[exp.Expr], exp.Expr]) -> Callable[[exp.Expr], exp.Expr]:
    """A year as PostgreSQL writes it, counted from 1 back in BC (DuckDB's year 0 is 1 BC)."""
    def written(value: exp.Expr) -> exp.Expr:
        y = year(value)
        return exp.Case(ifs=[exp.If(this=y <= exp.Literal.number(0),
                                    true=exp.Literal.number(1) - y.copy())], default=y.copy())
    return written


def _div(number: exp.Expr, by: int) -> exp.Expr:
    return exp.IntDiv(this=exp.Paren(this=number), expression=exp.Literal.number(by))


def _mod(number: exp.Expr, by: int) -> exp.Expr:
    return exp.Mod(this=number, expression=exp.Literal.number(by))


_YEAR, _ISOYEAR = _era_year(_part("year")), _era_year(_part("isoyear"))


def _microseconds(value: exp.Expr) -> exp.Expr:
    """The microseconds of the second (DuckDB's ``microsecond`` counts those of the minute)."""
    return _mod(_part("microsecond")(value), 1_000_000)


def _fraction(digits: int) -> Callable[[exp.Expr], exp.Expr]:
    """The second's fraction to ``digits`` places (FF1..FF6, MS)."""
    return lambda value: _div(_microseconds(value), 10 ** (6 - digits))


def _seconds_of_day(value: exp.Expr) -> exp.Expr:
    return _part("hour")(value) * 3600 + _part("minute")(value) * 60 + _part("second")(value)


def _hour12(value: exp.Expr) -> exp.Expr:
    hour = _mod(_part("hour")(value), 12)
    return exp.Case(ifs=[exp.If(this=hour.eq(0), true=exp.Literal.number(12))], default=hour.copy())


@dataclass(frozen=True)
class Number:
    """A keyword written as a number: its value, zero-padded to ``width`` (unless FM: ``fills``),
    and the strftime codes that write the same (padded, and with FM), where there are."""

    value: Callable[[exp.Expr], exp.Expr]
    width: int = 0
    code: str = ""
    fill_code: str = ""
    fills: bool = True  # FM drops the padding (not of MS, US, FFn)


NUMBERS: dict[str, Number] = {
    "HH24": Number(_part("hour"), 2, "%H", "%-H"),
    "HH12": Number(_hour12, 2, "%I", "%-I"),
    "HH": Number(_hour12, 2, "%I", "%-I"),
    "MI": Number(_part("minute"), 2, "%M", "%-M"),
    "SS": Number(_part("second"), 2, "%S", "%-S"),
    "MS": Number(_fraction(3), 3, "%g", "%g", fills=False),
    "US": Number(_microseconds, 6, "%f", "%f", fills=False),
    **{f"FF{n}": Number(_fraction(n), n, fills=False) for n in range(1, 7)},
    "SSSSS": Number(_seconds_of_day), "SSSS": Number(_seconds_of_day),
    "YYYY": Number(_YEAR, 4),
    "IYYY": Number(_ISOYEAR, 4),
    "DDD": Number(_part("dayofyear"), 3, "%j", "%-j"),
    "IDDD": Number(lambda v: (_part("week")(v) - 1) * 7 + _part("isodow")(v), 3),
    "DD": Number(_part("day"), 2, "%d", "%-d"),
    "D": Number(lambda v: _part("dayofweek")(v) + 1, 1),
    "ID": Number(_part("isodow"), 1),
    "W": Number(lambda v: _div(_part("day")(v) - 1, 7) + 1, 1),
    "WW": Number(lambda v: _div(_part("dayofyear")(v) - 1, 7) + 1, 2),
    "IW": Number(_part("week"), 2, "%V"),
    "MM": Number(_part("month"), 2, "%m", "%-m"),
    "Q": Number(_part("quarter")),
    "J": Number(lambda v: exp.cast(_call("julian", exp.cast(v.copy(), exp.DType.DATE)), exp.DType.BIGINT)),
}
# the last digits of the year (ISO year): PostgreSQL pads the year to them, then keeps them
LAST_DIGITS = {"YYY": (_YEAR, 3), "YY": (_YEAR, 2), "Y": (_YEAR, 1),
               "IYY": (_ISOYEAR, 3), "IY": (_ISOYEAR, 2), "I": (_ISOYEAR, 1)}
NAMES = {"MONTH": "%B", "MON": "%b", "DAY": "%A", "DY": "%a"}
FULL_NAMES = ("MONTH", "DAY")  # padded to 9 characters
MERIDIEM = {"AM": ("AM", "PM"), "PM": ("AM", "PM"), "A.M.": ("A.M.", "P.M."), "P.M.": ("A.M.", "P.M.")}
ERA = {"AD": ("AD", "BC"), "BC": ("AD", "BC"), "A.D.": ("A.D.", "B.C."), "B.C.": ("A.D.", "B.C.")}
ROMAN = ("I", "II", "III", "IV", "V", "VI", "VII", "VIII", "IX", "X", "XI", "XII")

Piece = str | exp.Expr  # a str: a strftime format's text (a code, or text with % doubled)


def to_char(value: exp.Expr, template: str) -> exp.Expr:
    """PostgreSQL's ``to_char(value, template)`` of a date or timestamp, as a DuckDB expression."""
    pieces: list[Piece] = []
    for element in read(template):
        pieces.append(element.replace("%", "%%") if isinstance(element, str)
                      else _field(value, element))
    return _joined(value, pieces)


def _joined(value: exp.Expr, pieces: list[Piece]) -> exp.Expr:
    """The pieces as one string: each run of format text one ``strftime`` (or a literal, if it
    has no code), joined by ``||``; NULL where the value is."""
    parts: list[exp.Expr] = []
    run: list[str] = []

    def flush() -> None:
        text = "".join(run)
        if "%" in text.replace("%%", ""):
            parts.append(_call("strftime", value.copy(), exp.Literal.string(text)))
        elif text:
            parts.append(exp.Literal.string(text.replace("%%", "%")))
        run.clear()

    for piece in pieces:
        if isinstance(piece, str):
            run.append(piece)
        else:
            flush()
            parts.append(piece)
    flush()
    if not parts:
        return exp.Null()  # PostgreSQL's to_char of an empty template
    if all(isinstance(part, exp.Literal) for part in parts):
        # only text: still NULL for a NULL value, as PostgreSQL's to_char is strict
        written = exp.Literal.string("".join(part.name for part in parts))
        return exp.Case(ifs=[exp.If(this=exp.Not(this=exp.Is(this=value.copy(), expression=exp.Null())),
                                    true=written)])
    result = parts[0]
    for part in parts[1:]:
        result = exp.DPipe(this=result, expression=part, safe=True)
    return result


def _field(value: exp.Expr, field: Field) -> Piece:
    """What one keyword writes: a strftime code, or an expression."""
    keyword, upper = field.keyword, field.keyword.upper()
    number = NUMBERS.get(upper)
    if number is not None:
        fill = field.fill and number.fills
        code = number.fill_code if fill else number.code
        if code and not field.ordinal:
            return code
        return _ordinal(_padded(number.value(value), 0 if fill else number.width), field.ordinal)
    if upper in LAST_DIGITS:
        year_of, digits = LAST_DIGITS[upper]
        padded = _padded(year_of(value), 0 if field.fill else digits)
        written = _call("right", padded, exp.Literal.number(digits))
        return _ordinal(written, field.ordinal)
    if upper == "Y,YYY":
        year = _YEAR(value)
        grouped = _call("printf", exp.Literal.string("%d,%03d"), _div(year, 1000), _mod(year.copy(), 1000))
        return _ordinal(grouped, field.ordinal)
    if upper == "CC":
        return _ordinal(_century(value, field.fill), field.ordinal)
    if upper in NAMES:
        return _name(value, field)
    if upper in MERIDIEM:
        before, after = MERIDIEM[upper]
        return _cased(exp.Case(ifs=[exp.If(this=_part("hour")(value) < 12, true=exp.Literal.string(before))],
                               default=exp.Literal.string(after)), keyword)
    if upper in ERA:
        before, after = ERA[upper]
        return _cased(exp.Case(ifs=[exp.If(this=_part("year")(value) <= 0, true=exp.Literal.string(after))],
                               default=exp.Literal.string(before)), keyword)
    if upper == "RM":
        numeral = exp.Bracket(this=exp.Array(expressions=[exp.Literal.string(r) for r in ROMAN]),
                              expressions=[_part("month")(value)])
        return _cased(numeral if field.fill else _call("rpad", numeral, exp.Literal.number(4),
                                                        exp.Literal.string(" ")), keyword)
    if upper == "TZ":
        if keyword == "TZ":
            return "%Z"
        return _call("lower", _call("strftime", value.copy(), exp.Literal.string("%Z")))
    if upper in ("OF", "TZH", "TZM"):
        return _offset(value, upper)
    return ""  # FX: nothing to write


def _padded(number: exp.Expr, width: int) -> exp.Expr:
    if not width:
        return exp.cast(number, exp.DType.VARCHAR)
    return _call("printf", exp.Literal.string(f"%0{width}d"), number)


def _ordinal(written: exp.Expr, suffix: str) -> exp.Expr:
    """``written`` with its ordinal suffix (TH: 1ST, 12TH; th: 1st), read from its last digits,
    as PostgreSQL's str_numth does."""
    if not suffix:
        return written
    last = _call("right", written.copy(), exp.Literal.number(1))
    ending = exp.Case(
        ifs=[exp.If(this=exp.In(this=_call("right", written.copy(), exp.Literal.number(2)),
                                expressions=[exp.Literal.string(t) for t in ("11", "12", "13")]),
                    true=exp.Literal.string("th")),
             *(exp.If(this=last.copy().eq(exp.Literal.string(digit)), true=exp.Literal.string(end))
               for digit, end in (("1", "st"), ("2", "nd"), ("3", "rd")))],
        default=exp.Literal.string("th"))
    return exp.DPipe(this=written, expression=_call("upper", ending) if suffix == "TH" else ending, safe=True)


def _century(value: exp.Expr, fill: bool) -> exp.Expr:
    """CC: the 21st century from 2001, 1 BC's century -1 (PostgreSQL's DCH_CC)."""
    year = _part("year")(value)
    century = exp.Case(ifs=[exp.If(this=year > 0, true=_div(year.copy() - 1, 100) + 1)],
                       default=_div(year.copy(), 100) - 1)
    if fill:
        return exp.cast(century, exp.DType.VARCHAR)
    return exp.Case(ifs=[exp.If(this=exp.Between(this=century.copy(), low=exp.Literal.number(0),
                                                 high=exp.Literal.number(99)),
                                true=_padded(century.copy(), 2)),
                         exp.If(this=exp.Between(this=century.copy(), low=exp.Literal.number(-99),
                                                 high=exp.Literal.number(-1)),
                                true=_call("printf", exp.Literal.string("%03d"), century.copy()))],
                    default=exp.cast(century, exp.DType.VARCHAR))


def _name(value: exp.Expr, field: Field) -> Piece:
    """A month's or day's name: English, cased as the keyword is (MONTH, Month, month), the full
    ones padded to 9 characters unless FM or TM."""
    upper = field.keyword.upper()
    code = NAMES[upper]
    padded = upper in FULL_NAMES and not field.fill and not field.names
    if field.keyword[0].isupper() and field.keyword[1:].islower() and not padded:
        return code
    name: exp.Expr = _call("strftime", value.copy(), exp.Literal.string(code))
    if padded:
        name = _call("rpad", name, exp.Literal.number(9), exp.Literal.string(" "))
    return _cased(name, field.keyword)


def _cased(written: exp.Expr, keyword: str) -> exp.Expr:
    """``written`` in the keyword's case: upper for AM, lower for am, as it is for Day."""
    letters = [c for c in keyword if c.isalpha()]
    if all(c.isupper() for c in letters):
        return _call("upper", written) if keyword.upper() in NAMES else written
    if all(c.islower() for c in letters):
        return _call("lower", written)
    return written


def _offset(value: exp.Expr, keyword: str) -> exp.Expr:
    """OF (+05, +05:30), TZH (+05) and TZM (30) from strftime's %z (+05 or +05:30)."""
    offset = _call("strftime", value.copy(), exp.Literal.string("%z"))
    if keyword == "OF":
        return offset
    if keyword == "TZH":
        return _call("left", offset, exp.Literal.number(3))
    return exp.Case(ifs=[exp.If(this=_call("length", offset.copy()) > 3,
                                true=_call("right", offset.copy(), exp.Literal.number(2)))],
                    default=exp.Literal.string("00"))


# -- to_timestamp, to_date -------------------------------------------------------------------

# the keywords strptime reads, by their upper-case form: (code, code with FM)
READ_CODES = {"YYYY": ("%Y", "%Y"), "YY": ("%y", "%-y"), "MM": ("%m", "%-m"), "DD": ("%d", "%-d"),
              "HH24": ("%H", "%-H"), "HH12": ("%I", "%-I"), "HH": ("%I", "%-I"), "MI": ("%M", "%-M"),
              "SS": ("%S", "%-S"), "MS": ("%g", "%g"), "US": ("%f", "%f"), "AM": ("%p", "%p"),
              "PM": ("%p", "%p"), "MON": ("%b", "%b"), "MONTH": ("%B", "%B"), "DY": ("%a", "%a"),
              "DAY": ("%A", "%A"), "DDD": ("%j", "%-j"), "IYYY": ("%G", "%G"), "IW": ("%V", "%V"),
              "ID": ("%u", "%u"), "TZ": ("%Z", "%Z"), "OF": ("%z", "%z"), "FX": ("", "")}


def strptime_format(template: str) -> str:
    """The strptime format that reads what PostgreSQL's template reads (``to_timestamp``,
    ``to_date``); a keyword strptime has no code for is refused, naming it."""
    written = []
    for element in read(template):
        if isinstance(element, str):
            written.append(element.replace("%", "%%"))
            continue
        codes = READ_CODES.get(element.keyword.upper())
        if codes is None or element.ordinal:
            raise SqlError(f"to_timestamp and to_date do not read the template element "
                           f"{element.keyword}{element.ordinal!s} (of {template!r}); they read "
                           f"{', '.join(READ_CODES)} and text")
        written.append(codes[element.fill])
    return "".join(written)
