"""A served database for the server's tests: ``indb serve``'s Service in this process (function
runs on an in-process cluster), ready once its health endpoint answers."""

from __future__ import annotations

import socket
import ssl
import threading
import time
from pathlib import Path

import httpx

import indb
from indb.server.serve import Service

READY_WITHIN = 60.0  # seconds a server gets to answer its health endpoint


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def wait_until_up(url: str, deadline: float = READY_WITHIN, process=None, verify=True) -> None:
    """Poll ``url``/v1/health until it answers (or fail at the deadline)."""
    end = time.monotonic() + deadline
    while time.monotonic() < end:
        if process is not None and process.poll() is not None:
            raise AssertionError(f"the server exited with {process.returncode}")
        try:
            if httpx.get(f"{url}/v1/health", timeout=2, verify=verify).status_code == 200:
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.05)  # polling a server that is starting: there is nothing to wait on
    raise AssertionError(f"no server answered at {url} within {deadline} s")


class Served:
    """A Service on free ports in a thread; ``url`` and ``pg_port`` to reach it."""

    def __init__(self, path: Path, tls_ca: str | None = None, **options) -> None:
        """``tls_ca``: the CA that signed ``tls_cert`` (else the certificate is its own)."""
        self.port, pg_port = free_port(), free_port()
        self.service = Service(path, port=self.port, pg_port=pg_port, cluster="threads",
                               log_level="warning", workers=2, **options)
        self.pg_port = self.service.pg_port
        self.url = f"{'https' if options.get('tls_cert') else 'http'}://127.0.0.1:{self.port}"
        self.thread = threading.Thread(target=self.service.run, daemon=True)
        self.thread.start()
        cert = tls_ca or options.get("tls_cert")
        wait_until_up(self.url, verify=ssl.create_default_context(cafile=cert) if cert else True)

    def stop(self) -> None:
        self.service.stop()
        self.thread.join(timeout=120)
        assert not self.thread.is_alive(), "the server did not stop"


def served_with_analyst(path: Path) -> tuple[Served, str]:
    """A database with tables open_t (x = 1) and secret_t (y = 2) and a user, ann, an analyst
    who may read open_t only, served; the server and ann's token (every request needs one)."""
    with indb.connect(path) as conn:
        conn.sql("CREATE TABLE open_t AS SELECT 1 AS x")
        conn.sql("CREATE TABLE secret_t AS SELECT 2 AS y")
        conn.sql("CREATE USER ann")
        conn.sql("GRANT analyst TO ann")
        conn.sql("GRANT SELECT ON TABLE open_t TO ann")
        token = conn.sql("CREATE TOKEN FOR ann").arrow()["token"][0].as_py()
    return Served(path), token


GATED_FUNCTION = """
def gated(ctx, t):
    import pathlib, time
    gate = pathlib.Path(ctx.params["gate"])
    deadline = time.monotonic() + 120
    while not gate.exists():  # the test opens the gate once it has checked what it wanted
        if time.monotonic() > deadline:
            raise RuntimeError("the gate never opened")
        time.sleep(0.02)
    return {"shard": [ctx.shard], "rows": [t.num_rows]}
"""


def create_gated(conn) -> None:
    """``gated(t)``: each instance waits until the file PARAMS gate names exists, then returns
    one row (its shard and row count)."""
    conn.sql(f"CREATE OR REPLACE FUNCTION gated LANGUAGE PYTHON AS $$\n{GATED_FUNCTION}\n$$")


def served_gated(path: Path, *statements: str) -> Served:
    """A database made by ``statements``, with ``gated`` (``create_gated``), served."""
    with indb.connect(path) as conn:
        for statement in statements:
            conn.sql(statement)
        create_gated(conn)
    return Served(path)


def execute_gated(source: str, output: str, gate: Path) -> str:
    return (f"EXECUTE FUNCTION gated(INPUT_TABLE_NAMES => INPUT_TABLE({source}), "
            f"OUTPUT_TABLE_NAMES => OUTPUT_TABLES('{output}'), PARAMS => KV_PAIRS(gate = '{gate}'))")
