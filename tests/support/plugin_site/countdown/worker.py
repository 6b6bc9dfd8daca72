"""The countdown plugin's worker half (docs/plugins.md)."""

import time
from live_progress import Job, progress_meta

def register(celery):
    @celery.task(name="countdown.run", bind=True, shared=False)
    def run(self, inputs, parameters):
        job, steps = Job(self), parameters["steps"]
        done = (job.load_checkpoint() or {"done": 0})["done"]
        for step in range(done, steps):
            if job.stop_requested():  # SIGTERM: the next worker carries on from here
                job.hand_over({"done": step}, 100 * step // steps, f"Stopped at step {step}")
            time.sleep(1)
            percent = 99 * (step + 1) // steps  # 100 only with the result
            self.update_state(state="PROGRESS", meta=progress_meta(percent, f"Step {step + 1} of {steps}"))
            job.publish({"title": "step", "step": step + 1}, line=f"step {step + 1} done")
        job.clear_checkpoint()
        return {"output_type": "text", "title": "countdown", "value": f"Counted {steps} steps", "subtitle": None}
