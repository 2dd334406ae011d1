"""q's syntax, as far as q-sql needs it: tokens, a tree of q expressions (evaluated right to
left, without precedence), the query templates and table expressions, and what q reads from a
tree (its columns' names, where its aggregates are). ``indb.parser.qsql`` translates the tree."""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import TypeVar

T = TypeVar("T")  # what a parsing method returns
TEMPLATES = ("select", "exec", "update", "delete")
PHRASE_ENDS = ("by", "from", "where")
DYADIC_AGGREGATES = {"wavg", "wsum", "cov", "scov", "cor"}
AGGREGATES = {"avg", "sum", "min", "max", "count", "first", "last", "med", "dev", "sdev", "var",
              "svar", "prd", "all", "any"} | DYADIC_AGGREGATES
RUNNING = {"sums", "maxs", "mins", "prds", "avgs", "deltas", "ratios", "differ", "fills", "prev",
           "next", "rank"}  # along the rows, in order (rank: in the order of its argument)
MOVING = {"mavg", "msum", "mcount", "mmin", "mmax", "mdev", "xprev"}  # n f x: n rows at a time
SORTS = ("xasc", "xdesc", "xgroup", "xcols", "xcol")  # `c xasc t: table expressions (`k xkey t too)
INFIX_JOINS = {"lj", "ljf", "ij", "ijf", "pj", "uj", "ujf", "asof"}  # t1 lj t2, or lj[t1; t2]
COLUMN_JOINS = {"ej", "aj", "aj0", "ajf", "ajf0"}  # aj[`sym`time; t1; t2]
WINDOW_JOINS = ("wj", "wj1")  # wj[w; `sym`time; t; (q; (max; `ask); (min; `bid))]
UNTRANSLATED = {  # q's other verbs on tables, refused with what to write instead
    "insert": "insert changes a table, which q-sql here does not: write INSERT INTO in SQL",
    "upsert": "upsert changes a table, which q-sql here does not: write INSERT ... ON "
              "CONFLICT in SQL"}
SCALARS = {"not", "neg", "abs", "sqrt", "exp", "log", "floor", "ceiling", "null", "string",
           "upper", "lower", "reciprocal", "signum", "trim", "ltrim", "rtrim", "cos", "sin",
           "tan", "acos", "asin", "atan"}
MONADS = (AGGREGATES - DYADIC_AGGREGATES) | RUNNING | SCALARS | {"distinct"}
DYADS = {"within", "like", "in", "xbar", "fby", "and", "or", "mod", "div", "xexp", "xlog",
         "xrank", "ema"} | DYADIC_AGGREGATES | MOVING
WORDS = MONADS | DYADS | set(TEMPLATES) | set(PHRASE_ENDS)

_TOKEN = re.compile(r"""
  (?P<space>\s+)
| (?P<timestamp>\d{4}\.\d\d\.\d\dD\d\d:\d\d(?::\d\d(?:\.\d+)?)?)
| (?P<date>\d{4}\.\d\d\.\d\d)
| (?P<timespan>\d+D\d\d(?::\d\d(?::\d\d(?:\.\d+)?)?)?)
| (?P<time>\d\d:\d\d(?::\d\d(?:\.\d+)?)?)
| (?P<bool>[01]+b(?![\w.]))
| (?P<null>0[Nn][hijef]?(?![\w.]))
| (?P<num>(?:\d+\.?\d*|\.\d+)(?:[eE][-+]?\d+)?[hijef]?(?![\w.]))
| (?P<name>\.?[A-Za-z][A-Za-z0-9_]*(?:\.[A-Za-z][A-Za-z0-9_]*)*)  # .u.sub: a namespace's name
| (?P<sym>(?:`[A-Za-z0-9_.]*)+)
| (?P<str>"(?:\\.|[^"\\])*")
| (?P<op><=|>=|<>|[-+*%=<>&|~^$!])
| (?P<punct>[()\[\];,:]|\\:)  # \: each-left, read in wj's windows only
""", re.VERBOSE)
NOUN_ENDS = ("timestamp", "date", "timespan", "time", "bool", "null", "num", "name", "sym", "str")
ATOMS = ("timestamp", "date", "timespan", "time", "null", "num")  # juxtaposed, they make a vector


