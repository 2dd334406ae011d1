"""``indb.server.pgframes``: PostgreSQL's bounds on a message's length (the pg port's handler
with them: tests/test_pgwire.py)."""

from __future__ import annotations

import io

import pytest

from indb.server import pgframes


def test_a_read_past_postgresql_s_limit_is_a_protocol_violation():
    stream = pgframes.Bounded(io.BufferedReader(io.BytesIO(b"abc")))  # type: ignore[arg-type]
    for size in (pgframes.MAX_MESSAGE + 1, 2**32 - 5, -1):
        with pytest.raises(pgframes.ProtocolViolation, match="invalid message length"):
            stream.read(size)
    assert stream.read(2) == b"ab"


def test_a_long_message_is_read_as_its_bytes_arrive():
    data = bytes(range(256)) * 20_000  # 5 MB: read a megabyte at a time
    stream = pgframes.Bounded(io.BufferedReader(io.BytesIO(data)))  # type: ignore[arg-type]
    assert stream.read(len(data)) == data
    short = pgframes.Bounded(io.BufferedReader(io.BytesIO(b"x" * 10)))  # type: ignore[arg-type]
    assert short.read(3 << 20) == b"x" * 10  # a client gone early: what came


@pytest.mark.parametrize("length", [-5, 0, 7, pgframes.MAX_STARTUP + 1, 2**31 - 1])
def test_a_startup_packet_is_at_most_ten_thousand_bytes(length):
    with pytest.raises(pgframes.ProtocolViolation, match="invalid length of startup packet"):
        pgframes.check_startup_length(length)


def test_a_startup_packet_within_bounds_passes():
    pgframes.check_startup_length(8)
    pgframes.check_startup_length(pgframes.MAX_STARTUP)
