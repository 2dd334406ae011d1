"""Enter the sandbox, then become the host: ``python -P confine.py RULES -- COMMAND...``.

Run by its path, not as ``indb.sharding.confine``: importing the ``indb`` package would import
numpy and its thread pools first, and Landlock confines only the thread that restricts itself and
what it starts afterwards (a thread started earlier would stay free, in the address space the
function's code shares). So this applies the rules while the process has one thread and imports
only the standard library and landlockpy, then ``execve``s the host: the rules hold for the new
program, every thread it starts and every process it runs, for the rest of their lives.

``RULES`` is a JSON object: ``read`` (paths to read and execute beneath), ``write`` (paths where
everything is allowed), ``devices`` (glob patterns of device files to read, write and ioctl), ``collective`` (a DDP
run's instance: TCP and abstract Unix sockets left open).
"""

from __future__ import annotations

import glob
import json
import os
import sys
from typing import Any

from landlockpy import AccessFS, AccessNet, Ruleset, Scope

READ = AccessFS.READ_FILE | AccessFS.READ_DIR | AccessFS.EXECUTE
DEVICE = AccessFS.READ_FILE | AccessFS.WRITE_FILE | AccessFS.TRUNCATE | AccessFS.IOCTL_DEV
# TCP (and UDP, where the kernel has it: ABI 10) is handled with no port allowed: Dask's
# protocol runs code for whoever connects to the cluster on loopback. Signals and abstract Unix
# sockets are scoped to the sandbox.
NET = AccessNet.BIND_TCP | AccessNet.CONNECT_TCP | AccessNet.BIND_UDP | AccessNet.CONNECT_SEND_UDP
SCOPE = Scope.SIGNAL | Scope.ABSTRACT_UNIX_SOCKET
# A DDP run's instance (``collective``): its ranks reach each other over TCP on ports gloo and
# NCCL pick when they start, which no rule can name in advance, and NCCL passes GPU memory
# handles between them over abstract Unix sockets; both stay open, UDP and signals stay closed.
COLLECTIVE_NET = NET & ~(AccessNet.BIND_TCP | AccessNet.CONNECT_TCP)
COLLECTIVE_SCOPE = Scope.SIGNAL


def restrict(rules: dict[str, Any]) -> None:
    """Confine this thread and everything it starts from now on to ``rules``."""
    collective = rules.get("collective", False)
    with Ruleset(handled_net=COLLECTIVE_NET if collective else NET,
                 scoped=COLLECTIVE_SCOPE if collective else SCOPE) as ruleset:
        everything = ruleset.handled_fs
        for path in rules["read"]:
            _allow(ruleset, path, READ)
        for path in rules["write"]:
            _allow(ruleset, path, everything)
        for pattern in rules["devices"]:
            for path in glob.glob(pattern):
                _allow(ruleset, path, DEVICE | (READ if os.path.isdir(path) else AccessFS.NONE))
        ruleset.restrict()  # and no_new_privs: no setuid program gives privileges back


def _allow(ruleset: Ruleset, path: str, access: AccessFS) -> None:
    if not os.path.exists(path):  # a rule needs the file itself; what is missing needs none
        return
    if not os.path.isdir(path):  # directory rights mean nothing on a file, and Landlock refuses them
        access &= ~(AccessFS.READ_DIR | AccessFS.REMOVE_DIR | AccessFS.REMOVE_FILE
                    | AccessFS.MAKE_CHAR | AccessFS.MAKE_DIR | AccessFS.MAKE_REG
                    | AccessFS.MAKE_SOCK | AccessFS.MAKE_FIFO | AccessFS.MAKE_BLOCK
                    | AccessFS.MAKE_SYM | AccessFS.REFER)
    ruleset.allow_path(path, access)


def main(argv: list[str]) -> None:
    rules, separator, command = argv[1], argv[2], argv[3:]
    if separator != "--" or not command:
        raise SystemExit("usage: confine.py RULES -- COMMAND...")
    restrict(json.loads(rules))
    os.execv(command[0], command)


if __name__ == "__main__":
    main(sys.argv)
