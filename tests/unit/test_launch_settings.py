"""Where the run command's redis-server keeps its data, from explicit environments."""

from __future__ import annotations

from pathlib import Path

import pytest

from launch.settings import redis_data_dir


@pytest.mark.parametrize(
    ("environ", "expected"),
    [
        pytest.param({}, Path.home() / ".local/share/live-progress/redis/port-6379", id="xdg-default"),
        pytest.param({"XDG_DATA_HOME": "/data"}, Path("/data/live-progress/redis/port-6379"), id="xdg-data-home"),
        # The XDG spec: a relative XDG_DATA_HOME is invalid and ignored.
        pytest.param(
            {"XDG_DATA_HOME": "data"}, Path.home() / ".local/share/live-progress/redis/port-6379", id="xdg-relative"
        ),
        pytest.param(
            {"XDG_DATA_HOME": "/data", "REDIS_DATA_DIR": "/srv/redis"}, Path("/srv/redis/port-6379"), id="setting"
        ),
        pytest.param({"REDIS_DATA_DIR": "~/r"}, Path.home() / "r/port-6379", id="setting-in-home"),
    ],
)
def test_redis_data_dir(environ: dict[str, str], expected: Path) -> None:
    assert redis_data_dir(6379, environ) == expected


def test_each_port_has_its_own_redis_data_dir() -> None:
    environ = {"REDIS_DATA_DIR": "/srv/redis"}

    assert redis_data_dir(6379, environ) != redis_data_dir(6380, environ)


def test_a_relative_redis_data_dir_is_refused_naming_the_setting() -> None:
    with pytest.raises(ValueError, match="Setting 'REDIS_DATA_DIR' has value 'redis'. It must be an absolute folder."):
        redis_data_dir(6379, {"REDIS_DATA_DIR": "redis"})
