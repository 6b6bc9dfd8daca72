"""The Celery task: a thin wrapper that wires progress, live results, stop requests and
checkpoints (Celery's ``update_state`` and ``live_progress.Job``) to ``train_on_csv``."""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

from celery import Celery, Task

from live_progress import Job
from live_progress_tabular.parameters import TrainParameters
from live_progress_tabular.settings import TabularSettings
from live_progress_tabular.shared import TRAIN_TASK
from live_progress_tabular.worker.search import Stopped
from live_progress_tabular.worker.training import train_on_csv

logger = logging.getLogger(__name__)


def register(celery: Celery) -> None:
    """The tabular plugin's worker half (``Plugin.worker``): its task on ``celery``."""
    register_tasks(celery, TabularSettings.load())


def register_tasks(celery: Celery, settings: TabularSettings) -> None:
    @celery.task(name=TRAIN_TASK, bind=True, serializer="json", shared=False)
    def train(self: Task, csv_file: str, target: str, **parameters: Any) -> dict[str, Any]:
        """``parameters``: the request's (live_progress_tabular/parameters.py)."""
        job = Job(self)
        resume = job.load_checkpoint()
        if resume is not None:
            logger.info("Resuming %s at %s%%", job.id, resume.get("percent"), extra={"task_id": job.id})

        def publish(root: dict[str, Any], line: str, checkpoint: dict[str, Any]) -> None:
            # The checkpoint saved with the result, in one step, as each candidate ends (not
            # only on a hand-over): a worker that dies outright leaves the next attempt exactly
            # the candidates it had published.
            job.publish(root, line=line, checkpoint=checkpoint)

        try:
            result = train_on_csv(
                Path(csv_file),
                target,
                TrainParameters.model_validate(parameters),
                report=lambda meta: self.update_state(state="PROGRESS", meta=meta),
                publish=publish,
                stopping=job.stop_requested,
                fallback_dir=settings.tabular_models_dir / job.id,
                resume=resume,
            )
        except Stopped as stop:
            job.hand_over(stop.checkpoint, stop.percent, stop.description)
        job.clear_checkpoint()
        return result
