// The jobs this browser started, kept in localStorage so they survive a reload. Only what is
// needed to find them again is kept; their state is always fetched from the service.

const KEY = "live-progress.jobs";
const LIMIT = 20;

export function loadJobs() {
  try {
    const jobs = JSON.parse(localStorage.getItem(KEY) ?? "[]");
    return Array.isArray(jobs) ? jobs.filter((job) => typeof job?.task_id === "string") : [];
  } catch {
    return [];
  }
}

function saveJobs(jobs) {
  try {
    localStorage.setItem(KEY, JSON.stringify(jobs.slice(0, LIMIT)));
  } catch {
    // Storage is off or full: the page still works, it just forgets jobs on reload.
  }
}

export function rememberJob(job) {
  saveJobs([job, ...loadJobs().filter((known) => known.task_id !== job.task_id)]);
}

export function updateJob(taskId, changes) {
  saveJobs(loadJobs().map((job) => (job.task_id === taskId ? { ...job, ...changes } : job)));
}

export function forgetJob(taskId) {
  saveJobs(loadJobs().filter((job) => job.task_id !== taskId));
}
