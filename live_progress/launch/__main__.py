"""``python -m live_progress.launch``: the same as ``live-progress serve`` (live_progress/launch/service.py)."""

from __future__ import annotations

import sys

from live_progress.launch.service import serve

if __name__ == "__main__":
    sys.exit(serve())
