"""Clients nobody here wrote read the service's SSE framing: `curl -N` and the npm
`eventsource` package (the WHATWG EventSource for Node), on a real transcription.

The stream's response is our own (live_progress/web/engine/sse.py), so its framing is checked by what others parse:
each client must get every segment, in order and once, and the same final result.
"""

from __future__ import annotations

import asyncio
import json
import os
import shutil
import subprocess
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.support.clients import read_events, submit

pytestmark = pytest.mark.integration

# Prints each event as one JSON line, then exits on `result` or `error`; its retries on the
# server's end of the stream would meet a 204, which ends an EventSource for good.
_NODE_CLIENT = """
import { EventSource } from 'eventsource';
const source = new EventSource(process.argv[2]);
for (const kind of ['status', 'progress', 'segment', 'result', 'error']) {
  source.addEventListener(kind, (e) => {
    console.log(JSON.stringify({ event: kind, id: e.lastEventId, data: JSON.parse(e.data) }));
    if (kind === 'result' || kind === 'error') { source.close(); }
  });
}
source.onerror = (e) => { if (source.readyState === EventSource.CLOSED) { process.exit(2); } };
"""


@pytest.fixture(scope="module")
def node_client() -> Path:
    """A folder with the npm `eventsource` package installed (cached between runs) and the client."""
    if shutil.which("node") is None or shutil.which("npm") is None:
        pytest.skip("No node/npm (apt-get install nodejs npm)")
    cache = Path(os.environ.get("XDG_CACHE_HOME", Path.home() / ".cache")) / "live-progress" / "npm-eventsource"
    cache.mkdir(parents=True, exist_ok=True)
    if not (cache / "node_modules" / "eventsource").is_dir():
        installed = subprocess.run(
            ["npm", "install", "--silent", "--no-audit", "--no-fund", "--prefix", str(cache), "eventsource@4"],
            capture_output=True,
            text=True,
            timeout=180,
        )
        if installed.returncode != 0:
            pytest.skip(f"npm could not install eventsource: {installed.stderr[-500:]}")
    (cache / "client.mjs").write_text(_NODE_CLIENT)
    return cache / "client.mjs"


def _parse_curl(body: str) -> list[dict[str, Any]]:
    """The events of a raw SSE body, parsed by the spec's rules (comments and retry: skipped)."""
    events = []
    for block in body.replace("\r\n", "\n").split("\n\n"):
        fields: dict[str, list[str]] = {}
        for line in block.split("\n"):
            if not line or line.startswith(":"):
                continue
            name, _, value = line.partition(":")
            fields.setdefault(name, []).append(value.removeprefix(" "))
        if "data" in fields:
            event = fields.get("event", ["message"])[-1]
            events.append(
                {"event": event, "id": fields.get("id", [""])[-1], "data": json.loads("\n".join(fields["data"]))}
            )
    return events


def _segments(events: list[dict[str, Any]]) -> list[tuple[str, float, str]]:
    return [
        (e["data"]["root"]["file"], e["data"]["root"]["start"], e["data"]["root"]["text"])
        for e in events
        if e["event"] == "segment"
    ]


async def test_curl_and_the_npm_eventsource_read_every_event_of_a_real_job(
    service: str, audio_root: Path, node_client: Path
) -> None:
    async with httpx.AsyncClient(base_url=service, timeout=120) as client:
        task = await submit(client, audio_root / "batch")
        url = f"{service}/audio/transcribe/events/{task['task_id']}"
        curl = await asyncio.create_subprocess_exec(
            "curl", "-sN", "--max-time", "120", url, stdout=asyncio.subprocess.PIPE
        )
        node = await asyncio.create_subprocess_exec(
            "node", str(node_client), url, cwd=node_client.parent, stdout=asyncio.subprocess.PIPE
        )
        ours = await read_events(client, url)
        curl_out, _ = await asyncio.wait_for(curl.communicate(), 120)
        node_out, _ = await asyncio.wait_for(node.communicate(), 120)

    by_curl = _parse_curl(curl_out.decode())
    by_node = [json.loads(line) for line in node_out.decode().splitlines() if line.strip()]
    by_us = [{"event": e.event, "id": e.id, "data": e.data} for e in ours]
    assert node.returncode == 0, by_node[-3:]
    assert curl.returncode == 0

    for events in (by_curl, by_node):
        # Everything ours got, each client got: the same segments in the same order, once each,
        # and the same result under the same id.
        assert _segments(events) == _segments(by_us)
        assert events[-1] == by_us[-1]
        assert events[-1]["event"] == "result"
        percents = [e["data"]["root"]["percent"] for e in events if e["event"] == "progress"]
        assert percents == sorted(percents)
        ids = [e["id"] for e in events]
        assert len(ids) == len(set(ids)), "an event came twice"
    assert len(_segments(by_us)) >= 3
