// Follows one task to its end: over Server-Sent Events when the browser has EventSource, else
// (or when the stream keeps failing) with the design note's polling loop on the result URL.

import { apiFetch } from "./api.js";

const POLL_MS = 1000;
const MAX_POLL_BACKOFF_MS = 10000;
// Network errors in a row, with no event between them, before the stream is given up for polling.
const MAX_STREAM_FAILURES = 3;
const FINAL_KINDS = new Set(["result", "error"]);
const LIVE = "Live updates over Server-Sent Events";

// Calls onState(kind, root) for each state the task is in, and onTransport(text) to say how it
// is being followed. Returns a function that stops following.
export function followTask(task, { onState, onTransport }) {
  let stopped = false;
  let source = null;
  let timer = null;

  function stop() {
    stopped = true;
    source?.close();
    clearTimeout(timer);
  }

  function deliver(kind, body) {
    if (stopped) return;
    if (FINAL_KINDS.has(kind)) stop();
    onState(kind, body.root);
  }

  function stream() {
    source = new EventSource(task.events_url);
    let failures = 0;
    onTransport(LIVE);
    for (const kind of ["status", "progress", "result"]) {
      source.addEventListener(kind, (event) => {
        failures = 0;
        deliver(kind, JSON.parse(event.data));
      });
    }
    source.addEventListener("open", () => onTransport(LIVE));
    // Both the server's `error` events (with data) and the browser's network errors (without).
    source.addEventListener("error", (event) => {
      if (stopped) return;
      if (event.data) {
        const body = JSON.parse(event.data);
        // Without a root it is the server losing Redis, and EventSource reconnects by itself.
        if (body.root) deliver("error", body);
        else onTransport(`Reconnecting: ${body.error}`);
        return;
      }
      failures += 1;
      // CLOSED: the answer was not a stream (a 4xx or 5xx), and EventSource will not try again.
      if (source.readyState === EventSource.CLOSED || failures >= MAX_STREAM_FAILURES) {
        source.close();
        poll("the live stream kept failing");
      } else {
        onTransport("Connection lost; reconnecting…");
      }
    });
  }

  function poll(reason) {
    const polling = `Polling the result every ${POLL_MS / 1000} s (${reason})`;
    let delay = POLL_MS;
    onTransport(polling);

    async function once() {
      if (stopped) return;
      let body;
      try {
        body = await apiFetch(task.result_url);
      } catch (error) {
        if (error.status === 404) {
          deliver("error", { root: { title: "error", value: error.message } });
          return;
        }
        delay = Math.min(delay * 2, MAX_POLL_BACKOFF_MS);
        onTransport(`${error.message}; polling again in ${delay / 1000} s`);
        timer = setTimeout(once, delay);
        return;
      }
      if (delay !== POLL_MS) onTransport(polling);
      delay = POLL_MS;
      const kind = pollKind(body.root);
      deliver(kind, body);
      if (!FINAL_KINDS.has(kind)) timer = setTimeout(once, POLL_MS);
    }
    once();
  }

  if (typeof window.EventSource === "function") stream();
  else poll("this browser has no EventSource");
  return stop;
}

// The design note's pollForResult: it polls again on progress, or on a status that says
// PENDING; anything else is the end.
function pollKind(root) {
  if (root.title === "progress") return "progress";
  if (root.title === "status" && root.value.includes("PENDING")) return "status";
  return root.title === "error" || root.title === "status" ? "error" : "result";
}
