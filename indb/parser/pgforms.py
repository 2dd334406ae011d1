"""PostgreSQL's functions that DuckDB lacks, read as the DuckDB expressions that compute them, so
that SQL written for PostgreSQL (a client of the pg port, a script) runs as it does there. A
name is only taken where DuckDB has no function of it, or none with that many arguments
(``encode(bytes, 'hex')``: DuckDB's ``encode`` takes one); DuckDB's own calls are unchanged.
"""

from __future__ import annotations

import re
from collections.abc import Callable

from sqlglot import exp
from sqlglot.parser import Parser

from indb.parser.faithful import as_called

Builder = Callable[[list[exp.Expr]], exp.Expr]


def _call(name: str, *args: exp.Expr) -> exp.Expr:
    return exp.Anonymous(this=name, expressions=list(args))


def array_bound(items: exp.Expr, dimension: exp.Expr, upper: bool) -> exp.Expr:
    """PostgreSQL's ``array_lower(a, 1)`` / ``array_upper(a, 1)`` of a list: 1 / its length,
    NULL for an empty one or another dimension (DuckDB has neither; Grafana's table listing
    calls them)."""
    length = exp.func("len", items.copy())
    return exp.Case(ifs=[exp.If(this=exp.and_(dimension.copy().eq(exp.Literal.number(1)),
                                              length.copy() > exp.Literal.number(0)),
                                true=length if upper else exp.Literal.number(1))])


def _bound(upper: bool) -> Builder:
    name = "array_upper" if upper else "array_lower"
    return lambda args: array_bound(args[0], args[1], upper) if len(args) == 2 \
        else exp.Anonymous(this=name, expressions=args)


def _btrim(args: list[exp.Expr]) -> exp.Expr:
    """``btrim(s [, characters])``: DuckDB's ``trim``."""
    return exp.Trim(this=args[0], expression=args[1] if len(args) > 1 else None)


def _width_bucket(p: Parser) -> exp.Expr:
    """``width_bucket(x, low, high, count)``: which of ``count`` equal buckets between low and
    high x falls in, 0 below and count + 1 above (high down to low where high < low), as
    PostgreSQL counts; DuckDB has no such function. ``width_bucket(x, thresholds)`` is
    refused by DuckDB (no such function), as before."""
    args = p._parse_function_args(False)
    if len(args) != 4:
        return _call("width_bucket", *args)
    x, low, high, count = args

    def bucket() -> exp.Expr:  # (x - low) / (high - low) is the share either way round
        share = exp.Div(this=exp.Paren(this=x.copy() - low.copy()),
                        expression=exp.Paren(this=high.copy() - low.copy()))
        scaled = exp.Mul(this=exp.Paren(this=share), expression=count.copy())
        return exp.cast(_call("floor", scaled), exp.DType.BIGINT) + 1

    rising = exp.Case(ifs=[exp.If(this=x.copy() < low.copy(), true=exp.Literal.number(0)),
                           exp.If(this=x.copy() >= high.copy(), true=count.copy() + 1)],
                      default=bucket())
    falling = exp.Case(ifs=[exp.If(this=x.copy() > low.copy(), true=exp.Literal.number(0)),
                            exp.If(this=x.copy() <= high.copy(), true=count.copy() + 1)],
                       default=bucket())
    return exp.Case(ifs=[exp.If(this=low.copy() < high.copy(), true=rising),
                         exp.If(this=low.copy() > high.copy(), true=falling)],
                    default=_call("error", exp.Literal.string(
                        "width_bucket: lower bound cannot equal upper bound")))


def _regexp_match(args: list[exp.Expr]) -> exp.Expr:
    """``regexp_match(s, pattern [, flags])``: the captured groups of the first match as a list
    (the whole match where the pattern captures none), NULL where there is none, as
    PostgreSQL's; the pattern a literal (its groups counted), else DuckDB's error."""
    if len(args) not in (2, 3) or not args[1].is_string:
        return _call("regexp_match", *args)
    text, pattern = args[0], args[1]
    flags = [args[2]] if len(args) == 3 else []
    try:
        groups = re.compile(pattern.name).groups
    except re.error:  # (DuckDB's RE2 reads it, or says why not)
        groups = 0
    found = [_call("regexp_extract", text.copy(), pattern.copy(), exp.Literal.number(g),
                   *(f.copy() for f in flags)) for g in (range(1, groups + 1) if groups else [0])]
    matches = _call("regexp_matches", text.copy(), pattern.copy(), *(f.copy() for f in flags))
    return exp.Case(ifs=[exp.If(this=matches, true=exp.Array(expressions=found))])


