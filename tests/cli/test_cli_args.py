"""The terminal client's command line: its options, their defaults, and the command to follow again."""

from __future__ import annotations

from pathlib import Path

import pytest

from live_progress.cli.main import DEFAULT_URL, build_parser, watch_command

TASK_ID = "0b5c5d3e-7a52-4a43-9d0e-3f5e4c1b2a10"


def test_transcribe_defaults() -> None:
    args = build_parser({}).parse_args(["transcribe", "~/audio"])
    assert args.command == "transcribe"
    assert args.folder == Path("~/audio")
    assert (args.url, args.token, args.poll, args.interval, args.output) == (DEFAULT_URL, None, False, 1.0, None)
    assert not args.cancel_on_interrupt


def test_watch_with_every_option() -> None:
    args = build_parser({}).parse_args(
        ["watch", TASK_ID, "--url", "http://h:1", "--poll", "--interval", "0.5", "-o", "out", "--cancel-on-interrupt"]
    )
    assert (args.task_ids, args.url, args.poll, args.interval) == ([TASK_ID], "http://h:1", True, 0.5)
    assert args.output == Path("out") and args.cancel_on_interrupt


def test_url_and_token_come_from_the_environment() -> None:
    environ = {"LIVE_PROGRESS_URL": "http://elsewhere:9000", "LIVE_PROGRESS_TOKEN": "s3cret"}
    args = build_parser(environ).parse_args(["watch", TASK_ID])
    assert (args.url, args.token) == ("http://elsewhere:9000", "s3cret")


def test_submit_takes_an_endpoint_with_inputs_and_parameters() -> None:
    args = build_parser({}).parse_args(
        ["submit", "tabular/train", "-i", "csv_file=a.csv", "--input", "target=y", "-p", "folds=3", "--json"]
    )
    assert (args.command, args.endpoint) == ("submit", "tabular/train")
    assert (args.input, args.param, args.json) == (["csv_file=a.csv", "target=y"], ["folds=3"], True)


def test_transcribe_takes_parameters_and_watch_an_endpoint() -> None:
    assert build_parser({}).parse_args(["transcribe", "/a", "--param", "mode=fast"]).param == ["mode=fast"]
    args = build_parser({}).parse_args(["watch", TASK_ID, "--endpoint", "audio/inspect"])
    assert args.endpoint == "audio/inspect"
    assert build_parser({}).parse_args(["watch", TASK_ID]).endpoint is None


@pytest.mark.parametrize(
    "argv",
    [
        [],
        ["transcribe"],
        ["watch"],
        ["submit"],
        ["transcribe", "x", "--interval", "0"],
        ["watch", "x", "-p", "a=b"],
        ["nope"],
    ],
)
def test_bad_command_lines_exit_2(argv: list[str], capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exited:
        build_parser({}).parse_args(argv)
    assert exited.value.code == 2
    assert "usage: live-progress" in capsys.readouterr().err


@pytest.mark.parametrize(
    ("argv", "command"),
    [
        (["transcribe", "/a"], f"live-progress watch {TASK_ID}"),
        (["transcribe", "/a", "--url", "http://h", "--poll"], f"live-progress watch {TASK_ID} --url http://h --poll"),
        (["watch", TASK_ID, "-o", "my dir"], f"live-progress watch {TASK_ID} --output 'my dir'"),
        (["submit", "a/b", "-i", "x=1", "--json"], f"live-progress watch {TASK_ID} --json"),
    ],
)
def test_the_command_to_follow_again_keeps_what_matters(argv: list[str], command: str) -> None:
    assert watch_command(build_parser({}).parse_args(argv), TASK_ID) == command
