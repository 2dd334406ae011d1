"""Code files uploaded to a served database (``PUT /v1/files/{name}``), each user's in an area of
its own inside the database directory, and named in ``CREATE FUNCTION ... FILE PATHS
'upload://name'`` (as Kinetica names files of its KiFS with ``kifs://``).

A name is a relative path of plain parts (letters, digits, ``_``, ``-``, ``.``, not starting with
a dot): no ``..``, no absolute path, no hidden file, so a name can only mean a file inside the
area, checked again after resolving links when the file is read.
"""

from __future__ import annotations

import re
from pathlib import Path, PurePosixPath

from indb.errors import PrivilegeError, ProgrammingError

UPLOAD_SCHEME = "upload://"  # FILE PATHS 'upload://udfs/f.py': the caller's uploaded udfs/f.py
UPLOADS = "uploads"  # the directory of the upload areas, in the database directory
MAX_UPLOAD = 16 << 20  # bytes a file may hold
MAX_DEPTH = 8  # directories a name may go down
_PART = re.compile(r"[A-Za-z0-9_][A-Za-z0-9_.-]{0,127}")


def upload_name(name: str) -> PurePosixPath:
    """The relative path an upload's name means; ProgrammingError for any other name."""
    parts = name.split("/")
    if not name or len(parts) > MAX_DEPTH or not all(_PART.fullmatch(p) for p in parts):
        raise ProgrammingError(
            f"{name!r} is not a name for an uploaded file: use a relative path of at most "
            f"{MAX_DEPTH} parts made of letters, digits, '_', '-' and '.', none starting with "
            "a dot, as in udfs/score.py")
    return PurePosixPath(*parts)


def upload_area(database: Path, user: str) -> Path:
    """The directory holding ``user``'s uploads in the database directory ``database``."""
    if not _PART.fullmatch(user):
        raise ProgrammingError(f"user {user!r} cannot have an upload area")
    return database / UPLOADS / user


def uploaded_file(database: Path, user: str, path: str) -> Path:
    """The file ``FILE PATHS 'upload://name'`` names: ``user``'s upload of that name, resolved
    (a link out of the area is refused)."""
    area = upload_area(database, user)
    file = (area / upload_name(path.removeprefix(UPLOAD_SCHEME))).resolve()
    if not file.is_relative_to(area.resolve()):
        raise PrivilegeError(f"FILE PATHS {path!r} resolves to {file}, outside {user}'s uploads")
    return file
