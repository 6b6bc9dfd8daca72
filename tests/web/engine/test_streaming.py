"""A single-task stream's event ids, as a client sends one back in Last-Event-ID: every id the
stream sends reads back as the position it records, and anything else is refused before it
can reach Redis or a stream's ``id:`` line."""

from __future__ import annotations

import re

import pytest
from hypothesis import given
from hypothesis import strategies as st

from live_progress.web.engine.events import PENDING_EVENT, segment_event
from live_progress.web.engine.hub import Inbox
from live_progress.web.engine.streaming import Cursor, entry_order, parse_entry_id, split_position

STATE = "0123456789abcdef"
MAX = 2**64 - 1  # the largest half of an entry id Redis reads

states = st.text("0123456789abcdef", min_size=16, max_size=16)
entry_parts = st.integers(0, MAX)
entry_ids = st.builds(lambda ms, seq: f"{ms}-{seq}", entry_parts, entry_parts)
# What Redis reads as an entry id, and the stream's own ids, are nothing but these.
REDIS_ENTRY_ID = re.compile(r"(0|[1-9][0-9]*)-(0|[1-9][0-9]*)")


@pytest.mark.parametrize(
    ("event_id", "position"),
    [
        (None, (None, None)),
        ("", (None, None)),
        (STATE, (STATE, None)),
        (f"{STATE}/1764447000123-0", (STATE, "1764447000123-0")),
        ("/1764447000123-7", (None, "1764447000123-7")),  # segments came before any state
        (f"{STATE}/{MAX}-{MAX}", (STATE, f"{MAX}-{MAX}")),
        (f"{STATE}/007-01", (STATE, "7-1")),  # read as Redis reads it, sent back without the zeros
    ],
)
def test_ids_the_stream_sends_are_read(event_id: str | None, position: tuple[str | None, str | None]) -> None:
    assert split_position(event_id) == position


@pytest.mark.parametrize(
    "event_id",
    [
        "abc/notanid",  # the one that reached XRANGE and came back a 503
        "notanid",
        "/notanid",
        "/",
        f"{STATE}/",
        STATE.upper(),
        STATE[:-1],
        STATE + "0",
        f"{STATE}/1-2-3",
        f"{STATE}/1",  # Redis would read it as 1-0; the stream never sends it
        f"{STATE}/{MAX + 1}-0",
        f"/0-{MAX + 1}",
        f"{STATE}/+1-0",
        f"{STATE}/1_0-0",
        f"{STATE}/ 1-0",
        f"{STATE}/١-٠",  # digits to Python's int(), not to Redis
        f"{STATE}/1-0/2-0",
        f"{STATE}\n",
        "2.AAAAAAAAAAAAAAAAAAAAAAAAAAAAA",  # a many-task stream's id
    ],
)
def test_anything_else_is_refused(event_id: str) -> None:
    with pytest.raises(ValueError, match="16 lowercase hex digits"):
        split_position(event_id)


@given(state=st.none() | states, segment=st.none() | entry_ids)
def test_every_position_reads_back(state: str | None, segment: str | None) -> None:
    if state is None and segment is None:
        return
    event_id = f"{state or ''}/{segment}" if segment else state
    assert split_position(event_id) == (state, segment)


@given(text=st.text(max_size=60) | st.from_regex(r"[0-9a-f]{0,17}(/[0-9+_-]{0,25})?", fullmatch=True))
def test_whatever_is_sent_is_refused_or_read_as_a_position_redis_takes(text: str) -> None:
    try:
        state, segment = split_position(text)
    except ValueError:
        return
    assert state is None or re.fullmatch("[0-9a-f]{16}", state)
    if segment is not None:
        assert REDIS_ENTRY_ID.fullmatch(segment), segment
        ms, seq = map(int, segment.split("-"))
        assert ms <= MAX and seq <= MAX
    # And sent back as read: the id the stream's next frame carries holds nothing else.
    echoed = f"{state or ''}/{segment}" if segment else state or ""
    assert split_position(echoed) == (state, segment)


@given(value=st.text(max_size=50))
def test_an_entry_id_is_read_only_in_the_form_redis_reads(value: str) -> None:
    try:
        canonical = parse_entry_id(value)
    except ValueError:
        return
    assert REDIS_ENTRY_ID.fullmatch(canonical)
    assert tuple(map(int, canonical.split("-"))) == tuple(map(int, value.split("-")))


@given(
    client_has=st.none() | states,
    client_segment=st.none() | entry_ids,
    backlog=st.lists(entry_ids, max_size=4, unique=True).map(lambda ids: sorted(ids, key=entry_order)),
)
def test_the_id_of_every_frame_reads_back_as_the_cursor_position(
    client_has: str | None, client_segment: str | None, backlog: list[str]
) -> None:
    segments = [segment_event(entry_id.encode() + b' {"text":"x"}') for entry_id in backlog]
    cursor = Cursor(Inbox(4), PENDING_EVENT, client_has, client_segment, segments)
    for event in cursor.first():
        frame = cursor.frame(event)
        sent = re.match(rb"id: ([^\n]*)\n", frame)
        if sent is not None:
            assert split_position(sent[1].decode()) == (cursor.last_id, cursor.segment_id)
