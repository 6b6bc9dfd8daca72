"""Publishing a task's live results: each segment as the model yields it.

Appended to the task's Redis Stream (``contract.segments_key``), so a client that comes late
or reconnects reads what it missed, and published on the channel of the same name, so the
web's one subscription pushes it to every stream of the task at once. One script does both,
so the published message carries the entry's id and nothing can come between them.
"""

from __future__ import annotations

import json
import logging
from pathlib import Path

from redis import Redis

from live_progress.contract import segment_root, segments_key
from live_progress.plugins.audio.worker.transcription import Segment

logger = logging.getLogger(__name__)

# KEYS: the stream. ARGV: the segment's JSON, the stream's ttl in seconds, its cap.
_APPEND = """
local id = redis.call('XADD', KEYS[1], 'MAXLEN', '~', ARGV[3], '*', 'root', ARGV[1])
redis.call('EXPIRE', KEYS[1], ARGV[2])
redis.call('PUBLISH', KEYS[1], id .. ' ' .. ARGV[1])
return id
"""


class SegmentLog:
    def __init__(self, redis: Redis, task_id: str, ttl: int, cap: int = 100_000) -> None:
        self.key = segments_key(task_id)
        self.ttl = ttl
        self.cap = cap
        self._append = redis.register_script(_APPEND)

    @staticmethod
    def root(file: Path, segment: Segment) -> str:
        """What is appended for ``segment`` of ``file``: its event's JSON."""
        return json.dumps(
            segment_root(str(file), segment.start, segment.end, segment.text.strip()),
            ensure_ascii=False,
            separators=(",", ":"),  # compact, as every other event's data
        )

    def publish(self, file: Path, segment: Segment) -> None:
        """Append ``segment`` of ``file`` (a ``transcription.OnSegment``)."""
        root = self.root(file, segment)
        try:
            self._append(keys=[self.key], args=[root, self.ttl, self.cap])
        except Exception:
            # Live text is a bonus: the transcript still reaches the result.
            logger.warning("Could not publish a segment of %s", file, exc_info=True)
