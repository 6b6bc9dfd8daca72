// One job on the page: its progress bar, times, how it is followed, and its transcripts or error.

import { writtenFileUrl } from "./api.js";
import { describeRemaining, formatDuration, ProgressClock } from "./clock.js";

const LABELS = {
  queued: "Queued",
  running: "Running",
  done: "Done",
  partial: "Done, with errors",
  failed: "Failed",
  cancelled: "Cancelled",
};

export class JobView {
  // job: {task_id, folder, submittedAt, finishedAt?}. onFinish is called when the job is seen
  // to finish while this page watches it (so the time it took is known).
  constructor(job, { onCancel, onRemove, onFinish }) {
    this.job = job;
    this.clock = new ProgressClock(job.submittedAt);
    this.finishedAt = job.finishedAt ?? null;
    this.finished = false;
    this.seenRunning = false;
    this.onFinish = onFinish;
    this.element = cloneTemplate("job-template");
    this.element.dataset.taskId = job.task_id;
    this.part("folder").id = `job-${job.task_id}`;
    this.element.setAttribute("aria-labelledby", `job-${job.task_id}`);
    this.bar = this.element.querySelector("progress");
    this.bar.setAttribute("aria-label", `Progress of ${job.folder}`);
    this.part("folder").textContent = job.folder;
    this.part("folder").title = `Task ${job.task_id}`;
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
      this.showSegment(root);
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
      // The finished transcripts take the place of the text that grew while they were made.
      this.part("live").hidden = true;
      this.part("live").replaceChildren();
      this.finish(this.showResult(root), now);
    } else {
      const cancelled = root.value === "Task cancelled";
      this.part("description").textContent = "";
      this.showProblem(root.value);
      this.finish(cancelled ? "cancelled" : "failed", now);
    }
    this.tick(now);
  }

  // Each file's text grows as the model transcribes it.
  showSegment(root) {
    const live = this.part("live");
    let item = [...live.children].find((child) => child.dataset.file === root.file);
    if (!item) {
      item = document.createElement("li");
      item.dataset.file = root.file;
      const name = document.createElement("strong");
      name.textContent = root.file.split(/[\\/]/).pop();
      const text = document.createElement("p");
      text.className = "text";
      item.append(name, text);
      live.append(item);
    }
    const text = item.querySelector(".text");
    text.textContent = text.textContent ? `${text.textContent} ${root.text}` : root.text;
    live.hidden = false;
  }

  setPercent(percent) {
    this.bar.value = percent;
    this.part("percent").textContent = `${percent}%`;
  }

  // Shows the transcripts and returns the state they leave the job in.
  showResult(root) {
    const failed = root.texts.filter((text) => text.subtitle === "error").length;
    const total = root.texts.length;
    this.part("description").textContent = `${total - failed} of ${total} files transcribed`;
    if (failed) this.showProblem(`${failed} of ${total} files could not be transcribed; see below.`);
    for (const text of root.texts) this.part("transcripts").append(transcriptItem(text, this.job.task_id));
    if (root.transcripts_dir) {
      this.part("saved").textContent = `Also saved as text files in ${root.transcripts_dir}`;
      this.part("saved").hidden = false;
    }
    return failed ? "partial" : "done";
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

function cloneTemplate(id) {
  return document.getElementById(id).content.firstElementChild.cloneNode(true);
}

function transcriptItem(text, taskId) {
  const item = cloneTemplate("transcript-template");
  const name = text.title.split(/[\\/]/).pop();
  item.querySelector(".name").textContent = name;
  item.querySelector(".path").textContent = text.title;
  const pre = item.querySelector(".text");
  pre.textContent = text.value;
  if (text.subtitle === "error") {
    item.classList.add("failed");
    item.querySelector(".name").textContent = `${name}: could not be transcribed`;
    item.querySelector(".tools").remove();
    return item;
  }
  const download = item.querySelector(".download");
  download.href = `data:text/plain;charset=utf-8,${encodeURIComponent(`${text.value}\n`)}`;
  download.download = `${name.replace(/\.[^.]*$/, "")}.txt`;
  if (text.files?.length) {
    // The files the worker wrote, from the service (older results list none).
    download.remove();
    item.querySelector(".files").append(...text.files.map((file) => fileLink(taskId, file)));
  }
  const copy = item.querySelector(".copy");
  copy.addEventListener("click", () => copyText(text.value, pre, copy));
  return item;
}

function fileLink(taskId, file) {
  const link = document.createElement("a");
  link.href = writtenFileUrl(taskId, file.name);
  link.download = file.name.split("/").pop();
  link.className = "written";
  link.textContent = `Download ${file.format}`;
  link.title = `Download ${file.name}`;
  return link;
}

async function copyText(value, pre, button) {
  try {
    await navigator.clipboard.writeText(value);
    button.textContent = "Copied";
  } catch {
    // No clipboard access (a page served over plain http to another host): select it instead.
    window.getSelection().selectAllChildren(pre);
    button.textContent = "Selected: press Ctrl+C";
  }
}
