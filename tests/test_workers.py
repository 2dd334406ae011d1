"""A secured cluster of separate processes: a Dask scheduler over TLS, ``indb worker``s that join
it with the certificates ``indb init --tls`` made, a database (``indb.toml``) whose function
runs go there, ``cluster_status``; and processes without the credentials, refused."""

from __future__ import annotations

import asyncio
import os
import signal
import socket
import ssl
import subprocess
import sys
import time
from pathlib import Path

import pytest
from click.testing import CliRunner
from distributed import Client

import indb
from indb.catalog.location import read_config
from indb.cli.main import cli
from indb.sharding.certificates import make_certificates
from indb.sharding.cluster import security
from indb.sharding.worker_placement import place
from indb.sharding.workers import cluster_status, parse_resources, worker_names
from stores import free_port

BIN = Path(sys.executable).parent
JOIN_TIMEOUT = 90  # seconds a worker process gets to start and register (a loaded 2-core machine)


def _until(condition, timeout: float = JOIN_TIMEOUT) -> None:
    """Wait for ``condition()`` to hold, checking every 0.1 s; fail after ``timeout``."""
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, "the condition did not hold in time"
        time.sleep(0.1)


def _hold(conn: indb.Connection, table: str, output: str, seconds: int, options: str = "") -> str:
    """The run id of ``hold`` started on ``table``, not waited for: each instance sleeps
    ``seconds``, then writes its shard number to ``output``; ``options`` adds to nowait."""
    conn.sql("""CREATE OR REPLACE FUNCTION hold LANGUAGE PYTHON AS $$
import time
def hold(ctx, t):
    time.sleep(float(ctx.params.get("seconds", "0")))
    return {"k": [ctx.shard]}
$$""")
    return conn.sql(f"EXECUTE FUNCTION hold(INPUT_TABLE_NAMES => INPUT_TABLE({table}), "
                    f"OUTPUT_TABLE_NAMES => OUTPUT_TABLES('{output}'), "
                    f"PARAMS => KV_PAIRS(seconds = '{seconds}'), "
                    f"OPTIONS => KV_PAIRS(nowait = 'true'{options}))").fetchone()[0]


def _running(conn: indb.Connection, run_id: str) -> int:
    """How many of the run's instances are running now."""
    rows = conn.sql(f"SHOW FUNCTION STATUS VERBOSE FOR '{run_id}'").arrow().to_pylist()
    return sum(row["status"] == "running" for row in rows)


def _stop(process: subprocess.Popen) -> None:
    if process.poll() is None:
        process.send_signal(signal.SIGTERM)
        try:
            process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


