"""Where the run command's redis-server keeps its data, from live_progress.settings built directly."""

from __future__ import annotations

from pathlib import Path

import pytest

from live_progress.launch.settings import LaunchSettings
from live_progress.settings import SettingsError


@pytest.mark.parametrize(
    ("values", "expected"),
    [
        pytest.param({}, Path.home() / ".local/share/live-progress/redis/port-6379", id="xdg-default"),
        pytest.param({"xdg_data_home": "/data"}, Path("/data/live-progress/redis/port-6379"), id="xdg-data-home"),
        # The XDG spec: a relative XDG_DATA_HOME is invalid and ignored.
        pytest.param(
            {"xdg_data_home": "data"}, Path.home() / ".local/share/live-progress/redis/port-6379", id="xdg-relative"
        ),
        pytest.param(
            {"xdg_data_home": "/data", "redis_data_dir": "/srv/redis"}, Path("/srv/redis/port-6379"), id="setting"
        ),
        pytest.param({"redis_data_dir": "~/r"}, Path.home() / "r/port-6379", id="setting-in-home"),
    ],
)
def test_redis_data_dir(values: dict[str, str], expected: Path) -> None:
    settings = LaunchSettings(**{"xdg_data_home": None, "redis_data_dir": None, **values})

    assert settings.redis_data_path(6379) == expected


def test_each_port_has_its_own_redis_data_dir() -> None:
    settings = LaunchSettings(redis_data_dir="/srv/redis")

    assert settings.redis_data_path(6379) != settings.redis_data_path(6380)


def test_a_relative_redis_data_dir_is_refused_naming_the_setting() -> None:
    with pytest.raises(SettingsError, match="'REDIS_DATA_DIR' has value 'redis'. It must be an absolute folder."):
        LaunchSettings.load(redis_data_dir="redis")


def test_a_port_that_is_no_port_is_refused() -> None:
    with pytest.raises(SettingsError, match="Setting 'PORT' has value '80a'"):
        LaunchSettings.load(port="80a")
