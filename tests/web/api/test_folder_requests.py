"""GET /audio/transcribe/folders : suggestions under ALLOWED_ROOTS, and JSON refusals."""

from __future__ import annotations

from pathlib import Path

import httpx
import pytest


@pytest.fixture(scope="module")
def escape(audio_root: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A folder inside the root holding a symlink to a folder of audio outside it."""
    outside = tmp_path_factory.mktemp("outside-the-roots")
    (outside / "secret.mp3").write_bytes(b"")
    folder = audio_root / "with-escape"
    folder.mkdir()
    (folder / "out").symlink_to(outside)
    return folder


async def folders(client: httpx.AsyncClient, prefix: str) -> httpx.Response:
    return await client.get("/audio/transcribe/folders", params={"prefix": prefix})


async def test_subfolders_come_with_their_audio_counts(client: httpx.AsyncClient, audio_root: Path) -> None:
    response = await folders(client, f"{audio_root}/b")
    assert response.status_code == 200
    assert response.json() == {
        "folders": [{"path": f"{audio_root}/batch", "files": 3, "counted_all": True}],
        "truncated": False,
    }
    listed = (await folders(client, "")).json()["folders"]
    assert [f["path"] for f in listed] == [str(audio_root)]


@pytest.mark.parametrize(
    ("prefix", "status"),
    [
        ("/etc/", 403),
        ("{root}/../", 403),
        ("{root}/batch/../../", 403),
        ("{escape}/out/", 403),
        ("{root}/batch/weather.mp3/", 422),
        ("{root}/nowhere/", 422),
        ("batch", 422),
    ],
)
async def test_refusals_are_json_naming_the_path(
    client: httpx.AsyncClient, audio_root: Path, escape: Path, prefix: str, status: int
) -> None:
    prefix = prefix.format(root=audio_root, escape=escape)
    response = await folders(client, prefix)
    assert response.status_code == status
    assert response.headers["content-type"] == "application/json"
    assert repr(prefix) in response.json()["error"]


async def test_a_symlink_out_of_the_roots_is_not_offered(client: httpx.AsyncClient, escape: Path) -> None:
    response = await folders(client, f"{escape}/")
    assert response.json()["folders"] == []
