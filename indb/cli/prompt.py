"""The input of ``indb sql``: statements typed at a prompt, or read from a pipe.

A statement may span lines; it is complete when the tokenizer finds its ``;`` (one in a string
or a ``$$`` body does not count). At a terminal the prompt is prompt_toolkit's: a statement is
edited, kept in the history file (as soon as it is entered) and recalled whole, and Ctrl-C drops
what is being typed. A line that starts with ``.`` is a dot-command.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import TextIO

from indb.errors import SqlError
from indb.parser import split, unfinished_procedure
from indb.parser.qstatements import PREFIX

PROMPT, CONTINUATION = "indb> ", "...> "
QUIT_WORDS = ("quit", "exit")  # as .quit, for who types them out of habit


def history_path() -> Path:
    return Path(os.environ.get("INDB_HISTORY") or Path.home() / ".indb_history")


def complete(text: str) -> bool:
    """Whether ``text`` is ready to run: a dot-command, or statements the last of which ends with
    its ``;`` or is a line of q-sql (nothing but comments or blanks is ready too, and does
    nothing)."""
    stripped = text.strip()
    if stripped.startswith(".") or stripped in QUIT_WORDS:
        return True
    try:
        statements = split(text)
    except SqlError:  # a quote, $$ body or comment is still open
        return False
    return not statements or (statements[-1].endswith(";")
                               and not unfinished_procedure(statements[-1])) \
        or statements[-1].startswith(PREFIX)


def inputs(stdin: TextIO | None = None) -> Iterator[str]:
    """Each piece of input to run (a dot-command, or one or more whole statements), until EOF;
    from ``stdin`` (``sys.stdin`` as it is when called)."""
    stdin = stdin or sys.stdin
    return _typed() if stdin.isatty() else pieces(stdin)


def _typed() -> Iterator[str]:
    from prompt_toolkit import PromptSession
    from prompt_toolkit.filters import Condition
    from prompt_toolkit.history import FileHistory

    session: PromptSession[str] = PromptSession(
        history=FileHistory(str(history_path())),
        multiline=Condition(lambda: not complete(session.default_buffer.text)),  # Enter runs it
        prompt_continuation=lambda width, line, wrapped: CONTINUATION.rjust(width))
    while True:
        try:
            text = session.prompt(PROMPT)
        except KeyboardInterrupt:  # Ctrl-C: what was typed is dropped, the prompt stays
            continue
        except EOFError:  # Ctrl-D
            return
        if text.strip():
            yield text


def pieces(stdin: TextIO) -> Iterator[str]:
    """Each piece of a script to run (a dot-command's line, or whole statements)."""
    buffer = ""
    while True:
        try:
            line = stdin.readline()
            if not line:
                break
            if not buffer.strip() and line.lstrip().startswith("."):
                yield line.strip()  # a dot-command is one line
                continue
            buffer += line
            if complete(buffer):
                text, buffer = buffer, ""
                if text.strip():
                    yield text
        except KeyboardInterrupt:  # as at the prompt: what was being read is dropped
            buffer = ""
    if buffer.strip():
        yield buffer  # the last statement may end without its ';'
