"""PostgreSQL's number templates for ``to_char(number, '999D99')``: read once when the
statement is parsed (an unsupported element is refused there, at its place in the text), and
applied to each value by the function the query session registers (``to_char``).

The elements, as PostgreSQL's manual lists them ("Template Patterns for Numeric Formatting"):
``9`` a digit, ``0`` a digit kept even when it is a leading zero, ``.`` or ``D`` the decimal
point, ``,`` or ``G`` a group separator, ``FM`` fill mode (no padding, no trailing zeros in a
``9`` place after the point), the signs ``S`` (anchored to the number when it comes first),
``SG``, ``MI``, ``PL`` and ``PR`` (``<12>``), and ``"text"`` or any other character copied as it
is. ``EEEE``, ``V``, ``RN``, ``TH`` and ``L`` are refused. A value too wide for its digits prints
as ``#``s.

The number is first written out as PostgreSQL writes it before laying it out: an exact number
(DuckDB's DECIMAL and integers, PostgreSQL's numeric and integers) rounded half away from zero to
the template's places after the point; a DOUBLE or a REAL as C's ``printf("%.*f")`` writes it
(half to even, on the binary value) with no more than 15 or 6 significant digits (DBL_DIG,
FLT_DIG): ``to_char(2.5::float8, '9')`` is `` 2``, and a float8 keeps 14 of ``9.999...``'s places.
Where the template asks for more places than that text has (and for the point of a number written
with none, as ``'9.'`` makes it), PostgreSQL's output ends there, at that place, with what comes
after it in the template (a sign, quoted text): so does this one."""

from __future__ import annotations

import functools
import math
import re
import struct
from dataclasses import dataclass
from decimal import ROUND_HALF_UP, Decimal, InvalidOperation

from indb.errors import DataError, NotSupportedError

NAME = "indb_to_char"  # the session's function for to_char of a number
_SIGNS = ("SG", "MI", "PL", "PR", "S")  # SG before S: the longest element is read first
_WORDS = ("FM", *_SIGNS, "D", "G")
_REFUSED = {"EEEE": "scientific notation", "RN": "roman numerals", "TH": "ordinal suffixes",
            "V": "shifting by powers of ten", "L": "the currency symbol (write it in quotes)"}
# significant digits a float8 and a float4 keep in to_char (DuckDB's type names: TYPEOF's)
_FLOAT_DIGITS = {"DOUBLE": 15, "FLOAT": 6}
_QUOTED = re.compile(r'"((?:[^"\\]|\\.)*)"')
_DIGIT_PLACE = re.compile(r'"(?:[^"\\]|\\.)*"|[09]')  # a 9 or 0 outside quotes


def is_number_template(template: str) -> bool:
    """Whether ``to_char``'s format is a number's (it has a ``9`` or ``0`` place; a date's
    template has neither)."""
    return any(m.group() in "09" for m in _DIGIT_PLACE.finditer(template))


@dataclass(frozen=True)
class Template:
    """A template read: its elements in order (``"9"``, ``"0"``, ``"."``, ``","``, a sign's
    name, or ``("text",)`` copied as it is) and what the formatting needs of them."""

    items: tuple[str | tuple[str], ...]
    fill: bool  # FM
    before: int  # digit places before the point
    after: int  # and after it
    zeros_from: int  # the first place before the point that prints a leading zero (before: none)
    kept_after: int  # places after the point through the last 0 (kept in fill mode)
    point: bool  # the template has a decimal point


@functools.lru_cache(maxsize=256)  # read once, not once a value
def read(template: str) -> Template:
    """``template`` read; an element indb does not support, or a second decimal point, is
    refused saying which."""
    items: list[str | tuple[str]] = []
    fill, point, i = False, False, 0
    upper = template.upper()
    while i < len(template):
        quoted = _QUOTED.match(template, i)
        if quoted:
            items.append((re.sub(r"\\(.)", r"\1", quoted.group(1)),))
            i = quoted.end()
            continue
        refused = next((w for w in _REFUSED if upper.startswith(w, i)), None)
        if refused is not None:
            raise NotSupportedError(f"to_char's number template element {refused} "
                                    f"({_REFUSED[refused]}) is not supported")
        word = next((w for w in _WORDS if upper.startswith(w, i)), None)
        char = template[i]
        if word == "FM":
            fill = True
        elif word in ("D", "G") or char in ".,":
            if word == "D" or char == ".":
                if point:
                    raise DataError(f"to_char's number template {template!r} has two decimal "
                                    "points")
                point = True
            items.append("." if word == "D" or char == "." else ",")
        elif word is not None or char in "09":
            items.append(word or char)
        else:
            items.append((char,))
        i += len(word or char)
    signs = [item for item in items if item in _SIGNS]
    if len(signs) > 1 and not set(signs) <= {"PL", "MI"}:
        raise DataError(f"to_char's number template {template!r} has more than one sign "
                        f"({', '.join(signs)})")
    places = [item for item in items if item in ("9", "0", ".")]
    whole = places[:places.index(".")] if "." in places else places
    fraction = places[len(whole) + 1:]
    return Template(tuple(items), fill, len(whole), len(fraction),
                    next((k for k, p in enumerate(whole) if p == "0"), len(whole)),
                    max((k + 1 for k, p in enumerate(fraction) if p == "0"), default=0), point)


