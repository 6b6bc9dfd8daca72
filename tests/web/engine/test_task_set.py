"""Event ids of the multi-task stream: each records the client's position in every task."""

from __future__ import annotations

import base64
import uuid

import pytest

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


@pytest.mark.parametrize(
    "raw",
    [None, "", "00112233445566ff", "2.", "2.!!!", "3." + "A" * 38, "2." + base64.urlsafe_b64encode(b"x" * 13).decode()],
)
def test_an_unreadable_id_gives_no_position(raw: str | None) -> None:
    assert decode_positions(raw, [A, B]) == {}


def test_two_tasks_sharing_a_key_get_no_position() -> None:
    twin = str(uuid.UUID(bytes=uuid.UUID(A).bytes[:6] + b"\xff" * 10))
    raw = encode_positions({A: ("00112233445566ff", None)})
    assert decode_positions(raw, [A, twin]) == {}
    assert decode_positions(raw, [A]) == {A: ("00112233445566ff", None)}
