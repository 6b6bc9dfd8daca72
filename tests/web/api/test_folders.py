"""Folder suggestions, on real folders under tmp_path: what they offer and what they refuse."""

from __future__ import annotations

import os
import shutil
import tempfile
import warnings
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from live_progress.plugins.audio.shared import is_audio_file
from live_progress.web.api.folders import count_files, suggest_folders
from live_progress.web.errors import InputError

NOBODY = 65534  # Debian's nobody and nogroup: no folder of the test is theirs


@pytest.fixture
def root(tmp_path: Path) -> Path:
    """The allowed root: talks/ (2 audio files, one in a subfolder), music/ (none), .hidden/."""
    allowed = (tmp_path / "allowed").resolve()
    (allowed / "talks" / "day2").mkdir(parents=True)
    (allowed / "talks" / "a.mp3").write_bytes(b"")
    (allowed / "talks" / "day2" / "b.WAV").write_bytes(b"")
    (allowed / "talks" / "notes.txt").write_text("")
    (allowed / "music").mkdir()
    (allowed / ".hidden").mkdir()
    (allowed / "file.mp3").write_bytes(b"")
    return allowed


@pytest.fixture
def outside(tmp_path: Path) -> Path:
    folder = (tmp_path / "outside").resolve()
    (folder / "secret").mkdir(parents=True)
    return folder


def suggest(typed: str, root: Path) -> list[tuple[str, int, bool]]:
    answer = suggest_folders(typed, [root], is_audio_file)
    return [(f["path"], f["files"], f["counted_all"]) for f in answer["folders"]]


def refusal(typed: str, root: Path) -> InputError:
    with pytest.raises(InputError) as caught:
        suggest_folders(typed, [root], is_audio_file)
    return caught.value


def test_nothing_typed_offers_the_roots(root: Path) -> None:
    assert suggest("", root) == [(str(root), 3, True)]


def test_the_beginning_of_a_root_offers_it(root: Path) -> None:
    assert suggest(str(root)[:-3], root) == [(str(root), 3, True)]
    assert suggest(str(root), root) == [(str(root), 3, True)]


def test_a_folder_and_a_slash_lists_its_subfolders_with_audio_counts(root: Path) -> None:
    assert suggest(f"{root}/", root) == [(f"{root}/music", 0, True), (f"{root}/talks", 2, True)]


def test_a_partial_name_lists_the_subfolders_it_begins(root: Path) -> None:
    assert suggest(f"{root}/ta", root) == [(f"{root}/talks", 2, True)]
    assert suggest(f"{root}/talks/d", root) == [(f"{root}/talks/day2", 1, True)]
    assert suggest(f"{root}/.h", root) == [(f"{root}/.hidden", 0, True)]
    assert suggest(f"{root}/zzz", root) == []


def test_paths_are_shown_as_typed_when_they_stay_inside(root: Path) -> None:
    assert suggest(f"{root}/music/../ta", root) == [(f"{root}/music/../talks", 2, True)]


def test_a_symlink_to_a_folder_outside_is_never_offered(root: Path, outside: Path) -> None:
    (root / "escape").symlink_to(outside)
    (root / "inside").symlink_to(root / "talks")
    assert [path for path, *_ in suggest(f"{root}/", root)] == [f"{root}/inside", f"{root}/music", f"{root}/talks"]


@pytest.mark.parametrize(
    ("typed", "status", "says"),
    [
        ("{outside}/", 403, "outside the allowed folders"),
        ("{root}/../", 403, "outside the allowed folders"),
        ("{root}/../outside/se", 403, "outside the allowed folders"),
        ("{root}/escape/", 403, "outside the allowed folders"),
        ("{root}/escape/se", 403, "outside the allowed folders"),
        ("/etc/", 403, "outside the allowed folders"),
        ("{root}/file.mp3/", 422, "not a folder"),
        ("{root}/missing/", 422, "does not exist"),
        ("relative/path", 422, "must be an absolute path"),
        ("{root}/\x00/", 422, "NUL"),
    ],
)
def test_refusals_are_those_of_submit(root: Path, outside: Path, typed: str, status: int, says: str) -> None:
    (root / "escape").symlink_to(outside)
    error = refusal(typed.format(root=root, outside=outside), root)
    assert error.status_code == status
    assert says in str(error)


def as_a_user(check: Callable[[], str]) -> str:
    """``check()`` as an unprivileged user: in a forked child that drops to ``nobody`` when the
    tests run as root (as CI does), since root reads every folder; as the user otherwise."""
    if os.geteuid() != 0:
        return check()
    read_end, write_end = os.pipe()
    with warnings.catch_warnings():
        # The session has threads (Redis, event loops); the child only runs ``check`` and exits.
        warnings.simplefilter("ignore", DeprecationWarning)
        pid = os.fork()
    if pid == 0:  # the child: never back into pytest
        try:
            os.close(read_end)
            os.setgroups([])
            os.setgid(NOBODY)
            os.setuid(NOBODY)
            answer = check()
        except BaseException as exc:
            answer = f"raised {exc!r}"
        os.write(write_end, answer.encode())
        os._exit(0)
    os.close(write_end)
    with os.fdopen(read_end, "rb") as pipe:
        answer = pipe.read().decode()
    os.waitpid(pid, 0)
    return answer


@pytest.fixture
def shared_root() -> Iterator[Path]:
    """An allowed root that ``nobody`` can reach (pytest's tmp_path is root's alone), with
    talks/a.mp3 and music/ in it."""
    top = Path(tempfile.mkdtemp(prefix="live-progress-folders-")).resolve()
    top.chmod(0o755)
    (top / "talks").mkdir()
    (top / "talks" / "a.mp3").write_bytes(b"")
    (top / "music").mkdir()
    try:
        yield top
    finally:
        (top / "music").chmod(0o755)
        shutil.rmtree(top)


def test_an_unreadable_folder_is_422(shared_root: Path) -> None:
    (shared_root / "music").chmod(0)

    def check() -> str:
        # The same user lists the root (so the refusal below is the folder's own), then music/.
        listed = [path for path, *_ in suggest(f"{shared_root}/", shared_root)]
        assert listed == [f"{shared_root}/music", f"{shared_root}/talks"], listed
        error = refusal(f"{shared_root}/music/", shared_root)
        return f"{error.status_code} {error}"

    assert as_a_user(check) == (
        f"422 prefix has value '{shared_root}/music/', whose folder cannot be read: Permission denied"
    )


def test_counts_stop_at_the_budget_and_say_so(tmp_path: Path) -> None:
    for n in range(30):
        (tmp_path / f"{n}.mp3").write_bytes(b"")
    assert count_files(tmp_path, is_audio_file, budget=100) == (30, True)
    count, counted_all = count_files(tmp_path, is_audio_file, budget=10)
    assert (count, counted_all) == (10, False)
