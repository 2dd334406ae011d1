"""A database described by URLs: indb.toml, checked URLs, credentials kept out of sight; and a
whole database on URLs (a SQLite catalog URL, a warehouse path) without any server."""

from __future__ import annotations

from pathlib import Path

import pytest

import indb
from indb.catalog.backup import backup
from indb.catalog.location import Location, locate, read_config, redact, write_config
from indb.errors import DirectoryError, OptionError


def test_a_config_file_reads_with_paths_relative_to_it(tmp_path, monkeypatch):
    monkeypatch.delenv("AWS_ENDPOINT_URL", raising=False)
    (tmp_path / "indb.toml").write_text('''
catalog = "postgresql://indb:pw@db.example.com:5432/indb"
warehouse = "shared/db"
scheduler = "tls://head:8786"

[properties]
"s3.region" = "eu-west-1"

[tls]
ca = "tls/ca.pem"
cert = "tls/node.pem"
key = "tls/node-key.pem"
''')
    location = read_config(tmp_path / "indb.toml")
    assert location.catalog == "postgresql+psycopg://indb:pw@db.example.com:5432/indb"
    assert location.warehouse == (tmp_path / "shared" / "db").as_uri()
    assert location.local_root == tmp_path / "shared" / "db"
    assert location.tls.ca == str(tmp_path / "tls" / "ca.pem")
    assert location.io_properties == {"s3.region": "eu-west-1"}
    assert location.config == str(tmp_path / "indb.toml")


def test_secrets_are_redacted_wherever_a_location_is_shown(monkeypatch):
    monkeypatch.delenv("AWS_ENDPOINT_URL", raising=False)
    location = locate("postgresql://indb:hunter2@db/indb", "s3://bucket/db", None,
                      {"s3.access-key-id": "AKIAXYZ", "s3.secret-access-key": "wJalrXUtn",
                       "s3.endpoint": "http://minio:9000"})
    for shown in (repr(location), str(location), f"{location}"):
        assert "hunter2" not in shown and "wJalrXUtn" not in shown and "AKIAXYZ" not in shown
    assert "http://minio:9000" in repr(location) and "***" in repr(location)
    assert redact("postgresql://u:p@h/db") == "postgresql://u:***@h/db"


def test_the_endpoint_and_region_come_from_the_environment_unless_given(monkeypatch):
    monkeypatch.setenv("AWS_ENDPOINT_URL", "http://from-env:9000")
    monkeypatch.setenv("AWS_REGION", "ap-south-1")
    assert locate("sqlite:///c.db", "s3://b/p").io_properties == {
        "s3.endpoint": "http://from-env:9000", "s3.region": "ap-south-1"}
    assert locate("sqlite:///c.db", "s3://b/p", None,
                  {"s3.endpoint": "http://given:9000"}).io_properties["s3.endpoint"] == \
        "http://given:9000"


@pytest.mark.parametrize("catalog, warehouse, scheduler, message", [
    ("not a url", "/w", None, "SQLAlchemy URL"),
    ("mysql://u@h/db", "/w", None, "PostgreSQL"),
    ("sqlite:///c.db", "ftp://host/w", None, "warehouse"),
    ("sqlite:///c.db", "s3:///no-bucket", None, "bucket"),
    ("sqlite:///c.db", "/w", "host:8786", "Dask address"),
])
def test_bad_urls_are_refused_naming_the_problem(catalog, warehouse, scheduler, message):
    with pytest.raises(OptionError, match=message):
        locate(catalog, warehouse, scheduler)


@pytest.mark.parametrize("text, message", [
    ('warehouse = "/w"', "needs catalog"),
    ('catalog = "sqlite:///c.db"\nwarehouse = "/w"\npassword = "x"', "unknown key"),
    ('catalog = "sqlite:///c.db"\nwarehouse = "/w"\n[tls]\nca = "a"', "exactly ca, cert and key"),
    ("catalog = ", "not valid TOML"),
])
def test_bad_config_files_are_refused(tmp_path, text, message):
    (tmp_path / "indb.toml").write_text(text)
    with pytest.raises(OptionError, match=message):
        read_config(tmp_path / "indb.toml")
    with pytest.raises(OptionError, match="does not exist"):
        read_config(tmp_path / "missing.toml")


def test_a_written_config_reads_back_without_secrets(tmp_path, monkeypatch):
    monkeypatch.delenv("AWS_ENDPOINT_URL", raising=False)
    location = locate("sqlite:///c.db", "s3://bucket/db", "tcp://h:8786",
                      {"s3.endpoint": "http://m:9000", "s3.secret-access-key": "s3cr3t"})
    write_config(tmp_path / "indb.toml", location)
    assert "s3cr3t" not in (tmp_path / "indb.toml").read_text()
    write_config(tmp_path / "with-password.toml", locate("postgresql://u:pw@h/db", "/w"))
    assert (tmp_path / "with-password.toml").stat().st_mode & 0o077 == 0  # its owner's alone
    again = read_config(tmp_path / "indb.toml")
    assert (again.catalog, again.warehouse, again.scheduler, again.io_properties) == \
        (location.catalog, location.warehouse, location.scheduler, {"s3.endpoint": "http://m:9000"})


def test_a_database_on_urls_without_any_server(tmp_path):
    """SQLite through a catalog URL, the warehouse a path: the whole engine, and a second
    connection through the indb.toml that describes the same database."""
    location = locate(f"sqlite:///{tmp_path / 'catalog.db'}", str(tmp_path / "shared"))
    write_config(tmp_path / "indb.toml", location)
    conn = indb.connect(catalog=location.catalog, warehouse=str(tmp_path / "shared"),
                        cluster="threads")
    try:
        conn.sql("CREATE TABLE t (k INTEGER, v VARCHAR, SHARD KEY (k)) WITH (SHARDS = 2)")
        conn.sql("INSERT INTO t VALUES (1, 'a'), (2, 'b')")
        assert (tmp_path / "shared" / "warehouse" / "main" / "t" / "data").is_dir()
        other = indb.connect(str(tmp_path / "indb.toml"))
        assert other.sql("SELECT v FROM t ORDER BY k").fetchall() == [("a",), ("b",)]
        other.close()
    finally:
        conn.close()


def test_connect_takes_one_description(tmp_path):
    with pytest.raises(OptionError, match="one of them"):
        indb.connect(tmp_path / "db", catalog="sqlite:///c.db", warehouse="/w")
    with pytest.raises(OptionError, match="one of them"):
        indb.connect(catalog="sqlite:///c.db")


def test_backup_refuses_a_database_described_by_urls(tmp_path):
    with pytest.raises(DirectoryError, match="pg_dump"):
        backup(tmp_path / "indb.toml", tmp_path / "copy")
    assert not (tmp_path / "copy").exists()


def test_a_location_is_hashable_and_compares_by_value(tmp_path):
    one = locate("sqlite:///c.db", str(tmp_path))
    two = locate("sqlite:///c.db", str(tmp_path))
    assert one == two and hash(one) == hash(two) and isinstance(one, Location)
    assert Path(one.local_root) == tmp_path
