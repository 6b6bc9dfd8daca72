"""``live-progress serve``: the whole service from an installed package (web, worker, and a Redis
when none answers), as ``python -m live_progress.launch`` runs it.

The launcher is imported only once its extras are known to be installed, so the client's
commands never load it and a missing extra is a message that says what to install.
"""

from __future__ import annotations

import re
import sys
from collections.abc import Callable, Iterable
from importlib import metadata

# What the service's processes need beyond the package's own dependencies (pyproject.toml).
SERVICE_EXTRAS = ("web", "worker", "launch")
DISTRIBUTION = "live-progress"
EXIT_USAGE = 2

_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]*")
_EXTRA = re.compile(r"""\bextra\s*==\s*["']([^"']+)["']""")


def serve() -> int:
    missing = missing_extras(_requirements(), _installed)
    if missing:
        print(missing_message(missing), file=sys.stderr)
        return EXIT_USAGE
    from live_progress.launch.service import serve as run_service

    return run_service()


def missing_extras(requirements: Iterable[str], installed: Callable[[str], bool]) -> dict[str, list[str]]:
    """The service's extras with a distribution that is not installed, each with those it lacks.

    ``requirements`` are the package's as its metadata lists them (``rich>=13; extra == "cli"``)."""
    missing: dict[str, list[str]] = {}
    for requirement in requirements:
        extra = _EXTRA.search(requirement)
        name = _NAME.match(requirement)
        if extra and name and extra.group(1) in SERVICE_EXTRAS and not installed(name.group(0)):
            missing.setdefault(extra.group(1), []).append(name.group(0))
    return {extra: missing[extra] for extra in SERVICE_EXTRAS if extra in missing}


def missing_message(missing: dict[str, list[str]]) -> str:
    lacking = "; ".join(f"{extra}: {', '.join(names)}" for extra, names in missing.items())
    return (
        f"live-progress serve runs the web, the worker and a Redis, and needs what is missing here ({lacking}).\n"
        f"Install it with:  pip install '{DISTRIBUTION}[{','.join(missing)}]'"
    )


def _requirements() -> list[str]:
    try:
        return metadata.requires(DISTRIBUTION) or []
    except metadata.PackageNotFoundError:  # run from a source tree that is not installed: nothing to check
        return []


def _installed(name: str) -> bool:
    try:
        metadata.distribution(name)
    except metadata.PackageNotFoundError:
        return False
    return True
