"""The countdown plugin of docs/plugins.md, line for line (tests/plugins/test_countdown.py checks that):
the engine's tests run it where the speech model adds nothing."""

from pydantic import BaseModel, Field
from live_progress import Endpoint, Plugin

class Steps(BaseModel):
    steps: int = Field(10, ge=1, le=1000, title="Steps", description="How many steps to count")

class CountRequest(BaseModel):
    inputs: dict[str, dict[str, str]] = {}
    parameters: Steps = Steps()

plugin = Plugin(
    name="countdown", title="Countdown", info="Counts down, one step a second.",
    endpoints=(Endpoint(name="run", task="countdown.run", request_model=CountRequest,
                        title="Count down", live_results=True),),
    worker="countdown.worker:register",
)