class QError(Exception):
    """A problem at ``pos`` (a character offset) of the q text."""

    def __init__(self, message: str, pos: int) -> None:
        super().__init__(message, pos)
        self.message, self.pos = message, pos


@dataclass(frozen=True)
class Token:
    kind: str
    text: str
    pos: int


def tokenize(text: str) -> list[Token]:
    tokens: list[Token] = []
    pos = 0
    while pos < len(text):
        if text[pos] == "/" and (pos == 0 or text[pos - 1].isspace()):  # a comment to line end
            end = text.find("\n", pos)
            pos = len(text) if end < 0 else end
            continue
        match = _TOKEN.match(text, pos)
        if text.startswith(("?[", "!["), pos) and not tokens:
            raise QError("functional forms (?[t;c;b;a], ![t;c;b;a]) are not translated: write "
                         "their query template (select, exec, update, delete)", pos)
        if text.startswith("?[", pos):  # ?[c; a; b], q's vector conditional
            tokens.append(Token("name", "?", pos))
            pos += 1
            continue
        if match is None and text[pos] == "{":
            raise QError("lambdas ({...}) are not translated: write the expression itself, "
                         "or a function in SQL around q('...')", pos)
        if match is None:
            iterator = text[pos] in "'/\\"  # each-both, over, scan and their kin
            raise QError(f"q-sql cannot read {text[pos]!r} here" + (
                ": iterators (' /: \\: each) are not translated" if iterator else
                ": indb translates the operators docs/qsql.md lists"), pos)
        kind = match.lastgroup or ""
        if kind != "space":
            token = Token(kind if kind != "punct" else match.group(), match.group(), pos)
            if kind == "op" and token.text == "-" and _negative(tokens, text, match.end()):
                number = _TOKEN.match(text, match.end())
                if number is None:  # a digit that starts no number q reads (-3trade)
                    raise QError(f"q-sql cannot read {text[match.end():match.end() + 12]!r} as a "
                                 "number", match.end())
                token = Token(number.lastgroup or "", "-" + number.group(), pos)
                pos = number.end()
                tokens.append(token)
                continue
            tokens.append(token)
        pos = match.end()
    tokens.append(Token("end", "", len(text)))
    return tokens


def _negative(tokens: list[Token], text: str, after: int) -> bool:
    """Whether a ``-`` is a number's sign: a digit follows it and no noun comes before it."""
    if after >= len(text) or not text[after].isdigit():
        return False
    if not tokens:
        return True
    last = tokens[-1]
    return last.kind not in NOUN_ENDS and last.kind not in (")", "]") or \
        (last.kind == "name" and last.text in WORDS)


# -- the syntax tree of q ----------------------------------------------------------------------

@dataclass
class Node:
    pos: int


@dataclass
class Lit(Node):
    kind: str
    text: str


@dataclass
class Vec(Node):
    items: list[Lit]


@dataclass
class Name(Node):
    name: str


@dataclass
class Call(Node):
    fn: str
    args: list[Node]


@dataclass
class Dyad(Node):
    op: str
    left: Node
    right: Node


@dataclass
class GList(Node):
    """``(a;b;...)``, q's general list (``(avg;qty) fby p``, ``within (lo;hi)``)."""

    items: list[Node]


@dataclass
class TableCols(Node):
    """``([] a; b)``: the columns that ``fby`` groups by; ``([] a: 1 2; b: 3 4)`` a table,
    ``([k: 1 2] v: 3 4)`` a keyed one (its first ``keys`` columns)."""

    items: list[Node]
    names: list[str | None] = field(default_factory=list)
    keys: int = 0


@dataclass
class Sorted(Node):
    """```c xasc t``, ```c xdesc t``, ```c xgroup t``, ```c xcols t``, ```a`b xcol t``,
    ``reverse t``, ``ungroup t``, ``first t`` and ``last t``."""

    how: str
    columns: list[str]
    table: Node


