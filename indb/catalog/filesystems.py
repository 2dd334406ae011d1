"""The warehouse's filesystem, whatever it is: a local directory or an object store.

Everything goes through the filesystems pyiceberg's FileIO builds from the database's FileIO
properties (so tables, listings and deletes use the same endpoint and credentials): pyarrow's for
listing, reading and deleting, and fsspec's for DuckDB, which reads through a registered fsspec
filesystem. Local paths are returned as plain paths (what DuckDB and pyarrow open fastest), other
files as URIs (``s3://bucket/key``): the form ``storage.files.local_path`` gives a table's files.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from collections.abc import Mapping, Sequence
from urllib.parse import urlsplit

import pyarrow.fs as pafs
from pyiceberg.io import load_file_io
from pyiceberg.io.fsspec import FsspecFileIO
from pyiceberg.io.pyarrow import PyArrowFileIO

if TYPE_CHECKING:  # the planner imports the catalog without DuckDB
    import duckdb


def is_local(uri: str) -> bool:
    return urlsplit(uri).scheme in ("", "file")


def filesystem(uri: str, properties: Mapping[str, str]) -> tuple[pafs.FileSystem, str]:
    """The pyarrow filesystem holding ``uri``, and the path of ``uri`` in it."""
    io = load_file_io(dict(properties), uri)
    if not isinstance(io, PyArrowFileIO):  # indb installs pyarrow; FileIO prefers it
        io = PyArrowFileIO(dict(properties))
    scheme, netloc, path = PyArrowFileIO.parse_location(uri)
    return io.fs_by_scheme(scheme, netloc), path


def _named(uri: str, path: str) -> str:
    """A listed path in the form a table's files are named by (see the module's docstring)."""
    scheme = urlsplit(uri).scheme
    return path if scheme in ("", "file") else f"{scheme}://{path}"


def list_files(uri: str, properties: Mapping[str, str], pattern: str = "") -> list[tuple[str, float]]:
    """(path or URI, last modified in seconds) of every file under ``uri`` whose name ends with
    ``pattern``; nothing if there is no such directory."""
    fs, base = filesystem(uri, properties)
    try:
        infos = fs.get_file_info(pafs.FileSelector(base, recursive=True, allow_not_found=True))
    except FileNotFoundError:
        return []
    return [(_named(uri, info.path), info.mtime.timestamp() if info.mtime else 0.0)
            for info in infos if info.type == pafs.FileType.File and info.path.endswith(pattern)]


def subdirectories(uri: str, properties: Mapping[str, str]) -> list[str]:
    """The names of the directories (object-store prefixes) right under ``uri``, sorted."""
    fs, base = filesystem(uri, properties)
    try:
        infos = fs.get_file_info(pafs.FileSelector(base, recursive=False, allow_not_found=True))
    except FileNotFoundError:
        return []
    return sorted(info.base_name for info in infos if info.type == pafs.FileType.Directory)


def modified(uri: str, properties: Mapping[str, str]) -> float:
    """A file's last modification time (seconds); FileNotFoundError if it is gone."""
    fs, path = filesystem(uri, properties)
    info = fs.get_file_info(path)
    if info.type != pafs.FileType.File:
        raise FileNotFoundError(uri)
    return info.mtime.timestamp() if info.mtime else 0.0


def size(uri: str, properties: Mapping[str, str]) -> int:
    """A file's size in bytes; FileNotFoundError if it is gone."""
    fs, path = filesystem(uri, properties)
    info = fs.get_file_info(path)
    if info.type != pafs.FileType.File:
        raise FileNotFoundError(uri)
    return int(info.size or 0)


def total_size(paths: Sequence[str], properties: Mapping[str, str]) -> int:
    """The bytes of the files ``paths`` name (paths and URIs of one filesystem), in one listing
    call; 0 for none."""
    if not paths:
        return 0
    fs, _ = filesystem(paths[0], properties)
    located = [PyArrowFileIO.parse_location(path)[2] for path in paths]
    return sum(int(info.size or 0) for info in fs.get_file_info(located))


def remove_tree(uri: str, properties: Mapping[str, str]) -> None:
    """Delete a directory (every object under a prefix) and what it holds; gone already is fine."""
    fs, path = filesystem(uri, properties)
    try:
        fs.delete_dir(path)
    except FileNotFoundError:
        pass


def register(duck: "duckdb.DuckDBPyConnection", uri: str, properties: Mapping[str, str]) -> None:
    """Let DuckDB read files under ``uri`` (an object store's, through fsspec, with the
    database's properties); local files it reads itself."""
    if is_local(uri):
        return
    scheme = urlsplit(uri).scheme
    fs = FsspecFileIO(dict(properties)).get_fs(scheme)
    if not duck.filesystem_is_registered(fs.protocol if isinstance(fs.protocol, str)
                                         else fs.protocol[0]):
        duck.register_filesystem(fs)