def quoted(text: exp.Expr, quote: str) -> exp.Expr:
    """``text`` between two ``quote``s, each ``quote`` in it doubled."""
    mark = exp.Literal.string(quote)
    return exp.DPipe(this=exp.DPipe(this=mark, expression=exp.func(
        "replace", text, mark.copy(), exp.Literal.string(quote * 2))), expression=mark.copy())


def quote_ident(name: exp.Expr) -> exp.Expr:
    """PostgreSQL's ``quote_ident``: a name as it may stand in SQL, in double quotes unless it
    is a plain lower-case identifier."""
    return exp.If(this=exp.RegexpLike(this=name, expression=exp.Literal.string("^[a-z_][a-z0-9_$]*$")),
                  true=name.copy(), false=quoted(name.copy(), '"'))


def quote_literal(value: exp.Expr) -> exp.Expr:
    """PostgreSQL's ``quote_literal``: a value's text as a string literal, quotes doubled (with
    a backslash in it, an ``E''`` literal with backslashes doubled, as PostgreSQL writes)."""
    text = exp.cast(value, exp.DType.VARCHAR)
    escaped = exp.func("replace", text.copy(), exp.Literal.string("\\"), exp.Literal.string("\\\\"))
    return exp.Case(ifs=[exp.If(this=exp.func("strpos", text.copy(), exp.Literal.string("\\")) > 0,
                                true=exp.DPipe(this=exp.Literal.string("E"), expression=quoted(escaped, "'")))],
                    default=quoted(text, "'"))


# PostgreSQL's formats of encode/decode, and DuckDB's functions of each way
CODED = {"base64": ("to_base64", "from_base64"), "hex": ("hex", "unhex")}


def parse_coded(p: Parser, decode: bool) -> exp.Expr:
    """``encode(bytes, 'base64' | 'hex')`` and ``decode(text, 'base64' | 'hex')``, PostgreSQL's
    (hex written in lower case, as PostgreSQL writes it); DuckDB's own forms otherwise:
    ``encode(text)`` (its UTF-8 bytes), ``decode(blob [, 'strict' | 'ignore' | 'replace'])``;
    with three or more arguments, Oracle's (Snowflake's, Kinetica's) ``decode``: a CASE."""
    args = p._parse_function_args(False)
    if decode and len(args) > 2:  # Oracle's, Snowflake's, Kinetica's: decode(x, match, value, ...)
        return exp.DecodeCase(expressions=args)
    form = args[1] if len(args) == 2 else None
    if form is None or not form.is_string or form.name.lower() not in CODED:
        if len(args) == 1:  # (sqlglot's nodes: DuckDB's ENCODE(x), DECODE(x))
            return exp.Decode(this=args[0], charset=exp.Literal.string("utf-8")) if decode \
                else exp.Encode(this=args[0], charset=exp.Literal.string("utf-8"))
        return _call("decode" if decode else "encode", *args)
    to, back = CODED[form.name.lower()]
    if decode:
        return _call(back, args[0])
    coded = _call(to, args[0])
    return _call("lower", coded) if to == "hex" else coded


FUNCTIONS: dict[str, Builder] = {
    "ARRAY_LOWER": _bound(upper=False), "ARRAY_UPPER": _bound(upper=True),
    "BTRIM": _btrim,
    "EVERY": lambda args: exp.LogicalAnd(this=args[0]),
    "JSON_BUILD_OBJECT": as_called("json_object"), "JSONB_BUILD_OBJECT": as_called("json_object"),
    "JSON_BUILD_ARRAY": as_called("json_array"), "JSONB_BUILD_ARRAY": as_called("json_array"),
    "JSON_AGG": lambda args: _call("to_json", exp.ArrayAgg(this=args[0])),  # (ORDER BY kept)
    "JSONB_AGG": lambda args: _call("to_json", exp.ArrayAgg(this=args[0])),
    "JSONB_ARRAY_LENGTH": as_called("json_array_length"),
    "REGEXP_MATCH": _regexp_match,
    "QUOTE_IDENT": lambda args: quote_ident(args[0]) if len(args) == 1 else _call("quote_ident", *args),
    "QUOTE_LITERAL": lambda args: quote_literal(args[0]) if len(args) == 1 else _call("quote_literal", *args),
    "QUOTE_NULLABLE": lambda args: exp.func("coalesce", quote_literal(args[0]), exp.Literal.string("NULL"))
    if len(args) == 1 else _call("quote_nullable", *args),
}
FUNCTION_PARSERS: dict[str, Callable[[Parser], exp.Expr]] = {
    "DECODE": lambda p: parse_coded(p, decode=True),
    "ENCODE": lambda p: parse_coded(p, decode=False),
    "WIDTH_BUCKET": _width_bucket,  # (a CASE: sqlglot checks a builder's tree for a call's)
}
