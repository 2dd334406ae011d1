"""Code uploads over the API: a developer puts a function's files (``PUT /v1/files/{name}``) in
its own upload area of the database directory, lists them (``GET /v1/files``) and deletes them,
then names them in ``CREATE FUNCTION ... FILE PATHS 'upload://name'`` (``registry.uploads``).
Only developers and admins upload: registering code is theirs."""

from __future__ import annotations

import os
import tempfile
from collections.abc import Callable, Coroutine
from pathlib import Path
from typing import TYPE_CHECKING, Any

import anyio
from fastapi import Depends, FastAPI, Request
from pydantic import BaseModel, Field

from indb.catalog import users
from indb.catalog.database import Database
from indb.errors import CatalogError, PrivilegeError, ProgrammingError
from indb.registry.uploads import MAX_UPLOAD, UPLOAD_SCHEME, upload_area, upload_name
from indb.server.models import BINARY, ERRORS

if TYPE_CHECKING:
    from indb.server.app import ServerState

Dependency = Callable[..., Coroutine[Any, Any, Any]]
UPLOADERS = ("admin", "developer")  # the roles that may upload code


class Uploaded(BaseModel):
    name: str = Field(description="the file's name in your uploads", examples=["udfs/score.py"])
    size: int = Field(description="bytes")
    file_path: str = Field(description="what CREATE FUNCTION ... FILE PATHS names it by",
                           examples=["upload://udfs/score.py"])


class Uploads(BaseModel):
    files: list[Uploaded]


FILE_BODY = {"requestBody": {"required": True, "description": f"the file's bytes (at most "
                                                              f"{MAX_UPLOAD >> 20} MiB)",
                             "content": {"application/octet-stream": BINARY}}}


def mount(app: FastAPI, state: ServerState, user: Dependency) -> None:
    """Add the upload endpoints to the API; ``user`` is its dependency telling who asks."""

    async def uploader(who: str = Depends(user)) -> Path:
        """The area of the user asking, a developer or an admin (PrivilegeError otherwise)."""
        await anyio.to_thread.run_sync(_may_upload, state, who, limiter=state.limiter)
        return upload_area(Path(state.pool.path), who)

    @app.put("/v1/files/{name:path}", summary="Upload a code file (developers), for CREATE "
             "FUNCTION ... FILE PATHS 'upload://name'", response_model=Uploaded, responses=ERRORS,
             openapi_extra=FILE_BODY)
    async def put_file(name: str, request: Request, area: Path = Depends(uploader)) -> dict[str, Any]:
        path = upload_name(name)
        data = bytearray()
        async for chunk in request.stream():
            data += chunk
            if len(data) > MAX_UPLOAD:
                raise ProgrammingError(f"{name} is over {MAX_UPLOAD >> 20} MiB, the most an "
                                       "uploaded file may hold")
        await anyio.to_thread.run_sync(_store, area, str(path), bytes(data), limiter=state.limiter)
        return _entry(str(path), len(data))

    @app.get("/v1/files", summary="Your uploaded files", response_model=Uploads, responses=ERRORS)
    async def list_files(area: Path = Depends(uploader)) -> dict[str, Any]:
        files = await anyio.to_thread.run_sync(_listed, area, limiter=state.limiter)
        return {"files": [_entry(name, size) for name, size in files]}

    @app.delete("/v1/files/{name:path}", summary="Delete an uploaded file", response_model=Uploaded,
                responses=ERRORS)
    async def delete_file(name: str, area: Path = Depends(uploader)) -> dict[str, Any]:
        path = upload_name(name)
        size = await anyio.to_thread.run_sync(_removed, area, str(path), limiter=state.limiter)
        return _entry(str(path), size)


def _may_upload(state: ServerState, user: str) -> None:
    if user == users.OWNER:
        return
    roles = users.roles_of((state.db or Database(state.pool.path)).engine, user)
    if not roles & set(UPLOADERS):
        raise PrivilegeError(f"uploading code needs the developer role, which {user} does not "
                             f"have; an admin can GRANT developer TO {user}")


def _entry(name: str, size: int) -> dict[str, Any]:
    return {"name": name, "size": size, "file_path": UPLOAD_SCHEME + name}


def _store(area: Path, name: str, data: bytes) -> None:
    """Write the file whole or not at all (a temporary file renamed over it)."""
    target = area / name
    try:
        target.parent.mkdir(parents=True, exist_ok=True)
        if target.is_dir():
            raise IsADirectoryError(target)
        with tempfile.NamedTemporaryFile(dir=target.parent, prefix=".upload-", delete=False) as out:
            out.write(data)
        os.replace(out.name, target)
    except (FileExistsError, NotADirectoryError, IsADirectoryError):
        raise ProgrammingError(f"{name} clashes with an uploaded file or directory of that name "
                               "on its way; delete that one first (DELETE /v1/files/...)") from None


def _listed(area: Path) -> list[tuple[str, int]]:
    if not area.is_dir():
        return []
    return sorted((file.relative_to(area).as_posix(), file.stat().st_size)
                  for file in area.rglob("*") if file.is_file() and not file.name.startswith("."))


def _removed(area: Path, name: str) -> int:
    file = area / name
    if not file.is_file():
        raise CatalogError(f"you have no uploaded file {name}; GET /v1/files lists yours")
    size = file.stat().st_size
    file.unlink()
    return size
