"""Where a database lives: one directory (the embedded default), or URLs (``indb.toml``).

A database described by URLs has a SQL catalog (a SQLAlchemy URL: PostgreSQL for several hosts,
pyiceberg's ``SqlCatalog`` and indb's records on the same server), a warehouse (any filesystem
pyiceberg's FileIO opens: ``s3://bucket/prefix`` for an S3-compatible store, or a path every host
mounts) and optionally a Dask scheduler with the TLS files of its cluster. Credentials come from
the environment (libpq's ``PGPASSWORD``/``PGPASSFILE``, the AWS SDK's ``AWS_ACCESS_KEY_ID``...) or
from the file; they never appear in SQL, and ``repr`` and error messages show them redacted.

``indb.toml``::

    catalog = "postgresql://indb@db.example.com:5432/indb"
    warehouse = "s3://analytics/indb"
    scheduler = "tls://head.example.com:8786"        # optional

    [properties]                                      # pyiceberg FileIO properties, as it names them
    "s3.endpoint" = "http://minio.example.com:9000"

    [tls]                                             # optional; relative to this file
    ca = "tls/ca.pem"
    cert = "tls/node.pem"
    key = "tls/node-key.pem"
"""

from __future__ import annotations

import json
import os
import re
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import urlsplit

import sqlalchemy as sa

from indb.errors import OptionError

CONFIG_FILE = "indb.toml"
# the filesystems pyiceberg's PyArrowFileIO opens (the warehouse's URL scheme)
SCHEMES = ("file", "s3", "s3a", "s3n", "gs", "abfs", "abfss", "hdfs")
# pyiceberg FileIO properties that are secrets: shown as *** (other keys ending so are too)
SECRET = re.compile(r"(secret|password|token|session|key-id|credential)", re.IGNORECASE)
# FileIO properties read from the AWS SDK's environment variables when the file does not set them
# (keys are left to the SDKs, which read the same variables themselves)
ENVIRONMENT = {"s3.endpoint": "AWS_ENDPOINT_URL", "s3.region": "AWS_REGION"}
TLS_FILES = ("ca", "cert", "key")


@dataclass(frozen=True)
class Tls:
    """The certificate files of a secured cluster: the CA that signed every member's
    certificate, and this process's certificate and key (PEM)."""

    ca: str
    cert: str
    key: str


@dataclass(frozen=True, repr=False)
class Location:
    """A database described by URLs (hashable: runs key their workers' catalogs by it)."""

    catalog: str                      # SQLAlchemy URL
    warehouse: str                    # URI of the database's root in the warehouse, no trailing /
    scheduler: str | None = None
    properties: tuple[tuple[str, str], ...] = ()  # pyiceberg FileIO properties
    tls: Tls | None = None
    config: str | None = field(default=None, compare=False)  # the file it was read from

    @property
    def io_properties(self) -> dict[str, str]:
        return dict(self.properties)

    @property
    def local_root(self) -> Path | None:
        """The warehouse as a local path (a shared mount), or None for an object store."""
        parsed = urlsplit(self.warehouse)
        return Path(parsed.path) if parsed.scheme == "file" else None

    def __repr__(self) -> str:
        shown = {k: "***" if SECRET.search(k) else v for k, v in self.properties}
        return (f"Location(catalog={redact(self.catalog)!r}, warehouse={self.warehouse!r}, "
                f"scheduler={self.scheduler!r}, properties={shown!r})")

    __str__ = __repr__


def locate(catalog: str, warehouse: str, scheduler: str | None = None,
           properties: Mapping[str, str] | None = None, tls: Tls | None = None,
           config: str | None = None, base: Path | None = None) -> Location:
    """A checked Location; relative warehouse paths are taken from ``base`` (the config's
    directory; else the current one)."""
    try:
        url = sa.engine.make_url(catalog)
    except sa.exc.ArgumentError:
        raise OptionError(f"catalog must be a SQLAlchemy URL such as postgresql://user@host/db or "
                          f"sqlite:////path/catalog.db, not {redact(catalog)!r}") from None
    if url.drivername == "postgresql":  # psycopg (3) is the driver indb installs, not psycopg2
        url = url.set(drivername="postgresql+psycopg")
    if not url.drivername.startswith(("postgresql", "sqlite")):
        raise OptionError(f"catalog {redact(catalog)!r}: indb's catalog is PostgreSQL "
                          "(postgresql://...) or SQLite (sqlite:///...)")
    props = {k: os.environ[v] for k, v in ENVIRONMENT.items() if os.environ.get(v)}
    props.update(properties or {})
    if scheduler and not re.match(r"^(tcp|tls|inproc)://", scheduler):
        raise OptionError(f"scheduler is a Dask address such as tcp://host:8786 or "
                          f"tls://host:8786, not {scheduler!r}")
    if tls and scheduler and not scheduler.startswith("tls://"):
        raise OptionError(f"with TLS files the scheduler's address starts with tls://, not "
                          f"{scheduler!r}")
    return Location(url.render_as_string(hide_password=False), warehouse_uri(warehouse, base),
                    scheduler, tuple(sorted((str(k), str(v)) for k, v in props.items())), tls,
                    config)


