"""Event ids of the multi-task stream: each records the client's position in every task."""

from __future__ import annotations

import base64
import uuid

import pytest
from hypothesis import given
from hypothesis import strategies as st

from live_progress.web.engine.streaming import split_position
from live_progress.web.engine.task_set import decode_positions, encode_positions

A, B, C = (str(uuid.UUID(int=n << 80 | n)) for n in (1, 2, 3))


@pytest.mark.parametrize(
    "positions",
    [
        pytest.param({A: ("00112233445566ff", None), B: ("8899aabbccddeeff", None)}, id="states"),
        pytest.param({A: ("00112233445566ff", "1764447000123-0"), B: ("8899aabbccddeeff", None)}, id="a-segment"),
        pytest.param({A: (None, "1764447000123-7")}, id="a-segment-before-any-state"),
    ],
)
def test_positions_round_trip_for_the_same_set(positions: dict) -> None:
    assert decode_positions(encode_positions(positions), [A, B]) == positions


def test_the_id_is_the_same_whatever_the_order() -> None:
    one = encode_positions({A: ("00112233445566ff", None), B: ("8899aabbccddeeff", "5-1")})
    two = encode_positions({B: ("8899aabbccddeeff", "5-1"), A: ("00112233445566ff", None)})
    assert one == two
    assert one.startswith("2.") and len(one) == len("2.") + 59  # 44 bytes, base64url, no padding


def test_positions_carry_over_to_another_set() -> None:
    raw = encode_positions({A: ("00112233445566ff", None), B: ("8899aabbccddeeff", "12-0")})
    assert decode_positions(raw, [B, C]) == {B: ("8899aabbccddeeff", "12-0")}


def test_ids_from_before_segments_are_still_read() -> None:
    # "1.": 6 bytes of the task, 8 of its state, nothing for segments.
    raw = "1." + base64.urlsafe_b64encode(uuid.UUID(A).bytes[:6] + bytes.fromhex("00112233445566ff")).decode()
    assert decode_positions(raw.rstrip("="), [A]) == {A: ("00112233445566ff", None)}


@pytest.mark.parametrize("raw", [None, "", "2.", "1."])
def test_no_id_or_one_of_no_task_gives_no_position(raw: str | None) -> None:
    assert decode_positions(raw, [A, B]) == {}


@pytest.mark.parametrize(
    "raw",
    [
        pytest.param("00112233445566ff", id="a-single-task-id"),
        pytest.param("00112233445566ff/1-0", id="a-single-task-id-with-a-segment"),
        pytest.param("2.!!!", id="not-base64url"),
        pytest.param("2.AAAA AAAA", id="a-space"),
        pytest.param("3." + "A" * 38, id="an-unknown-version"),
        pytest.param("2." + base64.urlsafe_b64encode(b"x" * 13).decode(), id="padded-and-not-whole-entries"),
        pytest.param("2." + base64.urlsafe_b64encode(b"x" * 21).decode(), id="not-whole-entries"),
        pytest.param("2.A", id="not-even-a-byte"),
        pytest.param("2.é" + "A" * 28, id="not-ascii"),
    ],
)
def test_an_id_this_service_never_sent_is_refused(raw: str) -> None:
    with pytest.raises(ValueError, match="base64url"):
        decode_positions(raw, [A, B])


def test_two_tasks_sharing_a_key_get_no_position() -> None:
    twin = str(uuid.UUID(bytes=uuid.UUID(A).bytes[:6] + b"\xff" * 10))
    raw = encode_positions({A: ("00112233445566ff", None)})
    assert decode_positions(raw, [A, twin]) == {}
    assert decode_positions(raw, [A]) == {A: ("00112233445566ff", None)}


states = st.none() | st.binary(min_size=8, max_size=8).filter(any).map(bytes.hex)
# What the id has room for: 6 bytes of ms and 2 of seq.
segments = st.none() | st.builds(lambda ms, seq: f"{ms}-{seq}", st.integers(0, 2**48 - 1), st.integers(0, 0xFFFF))
positions = st.dictionaries(
    st.uuids(version=4).map(str),
    st.tuples(states, segments).filter(lambda position: position != (None, None)),
    max_size=6,
)


@given(positions=positions)
def test_every_id_reads_back_as_the_positions_it_records(positions: dict) -> None:
    keys = {uuid.UUID(task_id).bytes[:6] for task_id in positions}
    if len(keys) < len(positions):
        return  # two tasks sharing a key get no position (above)
    assert decode_positions(encode_positions(positions), list(positions)) == positions


@given(
    raw=st.text(max_size=80) | st.from_regex(r"[12]\.[A-Za-z0-9_=!-]{0,40}", fullmatch=True),
    tasks=st.lists(st.uuids(version=4).map(str), min_size=1, max_size=3),
)
def test_whatever_is_sent_is_refused_or_read_as_positions_of_the_tasks_asked_for(raw: str, tasks: list[str]) -> None:
    try:
        decoded = decode_positions(raw, tasks)
    except ValueError:
        return
    assert set(decoded) <= set(tasks)
    for state, segment in decoded.values():
        # What a single-task id would carry: a state's 16 hex digits, a segment Redis reads.
        assert split_position(f"{state or ''}/{segment}" if segment else state) == (state, segment)
