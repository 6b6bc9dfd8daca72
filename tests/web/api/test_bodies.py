"""Request bodies past MAX_BODY_BYTES on a real uvicorn, over a socket: declared too large, and
sent chunked (no Content-Length), which only reading it can find too large."""

from __future__ import annotations

import asyncio
import json
import re
from urllib.parse import urlsplit

import pytest

pytestmark = pytest.mark.integration

LIMIT = 65_536  # MAX_BODY_BYTES' default: the session's web runs with it
ENOUGH = 64 * 1024 * 1024  # what the client would send at most: a thousand times the limit


async def post_chunked(base_url: str, path: str, chunk: bytes) -> tuple[bytes, bytes, int]:
    """POSTs a JSON body in chunks, chunk after chunk, until the server answers (or ENOUGH was
    sent, then ends the body); the answer's head and body, and how many bytes of body were
    sent before it."""
    url = urlsplit(base_url)
    reader, writer = await asyncio.open_connection(url.hostname, url.port)
    head = (
        f"POST {path} HTTP/1.1\r\nHost: {url.netloc}\r\nContent-Type: application/json\r\n"
        "Transfer-Encoding: chunked\r\n\r\n"
    )
    writer.write(head.encode())
    answered = asyncio.create_task(reader.readuntil(b"\r\n\r\n"))
    sent = 0
    try:
        # A JSON object with a path a thousand times the limit, whose end may never be sent.
        for piece in [b'{"inputs": {"input_dir": {"path": "/', *[chunk] * (ENOUGH // len(chunk))]:
            if answered.done():
                break
            writer.write(b"%x\r\n%s\r\n" % (len(piece), piece))
            await writer.drain()
            # drain() returns at once while the socket takes the data (a server that reads as
            # fast as it is sent never fills it): a turn of the loop lets the answer in.
            await asyncio.sleep(0)
            sent += len(piece)
        else:
            writer.write(b'4\r\n"}}}\r\n0\r\n\r\n')
            await writer.drain()
    except ConnectionError:
        pass  # the server answered and closed while the body was still coming: as it should
    try:
        answer_head = await asyncio.wait_for(answered, 60)
        length = re.search(rb"\r\ncontent-length: (\d+)\r\n", answer_head, re.IGNORECASE)
        assert length, answer_head
        return answer_head, await asyncio.wait_for(reader.readexactly(int(length[1])), 60), sent
    finally:
        writer.close()


async def test_a_chunked_body_past_the_limit_is_refused_before_it_ends(web: str) -> None:
    head, body, sent = await post_chunked(web, "/audio/transcribe", b"a" * 8192)

    assert head.startswith(b"HTTP/1.1 413 "), (head, body[:300])
    assert json.loads(body)["error"] == f"The request body is larger than the limit of {LIMIT} bytes"
    # Refused as soon as the limit was passed, not once the whole body was read.
    assert sent < ENOUGH, f"the server read all {sent} bytes before answering"
