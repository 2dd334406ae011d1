"""The q call forms kdb+ clients send the tickerplant as strings, read and evaluated without q.

kdb+'s clients call a tickerplant with q text as often as with a list: ``r.q`` (the standard
real-time subscriber) sends ``"(.u.sub[`;`];`.u `i`L)"`` and expects ``((t; schema) pairs;
(count; log))``; others send ``".u.sub[`trade;`AAPL`MSFT]"``, ``".u.i"``, ``".u.w"``,
``".u.del[`trade;.z.w]"`` or a feed's ``".u.upd[`trade;(`AAPL;187.5;100)]"``. Without a licence
PyKX cannot evaluate q, so this module reads those forms (tokens from ``indb.parser.qsyntax``):
a function applied with brackets (``f[x;y]``) or by juxtaposition (``enlist x``, a namespace
indexed by symbols, `` `.u `i`L ``), general lists ``(a;b)``, literals (symbols, numbers,
booleans, strings, times; vectors of them), statements separated by ``;``. It evaluates only
the names of ``FUNCTIONS`` and ``VARIABLES``, never arbitrary q: text that names anything else
is a query (SQL or q-sql), and text that starts with a tickerplant name but is not one of these
forms is refused, saying so. Calls go through the connection's own call path, with the checks a
call sent as a list gets, and answers are what q answers (PyKX objects).
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np

from indb.parser import qsyntax
from indb.parser.qsyntax import GList, Lit, Name, Node, QError, Vec
from indb.planner import access as rules
from indb.stream import kdb

if TYPE_CHECKING:
    from indb.stream.server import KdbConnection

kx = kdb.kx

# the tickerplant's functions and their arity; a client calls them by name (kdb+'s u.q, tick.q)
FUNCTIONS = {".u.upd": 2, "upd": 2, ".u.sub": 2, ".u.del": 2, ".u.endofday": 0}
# what a client may read: the tickerplant's globals (tick.q) and the caller's handle
VARIABLES = (".u.i", ".u.j", ".u.L", ".u.d", ".u.t", ".u.w", ".z.w")
BUILTINS = ("enlist",)  # q functions these forms use, evaluated here
NAMESPACES = (".u", ".z")
_FIRST_NAME = re.compile(r"[\s(]*`?(\.?[A-Za-z][\w.]*)")
_LAMBDA = re.compile(r"\s*\{\s*(?:\[([^\]]*)\])?(.*)\}\s*$", re.DOTALL)  # {[a;b] body}


@dataclass
class Apply(Node):
    """``f[a;b]`` or ``f a``: a function (or a namespace, indexed) applied to its arguments."""

    fn: Node
    args: list[Node]


@dataclass
class Statements(Node):
    """``a;b``: evaluated in order, the value is the last one's (as q's ``value`` of a string)."""

    items: list[Node]


class _Reader(qsyntax.Parser):
    """q's call syntax over q-sql's tokens and literals (``qsyntax.Parser.noun``)."""

    def statements(self) -> Node:
        items = self.separated(self.expr, ";")
        self.expect("end", "the end of the call")
        return items[0] if len(items) == 1 else Statements(items[0].pos, items)

    def expr(self) -> Node:
        """A term, applied to the expression on its right when one follows (right to left)."""
        node = self.term()
        if self.peek.kind in (";", ")", "]", "end"):
            return node
        return Apply(node.pos, node, [self.expr()])

    def term(self) -> Node:
        token = self.peek
        node: Node
        if token.kind == "name":
            self.advance()
            node = Name(token.pos, token.text)
        else:
            node = self.noun()
        while self.peek.kind == "[":
            self.advance()
            if self.peek.kind == "]":  # f[]
                self.advance()
                node = Apply(node.pos, node, [])
            else:
                node = Apply(node.pos, node, self.items("]"))
        return node


def read(text: str, bound: tuple[str, ...] = ()) -> Node | None:
    """The q call form ``text`` is, or None when it is not one (a query: SQL or q-sql).
    MessageError for text that starts with a tickerplant name but is not a form read here.
    ``bound``: a lambda's parameters, names its body may use besides the tickerplant's."""
    found = _FIRST_NAME.match(text)
    ours = bool(bound) or found is not None and _ours(found.group(1))
    try:
        node = _Reader(text).statements()
    except QError as error:
        if not ours:
            return None
        raise kdb.MessageError(
            f"{text.strip()[:80]!r}: {error.message} (at {error.pos + 1}); the tickerplant "
            "evaluates its own functions and variables with literal arguments (symbols, "
            "numbers, times, strings and lists of them), not other q: send what it computes, "
            "or the call as a list, (`.u.upd;`trade;data)") from None
    names = _names(node)
    if not names or not all(_ours(n) or n in bound for n in names):
        if ours:
            unknown = sorted(n for n in names if not _ours(n) and n not in bound)
            raise kdb.MessageError(
                f"{unknown[0] if unknown else text.strip()[:80]}: not a function or variable of "
                "this tickerplant; it has " + ", ".join(list(FUNCTIONS) + list(VARIABLES)) +
                " and answers SQL and q-sql strings")
        return None
    return node


def _ours(name: str) -> bool:
    return name in FUNCTIONS or name in VARIABLES or name in BUILTINS or name in NAMESPACES \
        or name.startswith(tuple(n + "." for n in NAMESPACES))


def _names(node: Node) -> list[str]:
    """The names a form refers to (a namespace's symbol, `` `.u ``, included when applied)."""
    if isinstance(node, Name):
        return [node.name]
    if isinstance(node, Apply):
        head = [node.fn.text] if isinstance(node.fn, Lit) and node.fn.kind == "sym" else []
        return head + _names(node.fn) + [n for a in node.args for n in _names(a)]
    if isinstance(node, GList | Statements):
        return [n for item in node.items for n in _names(item)]
    return []


# -- evaluation ------------------------------------------------------------------------------

def evaluate(node: Node, connection: KdbConnection, scope: dict[str, Any] | None = None) -> Any:
    """What q answers to a form, on ``connection`` (its calls checked as the list forms are);
    ``scope``: a lambda's arguments by name."""
    scope = scope or {}
    if isinstance(node, Statements):
        value = None
        for item in node.items:
            value = evaluate(item, connection, scope)
        return value
    if isinstance(node, Lit | Vec):
        return literal(node)
    if isinstance(node, GList):  # q evaluates a list's items right to left
        values = [evaluate(item, connection, scope) for item in reversed(node.items)][::-1]
        return collapsed(values)
    if isinstance(node, Name):
        if node.name in scope:
            return scope[node.name]
        if FUNCTIONS.get(node.name) == 0:  # `.u.endofday`: called, as the string always was
            return call(connection, node.name, [])
        return variable(connection, node.name)
    assert isinstance(node, Apply)
    args = [evaluate(a, connection, scope) for a in reversed(node.args)][::-1]
    if isinstance(node.fn, Lit) and node.fn.kind == "sym":  # `.u `i`L: a namespace indexed
        return indexed(connection, node.fn.text, args)
    if not isinstance(node.fn, Name):
        raise kdb.MessageError("only the tickerplant's functions can be applied here")
    if node.fn.name in NAMESPACES:  # .u[`i`L]
        return indexed(connection, node.fn.name, args)
    if node.fn.name == "enlist":
        return collapsed(args) if len(args) > 1 else enlisted(args[0])
    return call(connection, node.fn.name, args)


def call(connection: KdbConnection, name: str, args: list[Any]) -> Any:
    """A function of ``FUNCTIONS`` applied to PyKX arguments, as the same call sent as a list
    is (updates through the update path: journalled before the answer)."""
    if name not in FUNCTIONS:
        return other(connection, name, [])  # the error naming the functions there are
    arity = FUNCTIONS[name]
    if arity == 0 and len(args) == 1 and isinstance(args[0], kx.Identity):
        args = []  # f[] passes :: as its one argument
    if len(args) != arity:
        raise kdb.MessageError(f"{name} takes {arity} arguments, not {len(args)}")
    message = kdb.encode(kdb.call(name, *args), kdb.SYNC)
    decoded = kdb.decode(message)  # what the call sent as a list decodes to
    if name in kdb.UPDATES:
        connection.update(kdb.text(decoded[1]), decoded[2], message)
        return NOTHING
    return connection._call(decoded)


def other(connection: KdbConnection, name: str, args: list[Any]) -> Any:
    """A call (decoded arguments) of the functions the connection's call path leaves here:
    ``.u.del``; anything else is refused, naming the functions there are."""
    if name.lstrip().startswith("{"):
        return applied(connection, name, args)
    if name == ".u.del" and len(args) == 2:
        return unsubscribed(connection, kdb.text(args[0]), args[1])
    if name == ".u.del":
        raise kdb.MessageError(f".u.del takes 2 arguments, not {len(args)}")
    raise kdb.MessageError(f"{name}: not a function of this tickerplant (it has "
                           + ", ".join(f for f in FUNCTIONS if f != "upd")
                           + ", and answers SQL and q-sql strings)")


def applied(connection: KdbConnection, text: str, args: list[Any]) -> Any:
    """A lambda sent with its arguments, as PyKX's examples subscribe
    (``q('{.u.sub[x;y]}', 'trade', '')``): its body, a form read here, evaluated with the
    arguments (decoded) bound to its parameters (``x``, ``y``, ``z``, or those it declares)."""
    found = _LAMBDA.match(text)
    if found is None:
        raise kdb.MessageError(f"{text.strip()[:80]!r} is not a lambda {{...}} this tickerplant reads")
    declared, body = found.group(1), found.group(2)
    names = [p.strip() for p in declared.split(";")] if declared is not None \
        else ["x", "y", "z"][:len(args)]
    if len(names) != len(args):
        raise kdb.MessageError(f"the lambda takes {len(names)} arguments, not {len(args)}")
    node = read(body, tuple(names))
    assert node is not None  # with parameters bound, what is not a form is refused
    return evaluate(node, connection, {n: kx.toq(a) for n, a in zip(names, args, strict=True)})


def variable(connection: KdbConnection, name: str) -> Any:
    """A global of ``VARIABLES``."""
    if name not in VARIABLES:
        raise kdb.MessageError(f"{name}: not a variable of this tickerplant (it has "
                               + ", ".join(VARIABLES) + ")")
    if name in _OWN:
        return _OWN[name](connection)
    return connection._call(name)


def indexed(connection: KdbConnection, namespace: str, args: list[Any]) -> Any:
    """`` `.u `i`L ``: the namespace's variables by name, a list of them for a list of names."""
    if len(args) != 1:
        raise kdb.MessageError(f"{namespace} is indexed by one symbol or a list of symbols")
    key = args[0]
    if isinstance(key, kx.SymbolAtom):
        return variable(connection, f"{namespace}.{key.py()}")
    if isinstance(key, kx.SymbolVector):  # a namespace holds values of many types: a general list
        return kx.toq([variable(connection, f"{namespace}.{k}") for k in key.py()])
    raise kdb.MessageError(f"{namespace} is indexed by symbols, such as `{namespace} `i`L")


def unsubscribed(connection: KdbConnection, table: str, handle: Any) -> Any:
    """``.u.del[t; h]`` (u.q): the connection of handle ``h`` no longer gets ``t``'s updates;
    another connection's subscription needs the admin role."""
    if not isinstance(handle, int | np.integer):
        raise kdb.MessageError(".u.del[t; h] takes a table and a handle (.z.w: the caller's)")
    if handle != connection.handle:
        connection._may("ROLE", [rules.ADMIN])
    for other_end in list(connection.server.connections):
        subscriber = other_end.subscriber
        if other_end.handle == handle and subscriber is not None:
            subscriber.tables.pop(table, None)
            if not subscriber.tables:
                connection.plant.unsubscribe(subscriber)
    return NOTHING


def subscriptions(connection: KdbConnection) -> Any:
    """``.u.w``: each table's subscribers, ``t!((handle; syms); ...)``, syms `` ` `` for all."""
    plant = connection.plant
    entries: dict[str, list[Any]] = {t: [] for t in plant._table_names()}
    for other_end in connection.server.connections:
        subscriber = other_end.subscriber
        if subscriber is None or subscriber not in plant.subscribers:
            continue
        for table, syms in subscriber.tables.items():
            entries.setdefault(table, []).append(kx.toq([
                kx.IntAtom(other_end.handle),
                kx.SymbolVector(sorted(syms)) if syms else kx.SymbolAtom("")]))
    return kx.toq({t: kx.toq(v) for t, v in entries.items()})


def _handle(connection: KdbConnection) -> Any:
    return kx.IntAtom(connection.handle)


def _total(connection: KdbConnection) -> Any:
    """``.u.j``: messages logged and buffered; indb has none buffered (``.u.i``)."""
    return kx.LongAtom(connection.plant.journal.count)


_OWN: dict[str, Callable[[KdbConnection], Any]] = {
    ".z.w": _handle, ".u.j": _total, ".u.w": subscriptions}
NOTHING = kx.toq(None)  # q's ::


# -- literals -----------------------------------------------------------------------------------

@dataclass(frozen=True)
class Kind:
    """A q type a literal can have: its atom and vector classes and numpy's type for them."""

    atom: Any
    vector: Any
    dtype: str


KINDS = {
    "b": Kind(kx.BooleanAtom, kx.BooleanVector, "bool"),
    "h": Kind(kx.ShortAtom, kx.ShortVector, "int16"),
    "i": Kind(kx.IntAtom, kx.IntVector, "int32"),
    "j": Kind(kx.LongAtom, kx.LongVector, "int64"),
    "e": Kind(kx.RealAtom, kx.RealVector, "float32"),
    "f": Kind(kx.FloatAtom, kx.FloatVector, "float64"),
    "p": Kind(kx.TimestampAtom, kx.TimestampVector, "datetime64[ns]"),
    "d": Kind(kx.DateAtom, kx.DateVector, "datetime64[D]"),
    "n": Kind(kx.TimespanAtom, kx.TimespanVector, "timedelta64[ns]"),
    "u": Kind(kx.MinuteAtom, kx.MinuteVector, "timedelta64[m]"),
    "v": Kind(kx.SecondAtom, kx.SecondVector, "timedelta64[s]"),
    "t": Kind(kx.TimeAtom, kx.TimeVector, "timedelta64[ms]"),
}
_NULLS = {"h": np.iinfo(np.int16).min, "i": np.iinfo(np.int32).min,
          "j": np.iinfo(np.int64).min, "e": np.nan, "f": np.nan}


def literal(node: Lit | Vec) -> Any:
    """A literal as the PyKX object q makes of it (``1 2 3h`` a short vector, `` `a`b `` a
    symbol vector, ``"ab"`` a string)."""
    if isinstance(node, Lit):
        if node.kind == "sym":
            return kx.SymbolAtom(node.text)
        if node.kind == "str":
            return kx.CharVector(_unescaped(node.text[1:-1]))
        char, value = _atom(node)
        return KINDS[char].atom(value)
    if node.items[0].kind == "sym":
        return kx.SymbolVector([item.text for item in node.items])
    suffix = _suffix(node.items[-1])  # q: 1 2 3h is three shorts
    atoms = [_atom(item, suffix) for item in node.items]
    chars = {c for c, _ in atoms}
    if chars == {"j", "f"}:  # 1 2.5 is a float vector
        chars, atoms = {"f"}, [("f", float(v)) for _, v in atoms]
    if len(chars) != 1:
        raise kdb.MessageError(f"a vector of values of different types ({''.join(sorted(chars))})"
                               "; write a general list, (a;b)")
    kind = KINDS[chars.pop()]
    return kind.vector(np.array([v for _, v in atoms], dtype=kind.dtype))


def _suffix(item: Lit) -> str | None:
    return item.text[-1] if item.kind in ("num", "null") and item.text[-1] in "hijef" else None


def _atom(item: Lit, suffix: str | None = None) -> tuple[str, Any]:
    """A literal atom's q type and value (numpy)."""
    text = item.text
    if item.kind == "bool":
        return "b", np.bool_(text == "1")
    if item.kind in ("num", "null"):
        own = _suffix(item)
        digits = text[:-1] if own else text
        char = suffix or own or ("f" if item.kind == "num" and any(c in digits for c in ".eE")
                                 or text == "0n" else "j")
        if item.kind == "null" or digits in ("0N", "0n"):
            return char, _NULLS[char]
        return char, np.array(digits, dtype=KINDS[char].dtype if char != "b" else "int64")[()]
    if item.kind == "timestamp":
        day, _, clock = text.partition("D")
        return "p", np.datetime64(day.replace(".", "-") + "T" + clock, "ns")
    if item.kind == "date":
        return "d", np.datetime64(text.replace(".", "-"), "D")
    if item.kind == "timespan":
        days, _, clock = text.partition("D")
        return "n", np.timedelta64(int(days), "D").astype("timedelta64[ns]") + _clock(clock, "ns")
    if item.kind == "time":  # 10:00 a minute, 10:00:00 a second, 10:00:00.000 a time
        char = {1: "u", 2: "v"}.get(text.count(":"), "v") if "." not in text else "t"
        return char, _clock(text, KINDS[char].dtype[12:-1])
    raise kdb.MessageError(f"{text}: a literal this tickerplant does not read")


def _clock(text: str, unit: str) -> np.timedelta64:
    """``hh:mm[:ss[.fff]]`` as a duration in ``unit``."""
    parts = text.split(":")
    seconds = parts[2] if len(parts) > 2 else "0"
    whole, _, fraction = seconds.partition(".")
    nanos = int((fraction + "0" * 9)[:9])
    total = (int(parts[0]) * 3600 + int(parts[1]) * 60 + int(whole)) * 10**9 + nanos
    return np.timedelta64(total, "ns").astype(f"timedelta64[{unit}]")


def _unescaped(text: str) -> str:
    return re.sub(r"\\(.)", lambda m: {"n": "\n", "t": "\t", "r": "\r"}.get(m.group(1), m.group(1)),
                  text)


def collapsed(values: list[Any]) -> Any:
    """A general list as q makes it: atoms of one type become a vector (``(1;2)`` is ``1 2``)."""
    kinds = {type(v) for v in values}
    if len(values) > 0 and len(kinds) == 1:
        atom = kinds.pop()
        if atom is kx.SymbolAtom:
            return kx.SymbolVector([v.py() for v in values])
        for kind in KINDS.values():
            if atom is kind.atom:
                return kind.vector(np.array([v.np() for v in values], dtype=kind.dtype))
    return kx.toq(values)


def enlisted(value: Any) -> Any:
    """``enlist x``: a one-item list (a vector of an atom)."""
    return collapsed([value]) if any(type(value) is k.atom for k in KINDS.values()) \
        or isinstance(value, kx.SymbolAtom) else kx.toq([value])
