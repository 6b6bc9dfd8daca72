// One job on the page, of any endpoint: its progress bar, times, how it is followed, its live
// results as they come, and its result or error.

import { describeRemaining, formatDuration, ProgressClock } from "./clock.js";
import { batchCounts, cloneTemplate, isBatch, resultDetails, textItem } from "./result-view.js";

const LABELS = {
  queued: "Queued",
  running: "Running",
  done: "Done",
  partial: "Done, with errors",
  failed: "Failed",
  cancelled: "Cancelled",
};

export class JobView {
  // job: {task_id, path, label, title?, submittedAt, finishedAt?}: `label` names what it was
  // started on (its inputs), `title` its endpoint. onFinish is called when the job is seen to
  // finish while this page watches it (so the time it took is known).
  constructor(job, { onCancel, onRemove, onFinish }) {
    this.job = job;
    this.clock = new ProgressClock(job.submittedAt);
    this.finishedAt = job.finishedAt ?? null;
    this.finished = false;
    this.seenRunning = false;
    this.onFinish = onFinish;
    this.element = cloneTemplate("job-template");
    this.element.dataset.taskId = job.task_id;
    this.part("label").id = `job-${job.task_id}`;
    this.element.setAttribute("aria-labelledby", `job-${job.task_id}`);
    this.bar = this.element.querySelector("progress");
    this.bar.setAttribute("aria-label", `Progress of ${job.label}`);
    this.part("label").textContent = job.label;
    this.part("label").title = `Task ${job.task_id}`;
    this.part("endpoint").textContent = job.title ?? job.path;
    this.element.dataset.path = job.path;
    this.part("cancel").addEventListener("click", () => onCancel(this));
    this.part("remove").addEventListener("click", () => onRemove(this));
    this.setState("queued");
    this.part("description").textContent = "Connecting…";
  }

  part(name) {
    return this.element.querySelector(`.${name}`);
  }

  setState(state) {
    this.element.dataset.state = state;
    this.part("state").textContent = LABELS[state];
  }

  showTransport(text) {
    this.part("transport").textContent = text;
  }

  showProblem(text) {
    const problem = this.part("problem");
    problem.textContent = text;
    problem.hidden = !text;
  }

  cancelling() {
    const button = this.part("cancel");
    button.disabled = true;
    button.textContent = "Cancelling…";
  }

  cancelFailed(message) {
    const button = this.part("cancel");
    button.disabled = false;
    button.textContent = "Cancel";
    this.showProblem(`Could not cancel: ${message}`);
  }

  show(kind, root, now) {
    if (kind === "segment") {
      this.showLiveResult(root);
      return;
    }
    if (kind === "status") {
      this.setState("queued");
      this.part("description").textContent = "Waiting for a worker";
    } else if (kind === "progress") {
      this.seenRunning = true;
      this.setState("running");
      this.showProblem("");
      this.setPercent(root.percent);
      this.part("description").textContent = root.description;
      this.clock.record(root.percent, now);
    } else if (kind === "result") {
      this.setPercent(100);
      this.finish(this.showResult(root), now);
    } else {
      const cancelled = root.value === "Task cancelled";
      this.part("description").textContent = "";
      this.showProblem(root.value);
      this.finish(cancelled ? "cancelled" : "failed", now);
    }
    this.tick(now);
  }

  // A live result: a piece of a file's text (`file` and `text`: that file's text grows), or
  // else a line of its own (the `line` the task gave it, or its JSON).
  showLiveResult(root) {
    if (typeof root.file === "string" && typeof root.text === "string") {
      this.growText(root.file, root.text);
      return;
    }
    const item = document.createElement("li");
    item.textContent = typeof root.line === "string" ? root.line : JSON.stringify(root);
    const lines = this.part("lines");
    lines.append(item);
    lines.hidden = false;
  }

  growText(file, piece) {
    const live = this.part("live");
    let item = [...live.children].find((child) => child.dataset.file === file);
    if (!item) {
      item = document.createElement("li");
      item.dataset.file = file;
      const name = document.createElement("strong");
      name.textContent = file.split(/[\\/]/).pop();
      const text = document.createElement("p");
      text.className = "text";
      item.append(name, text);
      live.append(item);
    }
    const text = item.querySelector(".text");
    text.textContent = text.textContent ? `${text.textContent} ${piece}` : piece;
    live.hidden = false;
  }

  setPercent(percent) {
    this.bar.value = percent;
    this.part("percent").textContent = `${percent}%`;
  }

  // Shows the result and returns the state it leaves the job in.
  showResult(root) {
    let state = "done";
    this.part("description").textContent = typeof root?.title === "string" ? root.title : "Finished";
    if (isBatch(root)) {
      // The finished texts take the place of the text that grew while they were made.
      this.part("live").hidden = true;
      this.part("live").replaceChildren();
      const { failed, total, noun } = batchCounts(root);
      this.part("description").textContent = `${total - failed} of ${total} ${noun} done`;
      if (failed) {
        this.showProblem(`${failed} of ${total} ${noun} failed; see below.`);
        state = "partial";
      }
      this.part("batch-texts").append(...root.texts.map((text) => textItem(text, this.job)));
    }
    this.part("result").replaceChildren(...resultDetails(root, this.job));
    return state;
  }

  finish(state, now) {
    this.finished = true;
    this.setState(state);
    if (this.finishedAt === null && this.seenRunning) {
      this.finishedAt = now;
      this.onFinish(this);
    }
    this.part("cancel").hidden = true;
    this.part("remove").hidden = false;
  }

  tick(now) {
    const elapsed = this.part("elapsed");
    const eta = this.part("eta");
    if (this.finished) {
      elapsed.textContent = this.finishedAt
        ? `Took ${formatDuration(this.finishedAt - this.job.submittedAt)}`
        : `Submitted ${new Date(this.job.submittedAt).toLocaleString()}`;
      eta.textContent = "";
    } else {
      elapsed.textContent = `Elapsed ${formatDuration(this.clock.elapsed(now))}`;
      eta.textContent = this.seenRunning ? describeRemaining(this.clock.remaining(now)) : "";
    }
  }
}
