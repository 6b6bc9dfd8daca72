"""A body its model refuses: each bad value named with what is allowed, in ``error`` and ``fields``."""

from __future__ import annotations

import enum
from typing import Any, Literal

import pytest
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from live_progress.web.api.invalid import field_path, invalid_body


class Colour(enum.Enum):
    RED = "red"
    BLUE = "blue"


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


class Options(_Strict):
    formats: list[Literal["txt", "srt", "json"]] = ["txt"]
    colour: Colour = Colour.RED
    folds: int = Field(default=5, ge=2, le=10)
    name: str = Field(default="x", max_length=5)
    fast: bool = False


class Request(_Strict):
    target: str
    options: Options = Options()


@pytest.mark.parametrize(
    ("body", "field", "message", "value", "allowed"),
    [
        pytest.param(
            {"target": "t", "options": {"formats": ["txt", "docx"]}},
            "options.formats[1]",
            "'docx' is not one of txt, srt, json",
            "docx",
            ["txt", "srt", "json"],
            id="literal",
        ),
        pytest.param(
            {"target": "t", "options": {"colour": "green"}},
            "options.colour",
            "'green' is not one of red, blue",
            "green",
            ["red", "blue"],
            id="enum",
        ),
        pytest.param(
            {"target": "t", "options": {"fast": "maybe"}},
            "options.fast",
            "'maybe' is not a valid boolean, unable to interpret input",
            "maybe",
            None,
            id="wrong-type",
        ),
        pytest.param(
            {"target": 7},
            "target",
            "7 is not a valid string",
            7,
            None,
            id="wrong-type-number",
        ),
        pytest.param(
            {"target": "t", "options": {"folds": 11}},
            "options.folds",
            "11 is not less than or equal to 10",
            11,
            None,
            id="above-range",
        ),
        pytest.param(
            {"target": "t", "options": {"folds": 1}},
            "options.folds",
            "1 is not greater than or equal to 2",
            1,
            None,
            id="below-range",
        ),
        pytest.param(
            {"target": "t", "options": {"name": "abcdefgh"}},
            "options.name",
            "'abcdefgh' should have at most 5 characters",
            "abcdefgh",
            None,
            id="too-long",
        ),
        pytest.param({}, "target", "missing; this field is required", None, None, id="missing"),
        pytest.param(
            {"target": "t", "options": {"speed": "fast"}},
            "options.speed",
            "no such field (sent 'fast'); allowed: formats, colour, folds, name, fast",
            "fast",
            ["formats", "colour", "folds", "name", "fast"],
            id="extra",
        ),
        pytest.param(
            {"target": "t", "colour": ["red"]},
            "colour",
            "no such field (sent ['red']); allowed: target, options",
            None,
            ["target", "options"],
            id="extra-top-level-list",
        ),
        pytest.param(
            ["t"],
            "body",
            "['t'] is not a valid dictionary or instance of Request",
            None,
            None,
            id="not-an-object",
        ),
    ],
)
def test_a_bad_value_is_named_with_what_is_allowed(
    body: Any, field: str, message: str, value: Any, allowed: list[Any] | None
) -> None:
    with pytest.raises(ValidationError) as raised:
        Request.model_validate(body)

    error = invalid_body(raised.value, Request)

    assert error.status_code == 422
    assert str(error) == f"{field}: {message}"
    expected: dict[str, Any] = {"field": field, "message": message}
    if value is not None:
        expected["value"] = value
    if allowed is not None:
        expected["allowed"] = allowed
    assert error.fields == [expected]


def test_every_bad_value_is_named() -> None:
    with pytest.raises(ValidationError) as raised:
        Request.model_validate({"options": {"folds": "three", "formats": ["pdf"]}})

    error = invalid_body(raised.value, Request)

    assert str(error) == (
        "target: missing; this field is required; "
        "options.formats[0]: 'pdf' is not one of txt, srt, json; "
        "options.folds: 'three' is not a valid integer, unable to parse string as an integer"
    )
    assert [field["field"] for field in error.fields] == ["target", "options.formats[0]", "options.folds"]


def test_a_long_value_is_cut_short_in_the_message() -> None:
    with pytest.raises(ValidationError) as raised:
        Request.model_validate({"target": "t", "options": {"colour": "g" * 500}})

    message = invalid_body(raised.value, Request).fields[0]["message"]

    assert len(message) < 120 and message.endswith("… is not one of red, blue")


@pytest.mark.parametrize(
    ("loc", "path"),
    [
        (("parameters", "formats", 0), "parameters.formats[0]"),
        (("inputs",), "inputs"),
        ((), "body"),
        ((2, "a"), "[2].a"),
    ],
)
def test_a_field_path_reads_as_in_the_body(loc: tuple[int | str, ...], path: str) -> None:
    assert field_path(loc) == path
