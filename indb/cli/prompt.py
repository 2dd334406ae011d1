"""The interactive prompt: statements end with ``;``, and may span lines; history is kept."""

from __future__ import annotations

import os
import sys
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import TextIO

HISTORY = Path(os.environ.get("INDB_HISTORY", Path.home() / ".indb_history"))


def statements(stdin: TextIO = sys.stdin, prompt: Callable[[str], str] | None = None) -> Iterator[str]:
    """Yield each complete statement typed (or piped) in, until EOF or ``.quit``."""
    interactive = stdin.isatty()
    read = prompt or (input if interactive else lambda _: _readline(stdin))
    if interactive:
        _load_history()
    buffer: list[str] = []
    while True:
        try:
            line = read("indb> " if not buffer else "  ...> ")
        except EOFError:
            break
        if not buffer and line.strip() in (".quit", ".exit", "quit", "exit"):
            break
        if not line.strip() and not buffer:
            continue
        buffer.append(line)
        text = "\n".join(buffer).strip()
        if text.endswith(";"):
            buffer = []
            yield text
    if buffer and "\n".join(buffer).strip():
        yield "\n".join(buffer).strip()  # a last statement without its ``;`` at EOF
    if interactive:
        _save_history()


def _readline(stdin: TextIO) -> str:
    line = stdin.readline()
    if not line:
        raise EOFError
    return line.rstrip("\n")


def _load_history() -> None:
    try:
        import readline
        readline.set_history_length(1000)
        if HISTORY.exists():
            readline.read_history_file(HISTORY)
    except (ImportError, OSError):
        pass


def _save_history() -> None:
    try:
        import readline
        readline.write_history_file(HISTORY)
    except (ImportError, OSError):
        pass
