"""Shared fixtures: one database for the session, fresh ones where a test needs its own."""

from __future__ import annotations

import atexit
import itertools
import os
import shutil
import signal
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest

import indb

# A runner started in the background (`cmd &` in a script, nohup) ignores SIGINT, and so does
# every process it starts: the Ctrl-C tests would then test nothing (indb's shell rightly keeps
# an ignored SIGINT ignored) and hang. The suite runs as a terminal would start it.
if signal.getsignal(signal.SIGINT) is signal.SIG_IGN:
    signal.signal(signal.SIGINT, signal.default_int_handler)

_names = itertools.count()

# Named pipes through which tests synchronise with running UDFs: the one directory outside their
# staging directories that sandboxed instances may open (INDB_SANDBOX_WRITE, docs/security.md),
# set before any cluster starts so that every worker inherits it.
PIPES = Path(tempfile.mkdtemp(prefix="indb-test-pipes-"))
os.environ["INDB_SANDBOX_WRITE"] = str(PIPES)
atexit.register(shutil.rmtree, PIPES, ignore_errors=True)


@pytest.fixture
def pipe_dir() -> Path:
    """A directory of the test's own for named pipes a UDF opens (inside ``PIPES``)."""
    return Path(tempfile.mkdtemp(dir=PIPES))


@pytest.fixture(scope="session")
def conn(tmp_path_factory: pytest.TempPathFactory) -> indb.Connection:
    """The session's database; tests create tables under names from ``table_name``."""
    connection = indb.connect(tmp_path_factory.mktemp("session") / "db", workers=2, threads_per_worker=2)
    yield connection
    connection.close()


@pytest.fixture(scope="module")
def s3() -> Iterator[dict[str, str]]:
    """moto's S3 server (``stores.s3_server``) for a module's tests; each makes its own bucket."""
    from stores import s3_server
    with s3_server() as properties:
        yield properties


@pytest.fixture
def table_name() -> str:
    """A table name no other test uses."""
    return f"t{next(_names)}"


@pytest.fixture
def fresh(tmp_path: Path) -> indb.Connection:
    """A database of the test's own, for tests about the whole catalog."""
    connection = indb.connect(tmp_path / "db")
    yield connection
    connection.close()