def warehouse_uri(warehouse: str, base: Path | None = None) -> str:
    """The warehouse as a URI: a path becomes an absolute ``file://`` URI; no trailing ``/``."""
    scheme = urlsplit(warehouse).scheme
    if not scheme or len(scheme) == 1:  # a path (or a Windows drive letter)
        path = Path(warehouse).expanduser()
        return (path if path.is_absolute() else (base or Path.cwd()) / path).resolve().as_uri()
    if scheme not in SCHEMES:
        raise OptionError(f"warehouse {warehouse!r}: a path, or a URL of one of "
                          f"{', '.join(s + '://' for s in SCHEMES)}")
    if scheme != "file" and not urlsplit(warehouse).netloc:
        raise OptionError(f"warehouse {warehouse!r} names no bucket: {scheme}://bucket/prefix")
    return warehouse.rstrip("/")


def read_config(path: str | Path) -> Location:
    """The Location an ``indb.toml`` describes (paths in it relative to its directory)."""
    file = Path(path).expanduser().resolve()
    try:
        data = tomllib.loads(file.read_text())
    except FileNotFoundError:
        raise OptionError(f"{file} does not exist; `indb init` writes one") from None
    except tomllib.TOMLDecodeError as error:
        raise OptionError(f"{file} is not valid TOML: {error}") from None
    missing = [k for k in ("catalog", "warehouse") if not isinstance(data.get(k), str)]
    if missing:
        raise OptionError(f"{file} needs {' and '.join(missing)} (strings): "
                          'catalog = "postgresql://user@host/db", warehouse = "s3://bucket/db"')
    unknown = set(data) - {"catalog", "warehouse", "scheduler", "properties", "tls"}
    if unknown:
        raise OptionError(f"{file}: unknown key(s) {', '.join(sorted(unknown))}; it takes "
                          "catalog, warehouse, scheduler, [properties] and [tls]")
    tls = None
    if "tls" in data:
        table = data["tls"]
        if not isinstance(table, dict) or set(table) != set(TLS_FILES):
            raise OptionError(f"{file}: [tls] takes exactly ca, cert and key (PEM files)")
        tls = Tls(*(str((file.parent / str(table[k])).resolve()) for k in TLS_FILES))
    properties = data.get("properties", {})
    if not isinstance(properties, dict):
        raise OptionError(f"{file}: [properties] is a table of pyiceberg FileIO properties")
    return locate(data["catalog"], data["warehouse"], data.get("scheduler"),
                  {str(k): str(v) for k, v in properties.items()}, tls, str(file), file.parent)


def write_config(path: Path, location: Location) -> None:
    """Write ``location`` as an ``indb.toml``: secret FileIO properties are left out (they belong
    in the environment), and a file holding the catalog's password is readable by its owner
    alone."""
    lines = [f"catalog = {_toml(location.catalog)}", f"warehouse = {_toml(location.warehouse)}"]
    if location.scheduler:
        lines.append(f"scheduler = {_toml(location.scheduler)}")
    written = [(k, v) for k, v in location.properties if not SECRET.search(k)]
    if written:
        lines += ["", "[properties]"] + [f"{_toml(k)} = {_toml(v)}" for k, v in written]
    if location.tls:
        lines += ["", "[tls]"] + [f"{k} = {_toml(getattr(location.tls, k))}" for k in TLS_FILES]
    secret = sa.engine.make_url(location.catalog).password is not None
    descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600 if secret else 0o644)
    with os.fdopen(descriptor, "w") as file:
        file.write("\n".join(lines) + "\n")


def _toml(value: str) -> str:
    """A TOML basic string (JSON's escapes are TOML's)."""
    return json.dumps(value)


def redact(url: str) -> str:
    """A URL with its password shown as ***."""
    try:
        return sa.engine.make_url(url).render_as_string(hide_password=True)
    except sa.exc.ArgumentError:
        return re.sub(r"//([^:/@]*):[^@/]*@", r"//\1:***@", url)


def is_config(path: object) -> bool:
    """Whether ``indb.connect(path)`` names an ``indb.toml`` rather than a directory."""
    return isinstance(path, str | Path) and str(path).endswith(".toml")
