// The jobs this browser started, kept in localStorage so they survive a reload. Only what is
// needed to find them again is kept (the task id, its endpoint's path and URLs, what it was
// started on); their state is always fetched from the service.

const KEY = "live-progress.jobs";
const LIMIT = 20;

export function loadJobs() {
  try {
    const jobs = JSON.parse(localStorage.getItem(KEY) ?? "[]");
    return Array.isArray(jobs) ? jobs.map(known).filter(Boolean) : [];
  } catch {
    return [];
  }
}

// A job as the page follows it: {task_id, path, result_url, events_url, label, submittedAt, ...}.
// Jobs remembered before the page knew several endpoints have neither `path` nor `label`: their
// endpoint is where their result_url points, and their label the folder they were started on.
function known(job) {
  if (typeof job?.task_id !== "string") return null;
  const path = job.path ?? endpointPath(job.result_url, job.task_id);
  if (typeof path !== "string") return null;
  return { ...job, path, label: job.label ?? job.folder ?? job.task_id };
}

// "/prefix/audio/transcribe/result/<id>" → "audio/transcribe", relative to this page.
function endpointPath(resultUrl, taskId) {
  const tail = `/result/${taskId}`;
  if (typeof resultUrl !== "string" || !resultUrl.endsWith(tail)) return null;
  const absolute = resultUrl.slice(0, -tail.length);
  const base = new URL(".", document.baseURI).pathname;
  return absolute.startsWith(base) ? absolute.slice(base.length) : null;
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