@dataclass
class Keyed(Node):
    """```k xkey t`` (``columns``) or ``n!t`` (its first ``count`` columns): the same rows,
    keyed, as the right side of ``lj``, ``ij``, ``pj`` and ``uj`` reads them."""

    columns: list[str] | None
    count: int
    table: Node


@dataclass
class Join(Node):
    """``t1 lj t2`` and the other joins written between tables, or ``aj[`sym`time; t1; t2]``
    (``columns`` given)."""

    how: str
    columns: list[str]
    left: Node
    right: Node


@dataclass
class WindowJoin(Node):
    """``wj[w; `sym`time; t; (q; (max; `ask); (min; `bid))]`` and ``wj1``: ``window`` the
    (begin; end) expressions over ``left``'s columns, ``aggregates`` each function (``::``
    for the window's values as a list) and the columns it takes (the last names the result's)."""

    how: str
    window: tuple[Node, Node]
    columns: list[str]
    left: Node
    right: Node
    aggregates: list[tuple[str, list[str]]]


Subphrase = tuple[str | None, Node]


@dataclass
class Query(Node):
    kind: str
    phrase: list[Subphrase] = field(default_factory=list)
    by: list[Subphrase] = field(default_factory=list)
    source: Node = field(default_factory=lambda: Name(0, ""))
    source_pos: int = 0
    where: list[Node] = field(default_factory=list)
    distinct: bool = False
    limit: list[Node] = field(default_factory=list)


