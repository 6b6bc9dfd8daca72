"""The cores by default: one pool process per CPU, each model given its share of the CPUs, and
a long recording split over every pool process; each default can still be set."""

from __future__ import annotations

import os

import pytest
from celery.utils.sysinfo import cpu_budget

from live_progress import available_cpus, cores, worker_processes
from live_progress.plugins.audio.settings import AudioSettings
from live_progress.settings import SettingsError
from live_progress.worker.settings import WorkerSettings


@pytest.fixture
def env(monkeypatch: pytest.MonkeyPatch) -> pytest.MonkeyPatch:
    for name in ("WORKER_CONCURRENCY", "SPLIT_BATCHES", "WHISPER_CPU_THREADS"):
        monkeypatch.delenv(name, raising=False)
    return monkeypatch


def test_the_cpus_are_those_celery_counts_for_its_own_auto() -> None:
    assert available_cpus() == cpu_budget().count
    assert 1 <= available_cpus() <= len(os.sched_getaffinity(0))


def test_by_default_a_worker_runs_a_pool_process_per_cpu(env: pytest.MonkeyPatch) -> None:
    assert WorkerSettings.load().worker_concurrency == "auto"
    assert worker_processes() == WorkerSettings.load().processes == available_cpus()


def test_by_default_each_process_gets_its_share_of_the_cpus_and_a_batch_all_of_them(env: pytest.MonkeyPatch) -> None:
    settings = AudioSettings.load()

    assert settings.batch_workers == available_cpus()
    assert settings.cpu_threads == 1  # as many threads in all as CPUs


def test_fewer_processes_get_more_threads_each_and_split_less(env: pytest.MonkeyPatch) -> None:
    env.setenv("WORKER_CONCURRENCY", "1")

    settings = AudioSettings.load()

    assert worker_processes() == 1
    assert settings.batch_workers == 1  # one process: nothing to split over
    assert settings.cpu_threads == available_cpus()


def test_more_processes_than_cpus_get_a_thread_each(env: pytest.MonkeyPatch) -> None:
    env.setenv("WORKER_CONCURRENCY", str(4 * available_cpus()))

    assert AudioSettings.load().cpu_threads == 1


def test_every_default_can_still_be_set(env: pytest.MonkeyPatch) -> None:
    env.setenv("WORKER_CONCURRENCY", "3")
    env.setenv("SPLIT_BATCHES", "2")
    env.setenv("WHISPER_CPU_THREADS", "4")

    settings = AudioSettings.load()

    assert (worker_processes(), settings.batch_workers, settings.cpu_threads) == (3, 2, 4)


@pytest.mark.parametrize("value", ["0", "many", "-2"])
def test_a_bad_concurrency_names_the_value_sent(env: pytest.MonkeyPatch, value: str) -> None:
    env.setenv("WORKER_CONCURRENCY", value)

    with pytest.raises(SettingsError, match=rf"WORKER_CONCURRENCY' has value '{value}'"):
        WorkerSettings.load()


def test_a_bad_split_names_the_value_sent(env: pytest.MonkeyPatch) -> None:
    env.setenv("SPLIT_BATCHES", "all")

    with pytest.raises(SettingsError, match=r"SPLIT_BATCHES' has value 'all'"):
        AudioSettings.load()


def test_a_worker_knows_its_pool_as_celery_settled_it_whatever_the_variable_says(
    env: pytest.MonkeyPatch,
) -> None:
    # `celery worker --concurrency=1` with WORKER_CONCURRENCY unset: the pool, not the variable.
    env.setattr(cores, "_pool", None)
    cores.pool_settled(1)

    assert worker_processes() == 1
    assert AudioSettings.load().batch_workers == 1
    assert AudioSettings.load().cpu_threads == available_cpus()
