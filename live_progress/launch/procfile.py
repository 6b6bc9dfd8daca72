"""The Procfile's command lines, for tests and benchmarks to run what production runs.

honcho runs each line with a shell; here the line is expanded the way that shell would for
the ``$NAME`` and ``${NAME:-default}`` it uses, and its program is run as ``python -m`` of
this interpreter, the environment honcho puts first on PATH (see live_progress/launch/service.py).
"""

from __future__ import annotations

import re
import shlex
import sys
from collections.abc import Mapping
from pathlib import Path

# Package data, so that an installed wheel runs what a checkout does (the repo's Procfile links here).
PROCFILE = Path(__file__).resolve().parent / "Procfile"
_VARIABLE = re.compile(r"\$\{([A-Za-z_][A-Za-z0-9_]*)(?::-([^}]*))?\}|\$([A-Za-z_][A-Za-z0-9_]*)")


def procfile_lines(path: Path = PROCFILE) -> dict[str, str]:
    """Each process type with its command line."""
    lines = {}
    for line in path.read_text().splitlines():
        name, colon, command = line.partition(":")
        if colon and not line.lstrip().startswith("#") and name.strip():
            lines[name.strip()] = command.strip()
    return lines


def expand(command: str, env: Mapping[str, str]) -> str:
    """``$NAME`` and ``${NAME:-default}`` as a POSIX shell expands them (an empty value takes the default)."""

    def value(match: re.Match[str]) -> str:
        name = match.group(1) or match.group(3)
        default = match.group(2) if match.group(1) else None
        return env.get(name) or (default or "")

    return _VARIABLE.sub(value, command)


def procfile_command(process: str, env: Mapping[str, str], path: Path = PROCFILE) -> list[str]:
    """The Procfile's line for ``process`` as arguments, its program run by this Python."""
    program, *args = shlex.split(expand(procfile_lines(path)[process], env))
    return [sys.executable, "-m", program, *args]