class Parser:
    def __init__(self, text: str) -> None:
        self.tokens = tokenize(text)
        self.at = 0

    @property
    def peek(self) -> Token:
        return self.tokens[self.at]

    def advance(self) -> Token:
        token = self.tokens[self.at]
        self.at += 1
        return token

    def word(self, *words: str) -> bool:
        return self.peek.kind == "name" and self.peek.text in words

    def expect(self, kind: str, what: str) -> Token:
        if self.peek.kind != kind:
            raise QError(f"expected {what}, found {self.peek.text or 'the end'}", self.peek.pos)
        return self.advance()

    def query(self) -> Query:
        start = self.peek
        if not self.word(*TEMPLATES):
            raise QError("q-sql starts with select, exec, update or delete", start.pos)
        query = Query(start.pos, self.advance().text)
        if query.kind == "select" and self.peek.kind == "[":
            self.advance()
            query.limit = self.limit()
        if query.kind in ("select", "exec") and self.word("distinct"):
            self.advance()
            query.distinct = True
        if not self.word("by", "from"):
            query.phrase = self.subphrases()
        if self.word("by"):
            if query.kind == "delete":
                raise QError("delete takes no by phrase", self.peek.pos)
            self.advance()
            query.by = self.subphrases()
        if not self.word("from"):
            raise QError(f"expected from after the {query.kind} phrase, found "
                         f"{self.peek.text or 'the end'}", self.peek.pos)
        self.advance()
        query.source_pos = self.peek.pos
        query.source = self.table()
        if self.word("where"):
            self.advance()
            query.where = [self.expr()]
            while self.peek.kind == ",":
                self.advance()
                query.where.append(self.expr())
        return query

    def table(self) -> Node:
        """A table expression: a query, a table's name, ``([] c: ...)``, ``(t)``, and
        ```c xasc t``, ```c xdesc t``, ```c xgroup t`` or ``reverse t`` of one, keyed (```k
        xkey t``, ``n!t``) or joined (``t1 lj t2``, ``t1, t2``; right to left as q reads it)."""
        left = self.primary()
        if self.word(*INFIX_JOINS) or self.peek.kind == ",":  # t1, t2: the rows of both
            token = self.advance()
            right = self.dictionary() if token.text == "asof" else None
            return Join(token.pos, token.text, [], left, right or self.table())
        return left

    def dictionary(self) -> TableCols | None:
        """```sym`time!(`AAPL; 09:15)``, a dictionary as ``asof`` takes it: a table of one row
        (None where no dictionary comes)."""
        token, after = self.peek, self.tokens[min(self.at + 1, len(self.tokens) - 1)]
        if token.kind != "sym" or after.text != "!":
            return None
        self.at += 2
        keys = token.text.split("`")[1:]
        values = self.noun()
        items = values.items if isinstance(values, Vec | GList) else [values]
        if len(items) != len(keys):
            raise QError(f"a dictionary of {len(keys)} keys and {len(items)} values", token.pos)
        return TableCols(token.pos, list(items), list(keys))

    def primary(self) -> Node:
        token, after = self.peek, self.tokens[min(self.at + 1, len(self.tokens) - 1)]
        if token.kind in ("sym", "name") and after.kind == "name" and after.text in UNTRANSLATED:
            raise QError(UNTRANSLATED[after.text], after.pos)
        if token.kind == "sym" and after.kind == "name" and after.text == "xkey":
            self.at += 2
            return Keyed(token.pos, token.text.split("`")[1:], 0, self.table())
        if token.kind == "sym" and after.kind == "name" and after.text in SORTS:
            self.at += 2
            return Sorted(token.pos, after.text, token.text.split("`")[1:], self.table())
        if self.word("reverse", "ungroup", "first", "last"):
            self.advance()
            return Sorted(token.pos, token.text, [], self.table())
        if token.kind == "num" and token.text.isdigit() and after.text == "!":
            self.at += 2  # n!t: keyed on its first n columns (0!t: not keyed)
            return Keyed(token.pos, None, int(token.text), self.table())
        if token.kind == "name" and token.text in INFIX_JOINS | COLUMN_JOINS \
                and after.kind == "[":
            return self.bracket_join()
        if token.kind == "name" and token.text in WINDOW_JOINS and after.kind == "[":
            return self.window_join()
        if self.word(*TEMPLATES):
            return self.query()
        if token.kind == "(":
            if after.kind == "[":
                return self.noun()
            self.advance()
            inner = self.table()
            self.expect(")", "the ) closing the table")
            return inner
        name = self.expect("name", "a table (a name, a query, or ([] c: ...))")
        if name.text in WORDS:
            raise QError(f"{name.text} is a q word, not a table", name.pos)
        return Name(name.pos, name.text)

    def bracket_join(self) -> Join:
        """``aj[`sym`time; t1; t2]``, ``ej[`k; t1; t2]``, ``lj[t1; t2]``..."""
        token = self.advance()
        self.advance()
        columns: list[str] = []
        if token.text in COLUMN_JOINS:
            names = self.expect("sym", f"the columns {token.text} joins on (`sym`time)")
            columns = names.text.split("`")[1:]
            self.expect(";", f"; after {token.text}'s columns")
        left = self.table()
        self.expect(";", f"; between {token.text}'s tables")
        right = (self.dictionary() if token.text == "asof" else None) or self.table()
        self.expect("]", f"the ] closing {token.text}[...]")
        return Join(token.pos, token.text, columns, left, right)

    def window_join(self) -> WindowJoin:
        """``wj[w; `sym`time; t; (q; (f0; `c0); (f1; `c1))]``, ``wj1[...]``."""
        token = self.advance()
        self.advance()
        how = token.text
        window = self.windows(how)
        self.expect(";", f"; after {how}'s windows")
        columns = self.expect("sym", f"the columns {how} joins on (`sym`time)").text.split("`")[1:]
        self.expect(";", f"; after {how}'s columns")
        left = self.table()
        self.expect(";", f"; between {how}'s tables")
        self.expect("(", f"({how}'s second table; (f0; `c0); ...): (q; (max; `ask))")
        right = self.table()
        aggregates = []
        while self.peek.kind == ";":
            self.advance()
            aggregates.append(self.window_aggregate(how))
        if not aggregates:
            raise QError(f"{how} takes its aggregates after its second table: (q; (max; `ask))",
                         self.peek.pos)
        self.expect(")", f"the ) closing {how}'s (q; (f0; `c0); ...)")
        self.expect("]", f"the ] closing {how}[...]")
        if isinstance(left, Name):  # t.time in the windows: t's column time
            window = (_unqualified(window[0], left.name), _unqualified(window[1], left.name))
        return WindowJoin(token.pos, how, window, columns, left, right, aggregates)

    def windows(self, how: str) -> tuple[Node, Node]:
        """``wj``'s windows: ``lo hi +\\: t.time`` (two timespans added to each time), or
        ``(begin; end)``, two expressions over the left table's columns."""
        first = self.noun()
        message = (f"{how} takes its windows written in: -0D00:00:02 0D00:00:01 +\\: t.time (two "
                   "timespans: q adds a number in the time column's unit, which indb's TIME "
                   "and TIMESTAMP columns do not say), or (begin; end) of t's columns")
        if self.peek.text == "+" and self.tokens[self.at + 1].kind == "\\:":
            self.at += 2
            time = self.expr()
            offsets = first.items if isinstance(first, Vec | GList) else []
            if len(offsets) != 2 or not all(isinstance(o, Lit) and o.kind == "timespan"
                                            for o in offsets):
                raise QError(message, first.pos)
            return Dyad(offsets[0].pos, "+", time, offsets[0]), \
                Dyad(offsets[1].pos, "+", time, offsets[1])
        if isinstance(first, GList) and len(first.items) == 2:
            return first.items[0], first.items[1]
        raise QError(message, first.pos)

    def window_aggregate(self, how: str) -> tuple[str, list[str]]:
        """``(max; `ask)``, ``(::; `ask)`` (the values), ``(wavg; `asize; `ask)``."""
        self.expect("(", f"{how}'s aggregates as (f; `c): (max; `ask)")
        if self.peek.kind == ":" and self.tokens[self.at + 1].kind == ":":
            self.at += 2
            function = "::"
        else:
            function = self.expect("name", "an aggregate, or :: for the values").text
        columns = []
        while self.peek.kind == ";":
            self.advance()
            columns.append(self.expect("sym", "a column of the second table (`ask)").text[1:])
        self.expect(")", f"the ) closing ({function}; `c)")
        if not columns:
            raise QError(f"({function}; `c) names the column it takes", self.peek.pos)
        return function, columns

    def limit(self) -> list[Node]:
        """``select[n]``, ``select[m n]``, ``select[>c]``, ``select[n;<c]`` (after the ``[``)."""
        items: list[Node] = []
        while True:
            token = self.peek
            if token.kind == "op" and token.text in ("<", ">"):
                self.advance()
                column = self.expect("name", "a column after < or >")
                items.append(Call(token.pos, token.text, [Name(column.pos, column.text)]))
            else:
                items.append(self.noun())
            if self.peek.kind != ";":
                self.expect("]", "the ] closing select[...]")
                return items
            self.advance()

    def subphrases(self) -> list[Subphrase]:
        return self.separated(self.subphrase, ",")

    def separated(self, parse: Callable[[], T], separator: str) -> list[T]:
        """One or more of what ``parse`` reads, with ``separator`` tokens between them."""
        items = [parse()]
        while self.peek.kind == separator:
            self.advance()
            items.append(parse())
        return items

    def subphrase(self) -> Subphrase:
        if self.peek.kind == "name" and self.tokens[self.at + 1].kind == ":":
            name = self.advance().text
            self.advance()
            return name, self.expr()
        return None, self.expr()

    def items(self, close: str) -> list[Node]:
        items = [self.expr()]
        while self.peek.kind == ";":
            self.advance()
            items.append(self.expr())
        self.expect(close, f"the {close} closing the list")
        return items

    def ends(self) -> bool:
        return self.peek.kind in (",", ";", ")", "]", "end") or self.word(*PHRASE_ENDS)

    def expr(self) -> Node:
        """One expression, right to left: an operand, then (optionally) a dyad and the rest."""
        if self.ends():
            raise QError(f"expected an expression, found {self.peek.text or 'the end'}",
                         self.peek.pos)
        left = self.operand()
        if self.ends():
            return left
        token = self.peek
        if token.kind == "op" or (token.kind == "name" and token.text in DYADS):
            self.advance()
            return Dyad(token.pos, token.text, left, self.expr())
        if token.kind == ":":
            raise QError("a name: goes at the start of a subphrase (c: expr)", token.pos)
        if token.text in ("each", "\\:"):
            raise QError(f"{token.text} (an iterator) is not translated", token.pos)
        raise QError(f"q-sql cannot apply {_shown(left)} to {token.text}: indb translates "
                     "the functions and operators docs/qsql.md lists", token.pos)

    def operand(self) -> Node:
        token = self.peek
        if token.kind == "name" and token.text == "?":  # ?[c; a; b]
            self.advance()
            self.advance()  # the [ the tokenizer saw
            args = self.items("]")
            if len(args) != 3:
                raise QError("?[c; a; b] takes a condition and two values", token.pos)
            return Call(token.pos, "?", args)
        if token.kind == "name" and (token.text in MONADS or token.text in DYADS):
            self.advance()
            if self.peek.kind == "[" and self.peek.pos == token.pos + len(token.text):
                self.advance()
                return Call(token.pos, token.text, self.items("]"))
            if token.text in MONADS and self.word("each"):  # count each x: along a list column
                self.advance()
                return Call(token.pos, token.text + " each", [self.expr()])
            if token.text in DYADS:
                raise QError(f"{token.text} goes between its two arguments (x {token.text} y)",
                             token.pos)
            if self.ends():  # the function itself, as in (avg;qty) fby p
                return Name(token.pos, token.text)
            if self.peek.kind == "op":
                raise QError(f"{token.text} needs an argument after it", token.pos)
            return Call(token.pos, token.text, [self.expr()])
        noun = self.noun()
        if self.peek.kind == "[":
            raise QError("indexing and calling with [...] are not q-sql that indb translates",
                         self.peek.pos)
        return noun

    def noun(self) -> Node:
        token = self.advance()
        if token.kind in ATOMS:
            atoms = [Lit(token.pos, token.kind, token.text)]
            while self.peek.kind in ATOMS:
                nxt = self.advance()
                atoms.append(Lit(nxt.pos, nxt.kind, nxt.text))
            return atoms[0] if len(atoms) == 1 else Vec(token.pos, atoms)
        if token.kind == "bool":
            bits = [Lit(token.pos + k, "bool", b) for k, b in enumerate(token.text[:-1])]
            return bits[0] if len(bits) == 1 else Vec(token.pos, bits)
        if token.kind == "sym":
            names = token.text.split("`")[1:]
            syms = [Lit(token.pos, "sym", n) for n in names]
            return syms[0] if len(syms) == 1 else Vec(token.pos, syms)
        if token.kind == "str":
            return Lit(token.pos, "str", token.text)
        if token.kind == "name":
            if token.text == "each":
                raise QError("each (an iterator) is not translated", token.pos)
            if token.text in WORDS:
                raise QError(f"{token.text} cannot stand here", token.pos)
            return Name(token.pos, token.text)
        if token.kind == "(":
            if self.peek.kind == "[":
                self.advance()
                keys = [] if self.peek.kind == "]" else self.separated(self.subphrase, ";")
                self.expect("]", "the ] closing a table's keys: ([] c: ...) or ([k: ...] c: ...)")
                if keys and self.peek.kind == ";":
                    self.advance()
                columns = keys + ([] if keys and self.peek.kind == ")"  # ([k: 1 2]): keys alone
                                  else self.separated(self.subphrase, ";"))
                self.expect(")", "the ) closing the table")
                return TableCols(token.pos, [n for _, n in columns], [c for c, _ in columns],
                                 len(keys))
            items = self.items(")")
            return items[0] if len(items) == 1 else GList(token.pos, items)
        if token.kind == "\\:":
            raise QError("\\: (an iterator) is not translated", token.pos)
        raise QError(f"expected a value, a column or (, found {token.text or 'the end'}",
                     token.pos)


