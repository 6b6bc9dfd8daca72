"""Checking the folders clients name, on real folders under tmp_path."""

from __future__ import annotations

from pathlib import Path

import pytest

from live_progress.plugin import resolve_folder
from live_progress.plugins.audio.endpoints import require_audio
from live_progress.web.errors import InputError

FIELD = "inputs.input_dir.path"


@pytest.fixture
def root(tmp_path: Path) -> Path:
    """The one allowed root, holding a folder of audio."""
    allowed = (tmp_path / "allowed").resolve()
    (allowed / "talks").mkdir(parents=True)
    (allowed / "talks" / "a.mp3").write_bytes(b"")
    return allowed


@pytest.fixture
def outside(tmp_path: Path) -> Path:
    """A folder of audio beside the allowed root, not inside it."""
    folder = (tmp_path / "outside").resolve()
    folder.mkdir()
    (folder / "secret.mp3").write_bytes(b"")
    return folder


def _rejected(raw: str, root: Path) -> InputError:
    with pytest.raises(InputError) as caught:
        resolve_folder(raw, [root], FIELD)
    return caught.value


def test_folder_inside_the_root_is_accepted(root: Path) -> None:
    assert resolve_folder(str(root / "talks"), [root], FIELD) == root / "talks"


def test_the_root_itself_is_accepted(root: Path) -> None:
    assert resolve_folder(str(root), [root], FIELD) == root


def test_any_of_several_roots_is_accepted(root: Path, outside: Path) -> None:
    assert resolve_folder(str(outside), [root, outside], FIELD) == outside


def test_dotdot_that_stays_inside_is_resolved(root: Path) -> None:
    assert resolve_folder(f"{root}/talks/../talks", [root], FIELD) == root / "talks"


def test_symlink_inside_pointing_inside_is_accepted_as_its_target(root: Path) -> None:
    (root / "link").symlink_to(root / "talks", target_is_directory=True)

    assert resolve_folder(str(root / "link"), [root], FIELD) == root / "talks"


@pytest.mark.parametrize(
    ("raw", "says"),
    [
        pytest.param("", "is empty", id="empty"),
        pytest.param("   ", "is empty", id="blank"),
        pytest.param("/data/a\x00b", "contains a NUL byte", id="nul-byte"),
    ],
)
def test_empty_or_nul_path_is_422_naming_the_field(root: Path, raw: str, says: str) -> None:
    error = _rejected(raw, root)

    assert error.status_code == 422
    assert str(error).startswith(f"{FIELD} {says}")


@pytest.mark.parametrize("raw", ["talks", "./talks", "~/talks"], ids=["plain", "dot-slash", "tilde"])
def test_relative_path_is_422_naming_field_and_value(root: Path, raw: str) -> None:
    error = _rejected(raw, root)

    assert error.status_code == 422
    assert f"{FIELD} has value {raw!r}" in str(error)
    assert "absolute" in str(error)


def test_dotdot_escape_is_403(root: Path, outside: Path) -> None:
    raw = f"{root}/../outside"

    error = _rejected(raw, root)

    assert error.status_code == 403
    assert f"{FIELD} has value {raw!r}" in str(error)
    assert "outside the allowed folders" in str(error)


def test_folder_outside_every_root_is_403(root: Path, outside: Path) -> None:
    error = _rejected(str(outside), root)

    assert error.status_code == 403
    assert f"{FIELD} has value {str(outside)!r}" in str(error)


def test_sibling_sharing_the_roots_name_as_prefix_is_403(root: Path) -> None:
    sibling = root.with_name(root.name + "-not")
    sibling.mkdir()

    error = _rejected(str(sibling), root)

    assert error.status_code == 403


def test_symlink_inside_pointing_outside_is_403(root: Path, outside: Path) -> None:
    link = root / "escape"
    link.symlink_to(outside, target_is_directory=True)

    error = _rejected(str(link), root)

    assert error.status_code == 403
    assert f"{FIELD} has value {str(link)!r}" in str(error)


def test_path_through_a_symlinked_parent_pointing_outside_is_403(root: Path, outside: Path) -> None:
    (outside / "deeper").mkdir()
    (root / "escape").symlink_to(outside, target_is_directory=True)
    raw = f"{root}/escape/deeper"

    assert _rejected(raw, root).status_code == 403


def test_symlink_loop_is_422_not_a_crash(root: Path) -> None:
    (root / "loop").symlink_to(root / "loop")
    raw = str(root / "loop")

    error = _rejected(raw, root)

    assert error.status_code == 422
    assert f"{FIELD} has value {raw!r}" in str(error)


def test_missing_folder_is_422(root: Path) -> None:
    raw = str(root / "no-such-folder")

    error = _rejected(raw, root)

    assert error.status_code == 422
    assert f"{FIELD} has value {raw!r}, which does not exist" in str(error)


def test_file_instead_of_a_folder_is_422(root: Path) -> None:
    raw = str(root / "talks" / "a.mp3")

    error = _rejected(raw, root)

    assert error.status_code == 422
    assert f"{FIELD} has value {raw!r}, which is not a folder" in str(error)


def test_folder_with_audio_passes(root: Path) -> None:
    require_audio(root / "talks", FIELD)


@pytest.mark.parametrize(
    "name",
    ["deep/er/talk.mp3", "LOUD.WAV", "b.m4a"],
    ids=["nested-subfolder", "upper-case", "m4a"],
)
def test_audio_anywhere_below_the_folder_passes(tmp_path: Path, name: str) -> None:
    (tmp_path / "notes.txt").write_text("not audio")
    (tmp_path / name).parent.mkdir(parents=True, exist_ok=True)
    (tmp_path / name).write_bytes(b"")

    require_audio(tmp_path, FIELD)


@pytest.mark.parametrize(
    "names",
    [[], ["notes.txt"], ["notes.txt", "sub/readme.md"], [".mp3", "mp3", "talk.mp3.txt"]],
    ids=["empty", "only-text", "text-in-subfolder", "audio-lookalikes"],
)
def test_folder_without_audio_is_422_naming_field_and_folder(tmp_path: Path, names: list[str]) -> None:
    for name in names:
        (tmp_path / name).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / name).write_text("not audio")

    with pytest.raises(InputError) as caught:
        require_audio(tmp_path, FIELD)

    assert caught.value.status_code == 422
    assert f"{FIELD} {str(tmp_path)!r} has no audio file in it" in str(caught.value)
