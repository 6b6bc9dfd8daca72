"""A Celery worker that shares no code with this project: another codebase serving the same
task name, as during a rolling upgrade or from a RescueBox plugin. It reports progress the
seed's way and keeps no heartbeat.

FOREIGN_STEPS progress writes, FOREIGN_EVERY seconds apart; then, with FOREIGN_THEN=silence,
it goes quiet for good (as a worker stuck or cut off would); otherwise it returns a result.
"""

import os
import time

from celery import Celery

url = os.environ["REDIS_URL"]
app = Celery("foreign", broker=url, backend=url)
app.conf.update(task_serializer="json", result_serializer="json", accept_content=["json"], worker_prefetch_multiplier=1)


@app.task(name="audio.transcribe", bind=True)
def transcribe(self, input_dir, **parameters):
    steps, every = int(os.environ.get("FOREIGN_STEPS", "10")), float(os.environ.get("FOREIGN_EVERY", "1"))
    for step in range(steps):
        self.update_state(state="PROGRESS", meta={"percent": 100 * step // steps, "description": f"Step {step}"})
        time.sleep(every)
    if os.environ.get("FOREIGN_THEN") == "silence":
        time.sleep(3600)
    return {"output_type": "batchtext", "texts": [{"output_type": "text", "value": "foreign", "title": input_dir}]}
