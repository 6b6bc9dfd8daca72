// Elapsed time since a job was submitted, and an estimate of the time left from the rate at
// which its percent has been rising. The terminal client does the same (live_progress/cli/eta.py).

// How long the percent must have been seen rising before the rate is worth an estimate.
const MIN_SPAN_MS = 1000;

export class ProgressClock {
  constructor(startedAt) {
    this.startedAt = startedAt;
    this.last = null; // the newest percent and when it was first seen
    this.base = null; // the first rise seen: the rate is measured from there, after any queueing or model loading
  }

  record(percent, at) {
    if (this.last !== null && percent <= this.last.percent) return;
    const first = this.last === null;
    this.last = { percent, at };
    // The first value seen may be old (a reload in the middle of a job), so it is no base.
    if (!first && this.base === null) this.base = this.last;
  }

  elapsed(now) {
    return Math.max(0, now - this.startedAt);
  }

  // Milliseconds left, or null while there is not enough to go on.
  remaining(now) {
    const { base, last } = this;
    if (base === null || last.percent <= base.percent || last.at - base.at < MIN_SPAN_MS) return null;
    const perMs = (last.percent - base.percent) / (last.at - base.at);
    return Math.max(0, (100 - last.percent) / perMs - (now - last.at));
  }
}

export function formatDuration(ms) {
  const seconds = Math.round(ms / 1000);
  if (seconds < 60) return `${seconds} s`;
  const minutes = Math.floor(seconds / 60);
  if (minutes < 60) return `${minutes} min ${String(seconds % 60).padStart(2, "0")} s`;
  return `${Math.floor(minutes / 60)} h ${String(minutes % 60).padStart(2, "0")} min`;
}

export function describeRemaining(ms) {
  if (ms === null) return "estimating…";
  if (ms < 1000) return "almost done";
  return `about ${formatDuration(ms)} left`;
}
