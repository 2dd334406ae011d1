"""Registered code, read without running it: syntax checked, handler and metadata found by ``ast``.

Registering a function happens in the process that owns the catalog, where user code must never
run; everything here is static analysis of the source text.
"""

from __future__ import annotations

import ast
import hashlib
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path, PurePosixPath
from typing import Any

from indb.catalog.artifacts import combined
from indb.errors import FunctionError, PrivilegeError, SqlError
from indb.registry.uploads import UPLOAD_SCHEME

# how a handler's inputs arrive (``@udf.function(frame=...)``); indb.udf.frames converts to each
FRAMES = ("arrow", "pandas", "numpy", "torch", "cupy", "cudf")


@dataclass(frozen=True)
class CodeFacts:
    """What the entry file of a function is: a handler to call, or a script to run."""

    style: str                           # "handler": call handler(ctx, *inputs); "script": run it
    handler: str | None
    frame: str = "arrow"
    params: tuple[str, ...] | None = None  # parameter names the handler declares; None: any


def stored_path(path: str) -> str:
    """Where a FILE PATHS file lies in the function's code directory, the working directory of
    its instances: a relative path keeps its layout, as in Kinetica (``udf/x.py``), and so does
    an upload's name (``upload://udf/x.py``); an absolute one, or one that climbs out with ``..``,
    keeps only its file name."""
    posix = PurePosixPath(path.removeprefix(UPLOAD_SCHEME).replace("\\", "/"))
    if posix.is_absolute() or ".." in posix.parts:
        return posix.name
    return str(PurePosixPath(*[part for part in posix.parts if part != "."]))


FILE_PATHS_ALLOWED = "file_paths_allowed"  # the database setting (ALTER DATABASE SET ...)


def allowed_directories(setting: str | None) -> tuple[Path, ...]:
    """The directories ``file_paths_allowed`` names (``'/dir1:/dir2'``); absolute paths only,
    since a relative one would mean whatever directory a process happens to run in."""
    directories = tuple(Path(part) for part in (setting or "").split(":") if part)
    for directory in directories:
        if not directory.is_absolute():
            raise FunctionError(f"{FILE_PATHS_ALLOWED} takes absolute directories separated by "
                                f"':', as in '/srv/udfs:/home/shared/udfs'; {directory} is relative")
    return directories


def confined(path: str, allowed: tuple[Path, ...] | None, clause: str = "FILE PATHS") -> Path:
    """The file a FILE PATHS entry (or ``clause``: CREATE MODEL's FROM FILE) names, for reading:
    ``allowed`` None (an admin) takes any path, relative to the current directory; otherwise the
    path, with its symbolic links and ``..`` resolved, must lie inside one of the ``allowed``
    directories (resolved likewise)."""
    file = Path(path).expanduser()
    if allowed is None:
        return file
    if not allowed:
        raise PrivilegeError(f"{clause} {path!r}: users below admin may read files only "
                             f"from the directories an admin allows, and none are; an admin can "
                             f"ALTER DATABASE SET {FILE_PATHS_ALLOWED} = '/dir1:/dir2'"
                             + (", or give the code inline (AS $$ ... $$)"
                                if clause == "FILE PATHS" else ""))
    resolved = file.resolve()
    if not any(resolved.is_relative_to(directory.resolve()) for directory in allowed):
        raise PrivilegeError(f"{clause} {path!r} resolves to {resolved}, outside the directories "
                             f"{FILE_PATHS_ALLOWED} allows ({':'.join(map(str, allowed))}); put "
                             "the file in one of them (links out of them are followed and "
                             "refused too)")
    return resolved


def entry_path(argument: str, stored: Sequence[str]) -> str | None:
    """The stored file RUN_COMMAND_ARGS's first argument runs: the file at that path, else
    (indb's shorthand, ``'f.py'`` for ``FILE PATHS 'udfs/f.py'``) the one file of that name."""
    path = stored_path(argument)
    if path in stored:
        return path
    named = [s for s in stored if PurePosixPath(s).name == PurePosixPath(path).name]
    return named[0] if len(named) == 1 else None


def code_hash(files: dict[str, bytes]) -> str:
    """The content address of a set of files: names and contents, in name order (the digest
    ``artifacts.tree_digest`` gives of their directory)."""
    return combined({name: hashlib.sha256(content).digest() for name, content in files.items()})


def inspect_code(files: dict[str, bytes], entry: str, handler: str | None, *,
                 must_have_handler: bool, first_line: int | None = None) -> CodeFacts:
    """Syntax-check every Python file and find the entry file's handler.

    ``handler`` is the function to call (HANDLER, or the function's own name); when the entry file
    defines no such function and ``must_have_handler`` is false, it is a Kinetica-style script.
    ``first_line`` is the SQL line inline code starts on, so errors point into the statement.
    """
    trees = {}
    for name, source in files.items():
        if not name.endswith(".py"):
            continue
        try:
            trees[name] = ast.parse(source, filename=name)
        except SyntaxError as error:
            if first_line is None:
                raise FunctionError(f"syntax error in {name} line {error.lineno}: "
                                    f"{error.msg}") from None
            raise SqlError(f"syntax error in line {error.lineno} of the code: {error.msg}",
                           (error.lineno or 1) + first_line - 1, error.offset) from None
    if entry not in trees:
        raise FunctionError(f"{entry} is not among the function's Python files "
                            f"({', '.join(sorted(trees)) or 'none'})")
    functions = {node.name: node for node in trees[entry].body
                 if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef)}
    decorated = [node for node in functions.values() if _udf_decorator(node) is not None]
    chosen = functions.get(handler or "") or (decorated[0] if len(decorated) == 1 else None)
    if chosen is None:
        if must_have_handler:
            raise FunctionError(f"the code defines no function {handler}; HANDLER names the "
                                f"function to call, as in def {handler}(ctx, table): ...")
        return CodeFacts("script", None)
    facts: dict[str, Any] = {"frame": "arrow", "params": None}
    decorator = _udf_decorator(chosen)
    if isinstance(decorator, ast.Call):
        for keyword in decorator.keywords:
            if keyword.arg not in facts:
                raise FunctionError(f"@udf.function() takes frame= and params=, not {keyword.arg}=")
            try:
                facts[keyword.arg] = ast.literal_eval(keyword.value)
            except ValueError:
                raise FunctionError(f"@udf.function({keyword.arg}=...) must be a literal") from None
    frame = facts["frame"]
    if frame not in FRAMES:
        raise FunctionError(f"unknown frame {frame!r}; frames are {', '.join(FRAMES)}")
    params = facts["params"]
    return CodeFacts("handler", chosen.name, frame,
                     None if params is None else tuple(str(p).lower() for p in params))


def _udf_decorator(node: ast.FunctionDef | ast.AsyncFunctionDef) -> ast.expr | None:
    """The ``@udf.function`` / ``@function`` decorator of a function, if it has one."""
    for decorator in node.decorator_list:
        target = decorator.func if isinstance(decorator, ast.Call) else decorator
        name = target.attr if isinstance(target, ast.Attribute) else getattr(target, "id", None)
        if name == "function":
            return decorator
    return None
