"""bench.fuzz's fuzzer: every operation of the service's own /openapi.json (every plugin's
endpoints included) called with what schemathesis generates from it, valid and invalid, and
each answer checked. A request is counted by its status; a failed check is a violation."""

from __future__ import annotations

import contextlib
import threading
import time
from collections import Counter
from dataclasses import dataclass, field
from typing import Any

import schemathesis
from hypothesis import HealthCheck, Phase, given, seed, settings
from hypothesis.errors import Unsatisfiable
from schemathesis import GenerationMode
from schemathesis.checks import (
    FailureGroup,
    content_type_conformance,
    not_a_server_error,
    response_schema_conformance,
    status_code_conformance,
)

# No 5xx, every status and content type one the document lists, every JSON body its schema.
CHECKS = [not_a_server_error, status_code_conformance, content_type_conformance, response_schema_conformance]
MODES = [GenerationMode.POSITIVE, GenerationMode.NEGATIVE]


@dataclass
class Tally:
    examples: int = 0
    statuses: Counter[int] = field(default_factory=Counter)
    violations: list[str] = field(default_factory=list)
    rounds: int = 0
    lock: threading.Lock = field(default_factory=threading.Lock)

    @property
    def requests(self) -> int:
        return sum(self.statuses.values())

    @property
    def server_errors(self) -> int:
        return sum(count for status, count in self.statuses.items() if status >= 500)


class FinishedJobs:
    """Tasks the well-behaved client followed to their end, by the path they were submitted to:
    the fuzzer sends its generated headers, cursors and parameters to them too."""

    def __init__(self) -> None:
        self._tasks: dict[str, str] = {}
        self._changed = threading.Condition()

    def record(self, path: str, task_id: str) -> None:
        with self._changed:
            self._tasks[path] = task_id
            self._changed.notify_all()

    def wait_for(self, path: str, timeout: float) -> str | None:
        with self._changed:
            self._changed.wait_for(lambda: path in self._tasks, timeout)
            return self._tasks.get(path)


def fuzz(
    base_url: str, examples: int, first_seed: int, until: float | None, finished: FinishedJobs, tally: Tally
) -> None:
    """Rounds of ``examples`` per operation and mode (the round's seed is ``first_seed`` plus its
    number) until ``until`` (a monotonic time), or one round when it is None. Each round fuzzes
    every operation as it is, then those that take a task id on a finished job of their plugin."""
    schema = schemathesis.openapi.from_url(f"{base_url}/openapi.json")
    operations = [result.ok() for result in schema.get_all_operations()]
    submits = [operation.path for operation in operations if operation.method.upper() == "POST"]
    while True:
        at = first_seed + tally.rounds
        for operation in operations:
            for mode in MODES:
                _fuzz_operation(operation, mode, base_url, examples, at, tally)
        for operation in operations:
            endpoint = next((path for path in submits if operation.path.startswith(path + "/")), None)
            where = _task_id_location(operation)
            if endpoint is None or where is None:
                continue
            task_id = finished.wait_for(endpoint, timeout=300)
            if task_id is None:
                tally.violations.append(f"{operation.label}: no job of {endpoint} finished to fuzz it on")
                continue
            fixed = {"path_parameters": {"task_id": task_id}} if where == "path" else {"query": {"task_id": [task_id]}}
            for mode in MODES:
                _fuzz_operation(operation, mode, base_url, examples, at, tally, fixed)
        tally.rounds += 1
        if until is None or time.monotonic() >= until:
            return


def operation_labels(base_url: str) -> list[str]:
    schema = schemathesis.openapi.from_url(f"{base_url}/openapi.json")
    return [result.ok().label for result in schema.get_all_operations()]


def _task_id_location(operation: schemathesis.APIOperation) -> str | None:
    for parameter in operation.iter_parameters():
        if parameter.name == "task_id":
            return str(parameter.location.value)
    return None


def _fuzz_operation(
    operation: schemathesis.APIOperation,
    mode: GenerationMode,
    base_url: str,
    examples: int,
    at: int,
    tally: Tally,
    fixed: dict[str, Any] | None = None,
) -> None:
    # Generation only: a violation is written down and the run goes on (no shrinking, which
    # would repeat a request many times over), and no example database between runs.
    @settings(
        max_examples=examples,
        deadline=None,
        database=None,
        phases=[Phase.explicit, Phase.generate],
        suppress_health_check=list(HealthCheck),
        print_blob=False,
    )
    @seed(at)
    @given(case=operation.as_strategy(generation_mode=mode, **(fixed or {})))
    def call(case: schemathesis.Case) -> None:
        tally.examples += 1
        try:
            response = case.call(base_url=base_url, timeout=15)
        except Exception as exc:  # noqa: BLE001 - no answer at all is a violation too
            tally.violations.append(f"{operation.label} ({mode.value}): no answer: {exc!r}\n  {_curl(case)}")
            return
        tally.statuses[response.status_code] += 1
        # The document gives an event stream's body as a string (OpenAPI 3.1); schemathesis reads
        # that schema as each event's (3.2's itemSchema), which no event is.
        types = [
            value for name, values in response.headers.items() if name.lower() == "content-type" for value in values
        ]
        streamed = any(value.startswith("text/event-stream") for value in types)
        checks = [check for check in CHECKS if not (streamed and check is response_schema_conformance)]
        try:
            case.validate_response(response, checks=checks)
        except (AssertionError, FailureGroup) as exc:
            found = " ".join(str(exc).split())[:500]
            tally.violations.append(
                f"{operation.label} ({mode.value}): {response.status_code}: {found}\n  {_curl(case)}"
            )

    # Unsatisfiable: nothing to send wrong (an operation without parameters or body, in negative mode).
    with contextlib.suppress(Unsatisfiable):
        call()


def _curl(case: schemathesis.Case) -> str:
    try:
        return case.as_curl_command()
    except Exception:  # noqa: BLE001 - only a hint for the reader
        return repr(case)
