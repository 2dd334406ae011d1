"""Values in PostgreSQL's binary format, both ways, through psycopg's adapters: a parameter's
bytes decoded by its type OID, and a result value encoded for a column of a type OID. Clients
such as asyncpg send and ask for binary values; psycopg's adapters are PostgreSQL's own binary
formats, kept by psycopg's maintainers, used here without a connection.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import Any

import psycopg
from psycopg.abc import Dumper
from psycopg.adapt import PyFormat, Transformer
from psycopg.pq import Format

from indb.errors import NotSupportedError

_CONTEXT = Transformer()  # psycopg's default adapters, no connection (time zones are UTC)


def decoded(raw: bytes, oid: int) -> Any:
    """A parameter's value from its binary bytes, by its type OID (0: text as text)."""
    if oid == 0:
        return raw.decode()
    return _loader(oid).load(raw)


@functools.cache
def _loader(oid: int) -> Any:
    loader = _CONTEXT.adapters.get_loader(oid, Format.BINARY)
    if loader is None:
        raise NotSupportedError(f"a binary parameter of type OID {oid} is not supported; "
                                "send it as text")
    return loader(oid, _CONTEXT)


def encoder(oid: int) -> Callable[[Any], bytes]:
    """How a result column of this type OID writes a value in binary; a type without a binary
    form (anyarray, unknown), or a value its form cannot take, is an error that names it."""
    refusal = NotSupportedError(f"a column of type OID {oid} cannot be sent in binary; ask for "
                                "it in text, or cast it to VARCHAR")
    try:
        kind = _CONTEXT.adapters.get_dumper_by_oid(oid, Format.BINARY)
    except psycopg.ProgrammingError:
        raise refusal from None
    dumpers: dict[type, Dumper] = {}  # one for each Python type of the column's values

    def encode(value: Any) -> bytes:  # (never None: NULLs are sent apart)
        try:
            if type(value) not in dumpers:
                dumpers[type(value)] = kind(type(value), _CONTEXT)
            return bytes(dumpers[type(value)].dump(value) or b"")
        except (TypeError, ValueError, psycopg.Error):
            raise refusal from None
    return encode


def text(value: Any) -> bytes:
    """A value in PostgreSQL's text form of its type: a list as an array (``{1,2}``,
    ``{"a b",NULL}``), a ``timedelta`` as an interval (``1 day, 0:00:03``)."""
    return bytes(_CONTEXT.get_dumper(value, PyFormat.TEXT).dump(value) or b"")
