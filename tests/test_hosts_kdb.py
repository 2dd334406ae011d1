"""indb.hosts.kdb: a kdb+ host's URL and credentials, and the handshake of one connection. Its
``rows`` (SQL's ``kdb(...)``) and the Publisher that connects through it are tested against indb's
own tickerplant in test_stream_remote.py."""

from __future__ import annotations

import socket
import subprocess
import sys
import threading

import pytest

from indb.errors import OptionError, RunError
from indb.hosts import kdb
from indb.hosts.kdb import KdbHostError
from stores import free_port


def test_a_url_gives_host_port_and_credentials(monkeypatch):
    monkeypatch.delenv(kdb.USER_ENV, raising=False)
    where = kdb.address("kdb://ann:p%40ss@tick.example:5010")
    assert (where.host, where.port, where.user, where.password) == ("tick.example", 5010, "ann", "p@ss")
    assert "p@ss" not in repr(where) and "p@ss" not in str(where)
    assert kdb.address("kdb://localhost:5010").user == ""


def test_credentials_come_from_the_environment_when_the_url_has_none(monkeypatch):
    monkeypatch.setenv(kdb.USER_ENV, "bob")
    monkeypatch.setenv(kdb.PASSWORD_ENV, "secret")
    where = kdb.address("kdb://localhost:5010")
    assert (where.user, where.password) == ("bob", "secret")
    assert kdb.address("kdb://ann:pw@localhost:5010").user == "ann"  # the URL's come first


@pytest.mark.parametrize("url", ["http://host:5010", "kdb://host", "kdb://:5010", "kdb://u:hunter2@host",
                                 "kdb://host:5010/trade", "kdb://host:port"])
def test_a_bad_url_is_refused_without_its_password(url):
    with pytest.raises(OptionError, match="kdb://host:port") as refused:
        kdb.address(url)
    assert "hunter2" not in str(refused.value)


def test_a_host_that_does_not_listen_is_a_run_error_naming_it():
    port = free_port()
    with pytest.raises(KdbHostError, match=f"127.0.0.1:{port}.*listens") as refused:
        kdb.Link(kdb.address(f"kdb://ann:hunter2@127.0.0.1:{port}"), timeout=5)
    assert isinstance(refused.value, RunError) and refused.value.status == kdb.UNREACHABLE
    assert "hunter2" not in str(refused.value)


def test_a_host_that_closes_the_handshake_is_refused_credentials():
    listener = socket.create_server(("127.0.0.1", 0))
    port = listener.getsockname()[1]
    sent: list[bytes] = []
    try:
        def refuse() -> None:  # kdb+'s 'access: read the credentials, close
            peer, _ = listener.accept()
            sent.append(peer.recv(100))
            peer.close()
        thread = threading.Thread(target=refuse)
        thread.start()
        with pytest.raises(KdbHostError, match="refused the credentials") as refused:
            kdb.Link(kdb.address(f"kdb://ann:hunter2@127.0.0.1:{port}"), timeout=5)
        thread.join()
    finally:
        listener.close()
    assert sent == [b"ann:hunter2" + bytes([kdb.CAPABILITY, 0])]  # kdb+'s handshake
    assert "hunter2" not in str(refused.value) and "127.0.0.1" in str(refused.value)


def test_a_link_sends_each_message_at_once():
    """TCP_NODELAY: a small async message (a subscription's .u.upd) does not wait for the ACK
    of the one before it, which the host's kernel may delay by 40 ms (Nagle's algorithm)."""
    listener = socket.create_server(("127.0.0.1", 0))
    port = listener.getsockname()[1]
    try:
        def accept() -> None:  # the handshake's answer: capability 3
            peer, _ = listener.accept()
            peer.recv(100)
            peer.sendall(bytes([3]))
            peer.recv(1)  # until the link closes
            peer.close()
        thread = threading.Thread(target=accept, daemon=True)
        thread.start()
        link = kdb.Link(kdb.address(f"kdb://127.0.0.1:{port}"), timeout=5)
        try:
            assert link.sock.getsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY)
        finally:
            link.close()
        thread.join()
    finally:
        listener.close()


def test_the_engine_imports_the_client_without_loading_pykx():
    """The engine's FETCHERS name ``rows`` directly; PyKX loads at a statement's first kdb(...)."""
    code = ("import sys, indb.engine.sources as s, indb.hosts.kdb as k; "
            "assert s.FETCHERS['kdb'] is k.rows; print('pykx' in sys.modules)")
    found = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert found.returncode == 0, found.stderr
    assert found.stdout.strip() == "False"
