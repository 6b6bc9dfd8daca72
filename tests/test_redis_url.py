"""Redis Sentinel named the kombu way: what web, worker and launcher read from REDIS_URL."""

from __future__ import annotations

import pytest
from celery import Celery
from celery.backends.redis import SentinelBackend
from kombu.utils.url import maybe_sanitize_url

from live_progress.contract import celery_config
from live_progress.redis_url import SentinelURL, is_sentinel, safe_url
from live_progress.settings import SettingsError
from live_progress.web.settings import Settings
from live_progress.worker.settings import WorkerSettings


def test_the_contracts_example_names_two_sentinels_and_database_0() -> None:
    where = SentinelURL.parse("sentinel://h1:26379;sentinel://h2:26379/0")

    assert where == SentinelURL((("h1", 26379), ("h2", 26379)), 0, None, None)


def test_database_and_password_written_once_hold_for_every_sentinel() -> None:
    where = SentinelURL.parse("sentinel://:s%40cret@h1:26379;sentinel://h2:26380/3")

    assert (where.db, where.username, where.password) == (3, None, "s@cret")
    # Celery's backend reads them from the first URL, kombu from the one it is connected through.
    assert where.url == "sentinel://:s%40cret@h1:26379/3;sentinel://:s%40cret@h2:26380/3"
    assert SentinelURL.parse(where.url) == where


def test_an_ipv6_sentinel_keeps_its_brackets() -> None:
    where = SentinelURL.parse("sentinel://[::1]:26379")

    assert where.sentinels == (("::1", 26379),)
    assert where.url == "sentinel://[::1]:26379/0"


@pytest.mark.parametrize(
    ("url", "why"),
    [
        ("sentinel://h1", "names no host and port"),
        ("sentinel://h1:port", "names no host and port"),
        ("sentinel://h1:26379;redis://h2:6379", "is not a sentinel:// URL"),
        ("sentinel://h1:26379/x", "not a database number"),
        ("sentinel://h1:26379/1;sentinel://h2:26379/2", "different databases"),
        ("sentinel://:a@h1:26379;sentinel://:b@h2:26379", "different credentials"),
        ("sentinel://h1:26379/0?ssl=true", "has options"),
        ("sentinel://;", "names no host and port"),
    ],
)
def test_a_bad_sentinel_url_says_why(url: str, why: str) -> None:
    with pytest.raises(ValueError, match=why):
        SentinelURL.parse(url)


def test_only_sentinel_urls_are_sentinel() -> None:
    assert is_sentinel("sentinel://h:26379")
    assert not is_sentinel("redis://h:6379/0")


@pytest.mark.parametrize("cls", [Settings, WorkerSettings])
def test_a_sentinel_redis_url_needs_the_masters_name(cls: type[Settings] | type[WorkerSettings]) -> None:
    with pytest.raises(SettingsError, match="'REDIS_SENTINEL_MASTER' has value None. A sentinel:// URL is set"):
        cls.load(redis_url="sentinel://h1:26379/0", redis_sentinel_master=None)
    with pytest.raises(SettingsError, match="'REDIS_URL' has value 'sentinel://h1'"):
        cls.load(redis_url="sentinel://h1", redis_sentinel_master="mymaster")


def test_a_bad_redis_url_is_named_without_its_password() -> None:
    with pytest.raises(SettingsError) as raised:
        Settings.load(redis_url="sentinel://:secret@h1:26379;sentinel://:secret@h2", redis_sentinel_master="m")

    assert "secret" not in str(raised.value)
    assert "'REDIS_URL' has value 'sentinel://:**@h1:26379;sentinel://:**@h2'" in str(raised.value)


def test_broker_and_backend_get_every_sentinel_with_the_database() -> None:
    settings = WorkerSettings(
        redis_url="sentinel://h1:26379;sentinel://h2:26379/2",
        redis_sentinel_master="mymaster",
        celery_broker_url=None,
        celery_result_backend=None,
    )

    assert settings.broker_url == settings.result_backend == "sentinel://h1:26379/2;sentinel://h2:26379/2"