def _unqualified(node: Node, table: str) -> Node:
    """``node`` with ``table.c`` read as the column ``c``."""
    if isinstance(node, Name) and node.name.startswith(table + "."):
        return Name(node.pos, node.name[len(table) + 1:])
    if isinstance(node, Dyad):
        return Dyad(node.pos, node.op, _unqualified(node.left, table),
                    _unqualified(node.right, table))
    if isinstance(node, Call):
        return Call(node.pos, node.fn, [_unqualified(a, table) for a in node.args])
    return node


def start(node: Node) -> int:
    """Where an expression begins (a dyad's position is its operator's)."""
    return start(node.left) if isinstance(node, Dyad) else node.pos


def _shown(node: Node) -> str:
    return node.name if isinstance(node, Name) else "a value"


def line_col(text: str, pos: int) -> tuple[int, int]:
    """1-based line and column of a character offset."""
    before = text[:pos]
    return before.count("\n") + 1, pos - (before.rfind("\n") + 1) + 1


# -- what q reads from a tree: names, aggregates ----------------------------------------------

def column_names(phrase: Sequence[Subphrase], taken: Sequence[str] = ()) -> list[str]:
    """The result columns' names: given ones, else the leftmost name (else x), made unique as
    q does (c1, c11, c12...)."""
    names: list[str] = []
    used = set(taken)
    for given, node in phrase:
        name = given or leftmost(node) or "x"
        if not given:
            unique, k = name, 0
            while unique in used:
                k += 1
                unique = f"{name}{k}"
            name = unique
        used.add(name)
        names.append(name)
    return names


