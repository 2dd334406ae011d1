"""Servers the URL-described layout is tested against, started by the tests themselves: a
PostgreSQL server from Debian's packages (data in a temporary directory) and moto's S3 server
(the ``s3`` fixture of conftest.py); and what the tests of a warehouse's models store in them: a
table of points (``make_points``) and a function that trains a classifier on it (``TRAIN``)."""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import tempfile
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest
import sqlalchemy as sa

PG_BIN = Path("/usr/lib/postgresql/15/bin")
PG_USER = "postgres"  # initdb refuses root: the server runs as Debian's postgres user


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _as_postgres(*command: str) -> list[str]:
    """A command run as the postgres OS user when we are root (initdb refuses root)."""
    return ["runuser", "-u", PG_USER, "--", *command] if os.geteuid() == 0 else list(command)


@contextmanager
def postgres_server(address: str = "127.0.0.1") -> Iterator[str]:
    """A PostgreSQL server of its own, on a free port of ``address`` (loopback by default), its
    data in a temporary directory (of the postgres user: pytest's are root's, closed to others)
    removed afterwards; yields the URL of its ``postgres`` database (trust authentication)."""
    if not (PG_BIN / "initdb").exists():
        pytest.skip("PostgreSQL 15 server is not installed (apt-get install postgresql)")
    directory = Path(tempfile.mkdtemp(prefix="indb-pg-"))
    if os.geteuid() == 0:
        shutil.chown(directory, PG_USER)
    data, port = directory / "data", free_port()
    subprocess.run(_as_postgres(str(PG_BIN / "initdb"), "-D", str(data), "-A", "trust", "-U", "postgres"),
                   check=True, capture_output=True, timeout=120)
    with open(data / "pg_hba.conf", "a") as hba:  # clients of the test's own network too
        hba.write(f"host all all {address}/24 trust\n")
    subprocess.run(_as_postgres(str(PG_BIN / "pg_ctl"), "-D", str(data), "-l", str(directory / "log"),
                                "-w", "-o", f"-p {port} -k {directory} -c listen_addresses={address} "
                                "-c fsync=off -c max_connections=200", "start"),
                   check=True, capture_output=True, timeout=120)
    try:
        yield f"postgresql://postgres@{address}:{port}/postgres"
    finally:
        subprocess.run(_as_postgres(str(PG_BIN / "pg_ctl"), "-D", str(data), "-m", "immediate", "-w", "stop"),
                       capture_output=True, timeout=120)
        shutil.rmtree(directory, ignore_errors=True)


def new_database(server: str) -> str:
    """A fresh PostgreSQL database on ``server`` (one indb catalog each); its URL."""
    name = f"indb_{uuid.uuid4().hex[:12]}"
    engine = sa.create_engine(server.replace("postgresql://", "postgresql+psycopg://"),
                              isolation_level="AUTOCOMMIT")
    try:
        with engine.connect() as conn:
            conn.exec_driver_sql(f"CREATE DATABASE {name}")
    finally:
        engine.dispose()
    return server.rsplit("/", 1)[0] + "/" + name


@contextmanager
def s3_server() -> Iterator[dict[str, str]]:
    """moto's S3 server on a free loopback port; yields the pyiceberg FileIO properties that
    reach it (credentials as the file would give them: moto takes any)."""
    from moto.server import ThreadedMotoServer
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=free_port(), verbose=False)
    server.start()
    host, port = server.get_host_and_port()
    try:
        yield {"s3.endpoint": f"http://{host}:{port}", "s3.region": "us-east-1",
               "s3.access-key-id": "testing", "s3.secret-access-key": "testing-secret"}
    finally:
        server.stop()


def new_bucket(properties: dict[str, str]) -> str:
    """A fresh bucket in the S3 server; its name."""
    import boto3
    name = f"indb-{uuid.uuid4().hex[:12]}"
    boto3.client("s3", endpoint_url=properties["s3.endpoint"], region_name=properties["s3.region"],
                 aws_access_key_id=properties["s3.access-key-id"],
                 aws_secret_access_key=properties["s3.secret-access-key"]).create_bucket(Bucket=name)
    return name


TRAIN = """CREATE FUNCTION fit LANGUAGE PYTHON MODE = 'nondistributed' AS $$
import torch
from indb import udf
@udf.function(frame="numpy")
def fit(ctx, t):
    x, y = torch.tensor(t["f"]), torch.tensor(t["label"]).long()
    torch.manual_seed(0)
    m = torch.nn.Sequential(torch.nn.Linear(2, 16), torch.nn.ReLU(), torch.nn.Linear(16, 2))
    opt = torch.optim.Adam(m.parameters(), 0.05)
    for _ in range(60):
        opt.zero_grad(); torch.nn.functional.cross_entropy(m(x), y).backward(); opt.step()
    ctx.models.save("clf", m, example=x[:4])
$$"""


def make_points(conn) -> None:
    """``pts``: 200 points in two shards, label 1 where the first feature is over 4 (what
    ``TRAIN``'s model learns)."""
    conn.sql("CREATE TABLE pts (id BIGINT, f FLOAT[2], label INTEGER, SHARD KEY (id)) "
             "WITH (SHARDS = 2)")
    conn.sql("INSERT INTO pts SELECT range, [range % 10, (range * 7) % 10]::FLOAT[2], "
             "(range % 10 > 4)::INTEGER FROM range(200)")