def test_the_web_reads_task_states_from_a_sentinel_backend() -> None:
    settings = Settings(
        redis_url="redis://r/0", celery_result_backend="sentinel://h1:26379/4", redis_sentinel_master="mymaster"
    )

    assert settings.result_backend == "sentinel://h1:26379/4"


def test_celery_is_told_the_masters_name_for_each_sentinel_url() -> None:
    both = celery_config("sentinel://h1:26379/0", "sentinel://h1:26379/0", 60, "mymaster")
    only_backend = celery_config("redis://b/0", "sentinel://h1:26379/0", 60, "mymaster")
    plain = celery_config("redis://b/0", "redis://b/0", 60)

    assert both["broker_transport_options"]["master_name"] == "mymaster"
    assert both["result_backend_transport_options"]["master_name"] == "mymaster"
    assert "master_name" not in only_backend["broker_transport_options"]
    assert only_backend["result_backend_transport_options"]["master_name"] == "mymaster"
    assert "master_name" not in plain["broker_transport_options"]
    assert "result_backend_transport_options" not in plain
    # Celery retries every read and write of a state across a failover (its default retries only the SET).
    assert both["result_backend_always_retry"] is True
    assert "result_backend_always_retry" not in plain


def test_celerys_own_sentinel_backend_and_transport_take_the_settings() -> None:
    """Celery parses the URL itself: every sentinel, and the database written on the last URL."""
    settings = WorkerSettings(
        redis_url="sentinel://h1:26379;sentinel://h2:26380/2",
        redis_sentinel_master="mymaster",
        celery_broker_url=None,
        celery_result_backend=None,
    )
    celery = Celery("check")
    celery.conf.update(celery_config(settings.broker_url, settings.result_backend, 60, settings.redis_sentinel_master))

    backend = celery.backend
    assert isinstance(backend, SentinelBackend)
    assert [(host["host"], host["port"]) for host in backend.connparams["hosts"]] == [("h1", 26379), ("h2", 26380)]
    assert backend.connparams["db"] == 2
    with celery.connection_for_write() as connection:
        assert connection.transport_cls == "sentinel"
        assert connection.transport_options["master_name"] == "mymaster"
        assert [url.rsplit("/", 1)[1] for url in connection.alt] == ["2", "2"]


@pytest.mark.parametrize(
    "url",
    [
        "redis://:secret@localhost:6379/0",
        "redis://user:secret@redis.example:6380/2",
        "rediss://:p%40ss%2Fw@redis.example:6380/0",
        "redis://:a:b@c@h:1/0",
        "redis://127.0.0.1:6379/0",
        "redis://user@h/0",
        "sentinel://:secret@h1:26379/0",
        "unix://:secret@/tmp/redis.sock",
    ],
)
def test_safe_url_masks_a_password_as_celery_does(url: str) -> None:
    assert safe_url(url) == maybe_sanitize_url(url)


@pytest.mark.parametrize(
    ("url", "shown"),
    [
        (
            "sentinel://:secret@h1:26379/0;sentinel://:secret@h2:26379/0",
            "sentinel://:**@h1:26379/0;sentinel://:**@h2:26379/0",
        ),
        ("rediss://:secret@h:6380/0?ssl_cert_reqs=none", "rediss://:**@h:6380/0?ssl_cert_reqs=none"),
        ("Redis at redis://:secret@h:6379/0 does not answer", "Redis at redis://:**@h:6379/0 does not answer"),
        ("redis://:secret@[::1]:6379/0", "redis://:**@[::1]:6379/0"),
        ("not a URL: secret", "not a URL: secret"),
    ],
)
def test_safe_url_masks_every_url_of_a_list_and_keeps_the_rest(url: str, shown: str) -> None:
    assert safe_url(url) == shown