def leftmost(node: Node) -> str | None:
    if isinstance(node, Name):
        return None if node.name == "i" else node.name.split(".")[-1]
    if isinstance(node, Call) and node.fn in MOVING | {"xbar", "ema"}:  # mavg[3; price]
        return next((n for n in map(leftmost, node.args) if n), None)
    if isinstance(node, Call):
        return leftmost(node.args[0]) if node.args else None
    if isinstance(node, Dyad) and node.op in MOVING | {"xbar", "ema"}:
        # q's own functions (lambdas): the first name in their arguments (5 xbar close is
        # close); an operator's: its left argument's (2*c2 is x)
        return leftmost(node.left) or leftmost(node.right)
    if isinstance(node, Dyad):
        return leftmost(node.left)
    if isinstance(node, GList):
        return next((n for n in map(leftmost, node.items)
                     if n and n not in AGGREGATES), None)
    return None


def has_aggregate(node: Node) -> bool:
    """Whether an aggregate (outside fby, which gives a value a row) is in the expression."""
    if isinstance(node, Call):
        return node.fn in AGGREGATES or any(has_aggregate(a) for a in node.args)
    if isinstance(node, Dyad):
        if node.op == "fby":
            return False
        return node.op in DYADIC_AGGREGATES or has_aggregate(node.left) or \
            has_aggregate(node.right)
    if isinstance(node, GList | TableCols):
        return any(has_aggregate(i) for i in node.items)
    return False


def bare_column(node: Node) -> Name | None:
    """A column used outside any aggregate in the expression (a list beside an atom)."""
    if isinstance(node, Name):
        return node
    if isinstance(node, Call):
        if node.fn in AGGREGATES:
            return None
        return next((b for b in map(bare_column, node.args) if b), None)
    if isinstance(node, Dyad):
        if node.op in DYADIC_AGGREGATES | {"fby"}:
            return None
        return bare_column(node.left) or bare_column(node.right)
    return None


def boolish(node: Node) -> bool:
    if isinstance(node, Dyad):
        return node.op in ("=", "<>", "<", ">", "<=", ">=", "~", "within", "like", "in") or (
            node.op in ("&", "|", "and", "or") and (boolish(node.left) or boolish(node.right)))
    if isinstance(node, Call):
        return node.fn in ("not", "null", "all", "any")
    return isinstance(node, Lit) and node.kind == "bool"
