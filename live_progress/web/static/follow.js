// Follows every job of the page live over Server-Sent Events, ONE stream per endpoint that has
// unfinished jobs (a browser opens at most six connections to a host, so a stream per job
// would stall the page at the seventh; the many-task stream, GET <endpoint>/events?task_id=…,
// is per endpoint). When the set of unfinished jobs of an endpoint changes, its stream is
// reopened for the new set with `last_event_id`, so nothing the page already has is sent again.
// Without EventSource, or when an endpoint's stream keeps failing, its jobs are polled on their
// result URLs instead (the design note's polling loop).

import { apiFetch, taskSetEventsUrl } from "./api.js";

const POLL_MS = 1000;
const MAX_POLL_BACKOFF_MS = 10000;
// Network errors in a row, with no event between them, before the stream is given up for polling.
const MAX_STREAM_FAILURES = 3;
const FINAL_KINDS = new Set(["result", "error"]);
const LIVE = "Live updates over Server-Sent Events";

export class JobFollower {
  constructor() {
    this.streams = new Map(); // endpoint path -> EndpointStream
    this.noEventSource = typeof window.EventSource === "function" ? null : "this browser has no EventSource";
  }

  // Follows a job ({task_id, path, result_url}) at its endpoint. Calls onState(kind, root) for
  // each state the task is in (and each live result, kind `segment`), and onTransport(text) to
  // say how it is being followed. Returns a function that stops following it.
  follow(job, handlers) {
    let stream = this.streams.get(job.path);
    if (!stream) {
      stream = new EndpointStream(job.path, this.noEventSource);
      this.streams.set(job.path, stream);
    }
    return stream.follow(job, handlers);
  }
}

// The jobs of one endpoint, over its many-task stream.
class EndpointStream {
  constructor(path, pollingBecause) {
    this.path = path;
    this.jobs = new Map(); // task_id -> {task, onState, onTransport, done, timer}
    this.source = null;
    this.lastEventId = "";
    this.failures = 0;
    this.pollingBecause = pollingBecause;
    this.reopenQueued = false;
  }

  follow(task, { onState, onTransport }) {
    const job = { task, onState, onTransport, done: false, timer: null };
    this.jobs.set(task.task_id, job);
    if (this.pollingBecause === null) this.reopenSoon();
    else this.poll(job);
    return () => this.unfollow(task.task_id);
  }

  unfollow(taskId) {
    const job = this.jobs.get(taskId);
    if (!job) return;
    this.jobs.delete(taskId);
    clearTimeout(job.timer);
    if (!job.done && this.pollingBecause === null) this.reopenSoon();
    job.done = true;
  }

  unfinished() {
    return [...this.jobs.values()].filter((job) => !job.done);
  }

  // Jobs added in one go (a reload brings back many) share one reopening.
  reopenSoon() {
    if (this.reopenQueued) return;
    this.reopenQueued = true;
    queueMicrotask(() => {
      this.reopenQueued = false;
      this.open();
    });
  }

  open() {
    this.source?.close();
    this.source = null;
    const jobs = this.unfinished();
    if (this.pollingBecause !== null || !jobs.length) return;
    const query = new URLSearchParams(jobs.map((job) => ["task_id", job.task.task_id]));
    if (this.lastEventId) query.set("last_event_id", this.lastEventId);
    const source = new EventSource(taskSetEventsUrl(this.path, query));
    this.source = source;
    this.failures = 0;
    for (const job of jobs) job.onTransport(LIVE);
    // `segment`: a live result, published by the task as soon as it has it.
    for (const kind of ["status", "progress", "segment", "result"]) {
      source.addEventListener(kind, (event) => this.receive(source, kind, event));
    }
    source.addEventListener("open", () => source === this.source && this.tell(LIVE));
    // Both the server's `error` events (with data) and the browser's network errors (without).
    source.addEventListener("error", (event) => {
      if (source !== this.source) return;
      if (event.data) {
        const body = JSON.parse(event.data);
        // Without a root it is the server losing Redis, and EventSource reconnects by itself.
        if (body.root) this.receive(source, "error", event);
        else this.tell(`Reconnecting: ${body.error}`);
        return;
      }
      this.failures += 1;
      // CLOSED: the answer was not a stream (a 4xx or 5xx), and EventSource will not try again.
      if (source.readyState === EventSource.CLOSED || this.failures >= MAX_STREAM_FAILURES) {
        source.close();
        this.source = null;
        this.pollingBecause = "the live stream kept failing";
        for (const job of this.unfinished()) this.poll(job);
      } else {
        this.tell("Connection lost; reconnecting…");
      }
    });
  }

  receive(source, kind, event) {
    if (source !== this.source) return;
    this.failures = 0;
    if (event.lastEventId) this.lastEventId = event.lastEventId;
    const body = JSON.parse(event.data);
    this.deliver(this.jobs.get(body.task_id), kind, body);
    if (!this.unfinished().length) {
      // Every job has ended: the server ends the stream, and EventSource must not reconnect.
      source.close();
      this.source = null;
    }
  }

  deliver(job, kind, body) {
    if (!job || job.done) return;
    if (FINAL_KINDS.has(kind)) {
      job.done = true;
      clearTimeout(job.timer);
    }
    job.onState(kind, body.root);
  }

  tell(text) {
    for (const job of this.unfinished()) job.onTransport(text);
  }

  poll(job) {
    const polling = `Polling the result every ${POLL_MS / 1000} s (${this.pollingBecause})`;
    let delay = POLL_MS;
    job.onTransport(polling);

    const once = async () => {
      if (job.done) return;
      let body;
      try {
        body = await apiFetch(job.task.result_url);
      } catch (error) {
        if (error.status === 404) {
          this.deliver(job, "error", { root: { title: "error", value: error.message } });
          return;
        }
        delay = Math.min(delay * 2, MAX_POLL_BACKOFF_MS);
        job.onTransport(`${error.message}; polling again in ${delay / 1000} s`);
        job.timer = setTimeout(once, delay);
        return;
      }
      if (delay !== POLL_MS) job.onTransport(polling);
      delay = POLL_MS;
      const kind = pollKind(body.root);
      this.deliver(job, kind, body);
      if (!FINAL_KINDS.has(kind)) job.timer = setTimeout(once, POLL_MS);
    };
    once();
  }
}

// The design note's pollForResult: it polls again on progress, or on a status that says
// PENDING; anything else is the end.
function pollKind(root) {
  if (root.title === "progress") return "progress";
  if (root.title === "status" && root.value.includes("PENDING")) return "status";
  return root.title === "error" || root.title === "status" ? "error" : "result";
}
