"""TLS on ``indb serve``'s PostgreSQL port (``indb.server.pgwire``): an SSLRequest answered 'S'
and TLS with the server's certificate, or 'N' without one, as PostgreSQL does."""

from __future__ import annotations

import os
import shutil
import subprocess

import psycopg
import pytest

import indb
from serving import Served

pytestmark = pytest.mark.skipif(shutil.which("openssl") is None, reason="openssl is not installed")


def certificate_authority(directory, name):
    """A CA of the test's own: its certificate and key."""
    cert, key = directory / f"{name}.pem", directory / f"{name}.key"
    subprocess.run(["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1",
                    "-subj", f"/CN={name}", "-keyout", str(key), "-out", str(cert)],
                   check=True, capture_output=True)
    return cert, key


def signed_certificate(directory, ca):
    """A certificate for localhost and 127.0.0.1 signed by ``ca``, and its key."""
    cert, key, request = directory / "server.pem", directory / "server.key", directory / "server.csr"
    extensions = directory / "san.cnf"
    extensions.write_text("subjectAltName=DNS:localhost,IP:127.0.0.1\n")
    subprocess.run(["openssl", "req", "-newkey", "rsa:2048", "-nodes", "-subj", "/CN=localhost",
                    "-keyout", str(key), "-out", str(request)], check=True, capture_output=True)
    subprocess.run(["openssl", "x509", "-req", "-in", str(request), "-CA", str(ca[0]), "-CAkey",
                    str(ca[1]), "-CAcreateserial", "-days", "1", "-out", str(cert), "-extfile",
                    str(extensions)], check=True, capture_output=True)
    return cert, key


@pytest.fixture(scope="module")
def tls(tmp_path_factory):
    """A served database with TLS from a certificate of the test's CA; ann's token; the CA."""
    directory = tmp_path_factory.mktemp("pgtls")
    ca = certificate_authority(directory, "test-ca")
    cert, key = signed_certificate(directory, ca)
    with indb.connect(directory / "db") as conn:
        conn.sql("CREATE TABLE t AS SELECT 42 AS answer")
        conn.sql("CREATE USER ann")
        conn.sql("GRANT SELECT ON TABLE t TO ann")
        token = conn.sql("CREATE TOKEN FOR ann").arrow()["token"][0].as_py()
    server = Served(directory / "db", tls_ca=str(ca[0]), tls_cert=str(cert), tls_key=str(key))
    server.token, server.ca, server.directory = token, ca[0], directory
    yield server
    server.stop()


def dsn(server, host="127.0.0.1", **options):
    return " ".join([f"host={host} port={server.pg_port} dbname=indb user=ann",
                     *(f"{k}={v}" for k, v in options.items())])


def test_sslmode_require_runs_tls(tls):
    with psycopg.connect(dsn(tls, sslmode="require"), password=tls.token, autocommit=True) as conn:
        assert conn.pgconn.ssl_in_use
        assert conn.execute("SELECT answer FROM t").fetchall() == [(42,)]


def test_verify_full_checks_the_certificate_against_the_ca(tls):
    with psycopg.connect(dsn(tls, host="localhost", sslmode="verify-full", sslrootcert=tls.ca),
                         password=tls.token, autocommit=True) as conn:
        assert conn.pgconn.ssl_in_use
        assert conn.execute("SELECT answer FROM t").fetchall() == [(42,)]
    other_ca, _ = certificate_authority(tls.directory, "other-ca")
    with pytest.raises(psycopg.OperationalError, match="certificate verify failed"):
        psycopg.connect(dsn(tls, host="localhost", sslmode="verify-full", sslrootcert=other_ca),
                        password=tls.token)
    # the server goes on serving after a client refused its certificate
    with psycopg.connect(dsn(tls, sslmode="require"), password=tls.token) as conn:
        assert conn.execute("SELECT 1").fetchall() == [(1,)]


@pytest.mark.skipif(shutil.which("psql") is None, reason="psql is not installed")
def test_psql_with_sslmode_require(tls):
    run = subprocess.run(["psql", f"{dsn(tls, sslmode='require')}", "-X", "-A", "-t", "-c",
                          "SELECT answer FROM t"], capture_output=True, text=True, timeout=60,
                         env={**os.environ, "PGPASSWORD": tls.token})
    assert run.returncode == 0, run.stderr
    assert run.stdout.strip() == "42"


def test_without_tls_an_ssl_request_is_answered_no(tmp_path):
    indb.connect(tmp_path / "db").close()
    server = Served(tmp_path / "db")
    try:
        with pytest.raises(psycopg.OperationalError, match="server does not support SSL"):
            psycopg.connect(dsn(server, sslmode="require"))
        with psycopg.connect(dsn(server, sslmode="prefer")) as conn:  # then in clear, as asked
            assert not conn.pgconn.ssl_in_use
            assert conn.execute("SELECT 7").fetchall() == [(7,)]
    finally:
        server.stop()