@pytest.fixture(scope="module")
def secured(tmp_path_factory):
    """``indb init --tls`` of a database whose scheduler (started here, TLS only) has one
    ``indb worker``; yields (the indb.toml, the scheduler's address, the directory)."""
    directory = tmp_path_factory.mktemp("secured")
    address = f"tls://127.0.0.1:{free_port()}"
    made = CliRunner().invoke(cli, ["init", str(directory), "--catalog",
                                    f"sqlite:///{directory / 'catalog.db'}", "--warehouse",
                                    str(directory / "warehouse"), "--scheduler", address, "--tls"])
    assert made.exit_code == 0, made.output
    config = directory / "indb.toml"
    tls = read_config(config).tls
    assert tls is not None
    scheduler = subprocess.Popen([str(BIN / "indb"), "scheduler", "--config", str(config)],
                                 stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    worker = subprocess.Popen([str(BIN / "indb"), "worker", "--config", str(config), "--gpus", "0",
                               "--name", "alpha", "--resources", "fast-disk=1"],
                              stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        with Client(address, security=security(tls), timeout=JOIN_TIMEOUT) as client:
            client.wait_for_workers(1, timeout=JOIN_TIMEOUT)
        yield config, address, directory
    finally:
        _stop(worker)
        _stop(scheduler)


def test_init_writes_a_config_that_opens_the_database(secured):
    config, address, directory = secured
    location = read_config(config)
    assert (location.scheduler, location.warehouse) == (address, (directory / "warehouse").as_uri())
    assert oct(os.stat(location.tls.key).st_mode & 0o777) == "0o600"  # the key: its owner's alone
    again = CliRunner().invoke(cli, ["init", str(directory), "--catalog", "sqlite:///x.db",
                                     "--warehouse", str(directory / "w")])
    assert again.exit_code != 0 and "exists" in again.output


def test_a_function_runs_on_the_secured_workers(secured):
    config, _, _ = secured
    conn = indb.connect(str(config))
    try:
        conn.sql("CREATE TABLE IF NOT EXISTS pts (k INTEGER, v DOUBLE, SHARD KEY (k)) WITH (SHARDS = 4)")
        conn.sql("INSERT INTO pts SELECT range, range * 0.5 FROM range(100)")
        conn.sql("""CREATE OR REPLACE FUNCTION where_am_i LANGUAGE PYTHON AS $$
import os
def where_am_i(ctx, t):
    return {"shard": [ctx.shard] * t.num_rows, "pid": [os.getpid()] * t.num_rows}
$$""")
        conn.sql("EXECUTE FUNCTION where_am_i(INPUT_TABLE_NAMES => INPUT_TABLE(pts), "
                 "OUTPUT_TABLE_NAMES => OUTPUT_TABLES('placed'))")
        assert conn.sql("SELECT count(*), count(DISTINCT shard) FROM placed").fetchone() == (100, 4)
        pids = {row[0] for row in conn.sql("SELECT DISTINCT pid FROM placed").fetchall()}
        assert os.getpid() not in pids  # the instances ran in the worker's processes
    finally:
        conn.close()


def test_status_lists_workers_with_their_shards_memory_and_health(secured):
    config, address, _ = secured
    tls = read_config(config).tls
    with Client(address, security=security(tls), timeout=JOIN_TIMEOUT) as client:
        (row,) = cluster_status(client, 4)
    assert (row.name, row.health, row.shards, row.threads) == ("alpha-0", "ok", (0, 1, 2, 3), 2)
    assert row.resources == {"fast-disk": 1.0} and row.memory > 0
    shown = CliRunner().invoke(cli, ["cluster", "status", "--config", str(config), "--shards", "4"])
    assert shown.exit_code == 0, shown.output
    assert "alpha-0" in shown.output and "0,1,2,3" in shown.output and "fast-disk=1" in shown.output


def test_show_workers_in_sql_shows_the_scheduler_s_workers(secured):
    config, address, _ = secured
    conn = indb.connect(str(config))
    try:
        (row,) = conn.sql("SHOW WORKERS").arrow().to_pylist()
        conn.sql("CREATE TABLE IF NOT EXISTS three (k INTEGER) WITH (SHARDS = 3)")
        (for_table,) = conn.sql("SHOW WORKERS FOR TABLE three").arrow().to_pylist()
        default = conn.engine.db.default_shards
    finally:
        conn.close()
    assert (row["worker"], row["health"], row["resources"], row["gpus"]) == \
        ("alpha-0", "ok", "fast-disk=1", 0)
    assert row["address"].startswith("tls://127.0.0.1:") and row["address"] != address
    assert row["shards"] == list(range(default))  # the one worker runs every shard
    assert row["memory_bytes"] > 0 and row["threads"] == 2
    assert for_table["shards"] == [0, 1, 2]  # of the table's 3


@pytest.mark.slow
def test_a_joining_worker_takes_its_share_of_the_shards(secured):
    config, address, _ = secured
    tls = read_config(config).tls
    joining = subprocess.Popen([str(BIN / "indb"), "worker", "--config", str(config), "--gpus", "0",
                                "--name", "bravo"], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        with Client(address, security=security(tls), timeout=JOIN_TIMEOUT) as client:
            client.wait_for_workers(2, timeout=JOIN_TIMEOUT)
            placed = {row.name: row.shards for row in cluster_status(client, 4)}
            owners = place(range(4), ["alpha-0", "bravo-0"])  # rendezvous hashing, balanced
            assert placed == {name: tuple(k for k in range(4) if owners[k] == name)
                              for name in ("alpha-0", "bravo-0")}
            assert len(placed["bravo-0"]) == 2  # its share; alpha-0 kept the rest
            _stop(joining)  # it leaves: the scheduler removes it as its nanny closes
            _until(lambda: len(client.scheduler_info()["workers"]) == 1)
            assert {row.name: row.shards for row in cluster_status(client, 4)} == {"alpha-0": (0, 1, 2, 3)}
    finally:
        _stop(joining)


def test_a_process_without_the_credentials_cannot_connect(secured, tmp_path):
    config, address, _ = secured
    host, port = address.removeprefix("tls://").rsplit(":", 1)
    trusting = ssl.create_default_context(cafile=read_config(config).tls.ca)  # no certificate
    trusting.check_hostname = False
    with socket.create_connection((host, int(port)), timeout=20) as raw, \
            pytest.raises((ssl.SSLError, ConnectionResetError)) as refused:
        with trusting.wrap_socket(raw) as tls:
            tls.sendall(b"hello")
            tls.recv(1)  # TLS 1.3: the server's refusal arrives after the client's handshake
    assert not isinstance(refused.value, TimeoutError)
    with pytest.raises((OSError, TimeoutError)):  # plain TCP to the TLS port
        Client(address.replace("tls://", "tcp://"), timeout=5)
    stranger = make_certificates(tmp_path / "stranger")  # a certificate of another CA
    with pytest.raises((OSError, TimeoutError, ssl.SSLError)):
        Client(address, security=security(stranger), timeout=5)


def test_sigint_or_sigterm_ends_a_worker_s_or_scheduler_s_wait_not_the_process():
    from indb.sharding import workers

    async def wait(number: int) -> bool:
        stop = workers._stop_on_signals()
        never: asyncio.Future[object] = asyncio.get_running_loop().create_future()
        asyncio.get_running_loop().call_soon(os.kill, os.getpid(), number)
        await asyncio.wait_for(workers._until(never, stop), JOIN_TIMEOUT)
        return stop.is_set() and not never.done()
    assert asyncio.run(wait(signal.SIGTERM)) and asyncio.run(wait(signal.SIGINT))


def test_worker_names_and_resources():
    assert worker_names("gpu-host", 2) == ["gpu-host-0", "gpu-host-1"]
    assert worker_names("cpu-host", 0) == ["cpu-host-0"]
    assert parse_resources("GPU=1, fast-disk=2") == {"GPU": 1.0, "fast-disk": 2.0}
    with pytest.raises(indb.OptionError, match="NAME=NUMBER"):
        parse_resources("GPU")


@pytest.mark.slow
def test_a_worker_killed_mid_run_without_retries_fails_the_run_cleanly(secured):
    """SIGKILL to every process of one worker host while its instance runs, in a run that
    allows no retries: the run ends recorded as an error, its output table never appears, and
    the next run works on the workers that are left."""
    import psutil
    config, address, _ = secured
    tls = read_config(config).tls
    victim = subprocess.Popen([str(BIN / "indb"), "worker", "--config", str(config), "--gpus", "0",
                               "--name", "kilo"], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    conn = indb.connect(str(config))
    try:
        with Client(address, security=security(tls), timeout=JOIN_TIMEOUT) as client:
            client.wait_for_workers(2, timeout=JOIN_TIMEOUT)
        conn.sql("CREATE OR REPLACE TABLE doomed_in (k INTEGER, SHARD KEY (k)) WITH (SHARDS = 2)")
        conn.sql("INSERT INTO doomed_in VALUES (0), (1)")
        run_id = _hold(conn, "doomed_in", "doomed_out", 60, ", max_retries = '0'")
        _until(lambda: _running(conn, run_id) == 2)  # both instances, one on each worker
        family = psutil.Process(victim.pid)
        for process in [family, *family.children(recursive=True)]:  # the host's every process
            process.kill()
        victim.wait()
        status = conn.wait(run_id).arrow().to_pylist()[0]
        assert status["status"] == "error", status
        assert "not retried: its retries are used up (max_retries = 0)" in status["message"]
        assert not conn._engine.db.exists("doomed_out")
        with Client(address, security=security(tls), timeout=JOIN_TIMEOUT) as client:
            _until(lambda: len(client.scheduler_info()["workers"]) == 1)
        conn.sql("EXECUTE FUNCTION hold(INPUT_TABLE_NAMES => INPUT_TABLE(doomed_in), "
                 "OUTPUT_TABLE_NAMES => OUTPUT_TABLES('doomed_out'))")
        assert conn.sql("SELECT k FROM doomed_out ORDER BY k").fetchall() == [(0,), (1,)]
    finally:
        conn.close()
        _stop(victim)


@pytest.fixture
def namespace_host():
    """A network namespace with a veth pair to this one: the "host" gets 10.213.N.2, this side
    10.213.N.1, and nothing else connects them (addresses only inside the pair). Yields
    (namespace, this side's address, its address); removed afterwards."""
    if os.geteuid() != 0:
        pytest.skip("network namespaces need root")
    tag = f"{os.getpid() % 200 + 20}"
    name, outside, inside = f"indb-h{tag}", f"indbv{tag}a", f"indbv{tag}b"
    ours, theirs = f"10.213.{tag}.1", f"10.213.{tag}.2"

    def ip(*args: str) -> None:
        subprocess.run(["ip", *args], check=True, capture_output=True, timeout=30)
    try:
        ip("netns", "add", name)
    except (OSError, subprocess.CalledProcessError):
        pytest.skip("ip netns add does not work here")
    try:
        ip("link", "add", outside, "type", "veth", "peer", "name", inside)
        ip("link", "set", inside, "netns", name)
        ip("addr", "add", f"{ours}/24", "dev", outside)
        ip("link", "set", outside, "up")
        ip("netns", "exec", name, "ip", "addr", "add", f"{theirs}/24", "dev", inside)
        ip("netns", "exec", name, "ip", "link", "set", inside, "up")
        ip("netns", "exec", name, "ip", "link", "set", "lo", "up")
        yield name, ours, theirs
    finally:
        subprocess.run(["ip", "link", "del", outside], capture_output=True, timeout=30)
        subprocess.run(["ip", "netns", "del", name], capture_output=True, timeout=30)


@pytest.mark.slow
def test_a_worker_in_another_network_namespace_runs_a_function(namespace_host, tmp_path):
    """A "host" that shares only the network with the head: a worker in its own network
    namespace joins the TLS scheduler and reaches the PostgreSQL catalog over the veth pair."""
    from stores import new_database, postgres_server
    namespace, ours, theirs = namespace_host
    with postgres_server(ours) as pg:
        address = f"tls://{ours}:{free_port()}"
        made = CliRunner().invoke(cli, ["init", str(tmp_path), "--catalog", new_database(pg),
                                        "--warehouse", str(tmp_path / "shared"), "--scheduler",
                                        address, "--tls", "--tls-host", ours, "--tls-host", theirs])
        assert made.exit_code == 0, made.output
        config = tmp_path / "indb.toml"
        tls = read_config(config).tls
        scheduler = subprocess.Popen([str(BIN / "indb"), "scheduler", "--config", str(config)],
                                     stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        worker = subprocess.Popen(["ip", "netns", "exec", namespace, str(BIN / "indb"), "worker",
                                   "--config", str(config), "--gpus", "0", "--name", "remote",
                                   "--host", theirs],
                                  stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        conn = None
        try:
            with Client(address, security=security(tls), timeout=JOIN_TIMEOUT) as client:
                client.wait_for_workers(1, timeout=JOIN_TIMEOUT)
                (row,) = cluster_status(client, 2)
                assert row.address.startswith(f"tls://{theirs}:") and row.health == "ok"
            conn = indb.connect(str(config))
            conn.sql("CREATE TABLE pts (k INTEGER, SHARD KEY (k)) WITH (SHARDS = 2)")
            conn.sql("INSERT INTO pts SELECT range FROM range(50)")
            conn.sql("""CREATE FUNCTION twice LANGUAGE PYTHON AS $$
def twice(ctx, t):
    return {"k": t["k"], "k2": [2 * v.as_py() for v in t["k"]]}
$$""")
            conn.sql("EXECUTE FUNCTION twice(INPUT_TABLE_NAMES => INPUT_TABLE(pts), "
                     "OUTPUT_TABLE_NAMES => OUTPUT_TABLES('doubled'))")
            assert conn.sql("SELECT count(*), sum(k2) FROM doubled").fetchone() == (50, 2 * 1225)
        finally:
            if conn is not None:
                conn.close()
            _stop(worker)
            _stop(scheduler)


@pytest.mark.slow
def test_a_worker_host_cut_off_the_network_mid_run_fails_the_run_cleanly(namespace_host, tmp_path):
    """The veth link of a worker's namespace goes down while its instances run: the scheduler
    stops hearing from the worker, takes it for dead after --worker-ttl, and the run ends as an
    error with nothing written; the catalog (on this side) stays usable."""
    from stores import new_database, postgres_server
    namespace, ours, theirs = namespace_host
    link = f"indbv{namespace.removeprefix('indb-h')}a"
    with postgres_server(ours) as pg:
        address = f"tcp://{ours}:{free_port()}"
        conn = indb.connect(catalog=new_database(pg), warehouse=str(tmp_path / "shared"),
                            scheduler=address)
        scheduler = subprocess.Popen([str(BIN / "indb"), "scheduler", "--address", address,
                                      "--worker-ttl", "5s"],
                                     stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        worker = subprocess.Popen(["ip", "netns", "exec", namespace, str(BIN / "indb"), "worker",
                                   "--scheduler", address, "--gpus", "0", "--name", "remote",
                                   "--host", theirs],
                                  stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        try:
            with Client(address, timeout=JOIN_TIMEOUT) as client:
                client.wait_for_workers(1, timeout=JOIN_TIMEOUT)
            conn.sql("CREATE TABLE pts (k INTEGER, SHARD KEY (k)) WITH (SHARDS = 2)")
            conn.sql("INSERT INTO pts VALUES (0), (1)")
            run_id = _hold(conn, "pts", "held", 120)
            _until(lambda: _running(conn, run_id) >= 1)
            subprocess.run(["ip", "link", "set", link, "down"], check=True, timeout=30)  # cut
            status = conn.wait(run_id).arrow().to_pylist()[0]
            assert status["status"] == "error", status
            assert not conn._engine.db.exists("held")
            assert conn.sql("SELECT count(*) FROM pts").fetchone() == (2,)  # the catalog is fine
        finally:
            conn.close()
            _stop(worker)
            _stop(scheduler)


@pytest.mark.slow
def test_a_worker_host_killed_mid_run_has_its_shard_retried_on_the_survivor(namespace_host,
                                                                           tmp_path, pipe_dir):
    """Every process of a worker "host" in its own network namespace SIGKILLed while its
    instance runs: the scheduler errs the task (KilledWorker), the run sends the shard to the
    worker left on this side, and commits the output once, whole, with the retry recorded."""
    from stores import new_database, postgres_server
    namespace, ours, theirs = namespace_host
    ready, go = pipe_dir / "ready", pipe_dir / "go"
    os.mkfifo(ready)
    os.mkfifo(go)
    with postgres_server(ours) as pg:
        address = f"tcp://{ours}:{free_port()}"
        conn = indb.connect(catalog=new_database(pg), warehouse=str(tmp_path / "shared"),
                            scheduler=address)
        scheduler = subprocess.Popen([str(BIN / "indb"), "scheduler", "--address", address],
                                     stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        workers = [subprocess.Popen(["ip", "netns", "exec", namespace, str(BIN / "indb"), "worker",
                                     "--scheduler", address, "--gpus", "0", "--name", "remote",
                                     "--host", theirs],
                                    stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL),
                   subprocess.Popen([str(BIN / "indb"), "worker", "--scheduler", address,
                                     "--gpus", "0", "--name", "local", "--host", ours],
                                    stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)]
        try:
            with Client(address, timeout=JOIN_TIMEOUT) as client:
                client.wait_for_workers(2, timeout=JOIN_TIMEOUT)
            conn.sql("CREATE TABLE pts (k INTEGER, SHARD KEY (k)) WITH (SHARDS = 2)")
            conn.sql("INSERT INTO pts SELECT range FROM range(20)")
            # the shard placement puts on remote-0 is held there (rendezvous hashing: see
            # worker_placement), the other runs on local-0
            owners = place(range(2), ["local-0", "remote-0"])
            held = next(k for k, worker in owners.items() if worker == "remote-0")
            conn.sql("""CREATE FUNCTION held LANGUAGE PYTHON AS $$
def held(ctx, t):
    if ctx.shard == int(ctx.params["held"]):
        open(ctx.params["ready"], "w").close()
        open(ctx.params["go"]).read()
    return t
$$""")
            run_id = conn.sql(f"EXECUTE FUNCTION held(INPUT_TABLE_NAMES => INPUT_TABLE(pts), "
                              f"OUTPUT_TABLE_NAMES => OUTPUT_TABLES('held_out'), "
                              f"PARAMS => KV_PAIRS(ready = '{ready}', go = '{go}', held = '{held}'), "
                              f"OPTIONS => KV_PAIRS(nowait = 'true'))").fetchone()[0]
            ready.read_text()  # the held shard runs on the namespaced host
            pids = subprocess.run(["ip", "netns", "pids", namespace], capture_output=True,
                                  text=True, check=True, timeout=30).stdout.split()
            for pid in pids:  # the host's every process
                os.kill(int(pid), signal.SIGKILL)
            ready.read_text()  # its retry runs, on the worker left
            with open(go, "w"):
                pass
            status = conn.wait(run_id).arrow().to_pylist()[0]
            assert status["status"] == "completed", status
            assert conn.sql("SELECT count(*), sum(k) FROM held_out").fetchone() == (20, 190)
            shards = {row["shard"]: row for row in
                      conn.sql(f"SHOW FUNCTION STATUS VERBOSE FOR '{run_id}'").arrow().to_pylist()}
            assert (shards[held]["retried"], shards[held]["worker"]) == ("remote-0", "local-0")
            assert shards[1 - held]["retried"] is None
        finally:
            conn.close()
            for worker in workers:
                _stop(worker)
            _stop(scheduler)
