"""What the benchmarks' plots share: a figure of their own, a footnote saying which run drew
it, a PNG written where ``--plot`` says, and a plain message when matplotlib is missing."""

from __future__ import annotations

import time
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING

from bench.report import code_version, machine

if TYPE_CHECKING:
    from matplotlib.figure import Figure

DPI = 100


def figure(width: float, height: float) -> Figure:
    """A figure outside pyplot: no global state to close, no display backend to pick."""
    from matplotlib.figure import Figure  # the bench extra's: imported only when something is drawn

    return Figure(figsize=(width, height), dpi=DPI)


def footnote(command: str) -> str:
    """Which run a plot shows: its command, then the commit under test, when, and on what."""
    return f"{command}\ncommit {code_version()}, {time.strftime('%Y-%m-%d %H:%M %Z')}, {machine()}"


def save(figure: Figure, path: Path, note: str | None = None, bottom: float = 0.0) -> None:
    """Lays ``figure`` out above ``bottom`` (a share of its height kept free, for a legend),
    with ``note`` along its lower edge, and writes it to ``path`` as a PNG."""
    if note:
        figure.text(0.01, 0.01, note, fontsize=7, color="dimgrey", ha="left", va="bottom")
        inches = 0.15 * (note.count("\n") + 1) + 0.1  # a 7-point line is about 0.12 in high
        bottom = max(bottom, inches / figure.get_figheight())
    figure.tight_layout(rect=(0, bottom, 1, 1))
    path.parent.mkdir(parents=True, exist_ok=True)
    figure.savefig(path, dpi=DPI, format="png")


def draw_and_say(draw: Callable[[], object], path: Path, out: Callable[[str], None] = print) -> None:
    """Runs ``draw`` (which writes ``path``) and says so; without matplotlib, says how to get it."""
    try:
        draw()
    except ImportError as exc:
        if (exc.name or "").partition(".")[0] != "matplotlib":
            raise
        out(f"Not drawn ({exc}): pip install -e '.[bench]' (scripts/bench does)")
        return
    out(f"Drawn: {path}")