def to_char(text: str, template: str, kind: str = "DECIMAL") -> str:
    """A number given as its text (DuckDB's cast of any numeric type) and its type's name
    (``kind``, TYPEOF's) as ``template`` lays it out, as PostgreSQL's ``to_char(number,
    template)``."""
    t = read(template)
    digits = _FLOAT_DIGITS.get(kind)
    try:
        if digits is None:
            value = Decimal(text).quantize(Decimal(1).scaleb(-t.after), rounding=ROUND_HALF_UP)
            return _laid_out(f"{abs(value):f}", value < 0, t, t.after)
        number = float(text)
    except (InvalidOperation, ValueError):
        raise DataError(f"to_char: {text!r} is not a number") from None
    if kind == "FLOAT":  # the REAL's own value, not the double nearest its text
        number = struct.unpack("f", struct.pack("f", number))[0]
    # as PostgreSQL's printf writes it: NaN and Infinity too, laid out as if they were digits
    whole = f"{abs(number):.0f}" if math.isfinite(number) else \
        "NaN" if math.isnan(number) else "Infinity"
    places = 0 if len(whole) >= digits else min(t.after, digits - len(whole))
    written = f"{number:.{places}f}" if math.isfinite(number) else whole
    return _laid_out(written.lstrip("-"), written.startswith("-") or number < 0, t, places)


def _laid_out(written: str, negative: bool, t: Template, places: int) -> str:
    """A number's text, unsigned, with ``places`` digits after its point (none: no point; NaN
    and Infinity have neither), laid out."""
    whole, point, fraction = written.partition(".")
    overflow = len(whole) > t.before
    if overflow:  # too wide: #s in every place
        whole, point, fraction = "#" * t.before, ".", "#" * places
    elif whole == "0" and places:
        whole = ""  # PostgreSQL prints no leading zero before a point unless a 0 place asks
    if t.fill and not overflow:  # no zeros at the end but in 0 places
        fraction = fraction[:t.kept_after] + fraction[t.kept_after:].rstrip("0")
        if not whole.lstrip("0") and not fraction and t.zeros_from == t.before:
            whole = "0"  # nothing at all would print: PostgreSQL's "0."
    blank = "" if t.fill else " "
    pieces: list[str] = []
    printed: list[bool] = []  # whether a piece is part of the number as printed (anchors a sign)
    place, after = 0, None  # digit places seen before the point; after it, how many
    slot, sign = _anchored(t, negative)
    closer = ""  # PR's, where the output ends at a place after the point
    for k, item in enumerate(t.items):
        if k == slot:
            pieces.append("")  # the anchored sign's place, moved to the first printed piece
            printed.append(False)
            if item == "S":
                continue
        if item == "9" or item == "0":
            if after is None:
                digit = whole[len(whole) - (t.before - place)] \
                    if place >= t.before - len(whole) else "0" if place >= t.zeros_from else None
                place += 1
            elif after >= places and (item == "0" or not t.fill or not point):
                closer = _sign("PR", negative, t.fill) if "PR" in t.items else ""
                break  # past the number's text: PostgreSQL's output ends here
            else:
                digit = fraction[after] if after < len(fraction) else None
                after += 1
            pieces.append(blank if digit is None else digit)
            printed.append(digit is not None)
        elif item == ".":
            if not point:
                break  # a number written without a point: PostgreSQL's output ends here
            after = 0
            pieces.append(".")
            printed.append(True)
        elif item == ",":
            pieces.append("," if any(printed) else blank)
            printed.append(any(printed))
        elif isinstance(item, tuple):
            pieces.append(item[0])
            printed.append(False)
        else:
            pieces.append(_sign(item, negative, t.fill))
            printed.append(False)
    if slot is not None:  # the sign goes right before the number's first printed piece
        first = next((j for j in range(slot, len(pieces)) if printed[j]), len(pieces))
        pieces = pieces[:slot] + pieces[slot + 1:first] + [sign] + pieces[first:]
    return "".join(pieces) + closer


def _anchored(t: Template, negative: bool) -> tuple[int | None, str]:
    """The sign that goes right before the number's first printed digit or point, and the
    index of the element it is placed at first: an ``S`` in front of the digits; else,
    unless the template has S, SG or MI at a place of their own, PostgreSQL's own sign (``PR``'s
    ``<``), a place of its own in front of the first digit place. (None, "") if neither."""
    first = next((k for k, item in enumerate(t.items) if item in ("9", "0", ".")),
                 len(t.items))
    if "S" in t.items and t.items.index("S") < first:
        return t.items.index("S"), "-" if negative else "+"
    if any(sign in t.items for sign in ("S", "SG", "MI")):
        return None, ""
    if negative:
        return first, "<" if "PR" in t.items else "-"
    return first, "" if t.fill else " "


def _sign(item: str, negative: bool, fill: bool) -> str:
    """A sign element at its own place."""
    if item in ("S", "SG"):
        return "-" if negative else "+"
    if item == "MI":
        return "-" if negative else "" if fill else " "
    if item == "PL":
        return "+" if not negative else "" if fill else " "
    return ">" if negative else "" if fill else " "  # PR
