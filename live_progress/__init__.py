"""Live progress for long-running ML jobs: Celery tasks whose progress reaches clients over
Server-Sent Events and polling.

The public surface for a plugin (docs/plugins.md). Its web half declares a ``Plugin`` of
``Endpoint``s; its worker half reports progress with Celery's own
``self.update_state(state="PROGRESS", meta=progress_meta(...))`` and uses ``Job`` for live
results, stop requests and checkpoints, ``through_outages`` for its own Redis writes that must
outlast a Redis restart, and ``worker_processes`` and ``available_cpus`` to size its own
threads. Everything else in the package is the engine's.
"""

from __future__ import annotations

from live_progress.contract import progress_meta
from live_progress.cores import available_cpus, worker_processes
from live_progress.job import Job
from live_progress.outages import through_outages
from live_progress.plugin import (
    Endpoint,
    Input,
    InputError,
    Plugin,
    rescuebox_parameters,
    resolve_file,
    resolve_folder,
)
from live_progress.settings import EnvSettings as PluginSettings

__all__ = [
    "Endpoint",
    "Input",
    "InputError",
    "Job",
    "Plugin",
    "PluginSettings",
    "available_cpus",
    "progress_meta",
    "rescuebox_parameters",
    "resolve_file",
    "resolve_folder",
    "through_outages",
    "worker_processes",
]
