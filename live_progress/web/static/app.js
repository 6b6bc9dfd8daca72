// The page: a form built from the service's endpoints (GET /api/plugins), and one JobView per
// job, each followed live at its own endpoint (one stream per endpoint that has jobs).

import { cancelTask, listEndpoints, submitTask } from "./api.js";
import { JobFollower } from "./follow.js";
import { TaskForm } from "./form.js";
import { JobView } from "./job-view.js";
import { forgetJob, loadJobs, rememberJob, updateJob } from "./recent.js";
import { watchSession } from "./session.js";

const views = new Map();
const jobsList = document.getElementById("jobs");
const formElement = document.getElementById("submit-form");
const submitButton = formElement.querySelector("button[type=submit]");
const follower = new JobFollower();
let form = null;

function start(job) {
  const view = new JobView(job, {
    onCancel: cancel,
    onRemove: remove,
    onFinish: (finished) => updateJob(job.task_id, { finishedAt: finished.finishedAt }),
  });
  views.set(job.task_id, view);
  jobsList.prepend(view.element);
  document.getElementById("no-jobs").hidden = true;
  view.stopFollowing = follower.follow(job, {
    onState: (kind, root) => view.show(kind, root, Date.now()),
    onTransport: (text) => view.showTransport(text),
  });
}

async function cancel(view) {
  view.cancelling();
  try {
    await cancelTask(view.job.path, view.job.task_id);
  } catch (error) {
    // 409: it finished meanwhile, and its final state is on its way.
    if (error.status !== 409) view.cancelFailed(error.message);
  }
}

function remove(view) {
  view.stopFollowing();
  view.element.remove();
  views.delete(view.job.task_id);
  forgetJob(view.job.task_id);
  document.getElementById("no-jobs").hidden = views.size > 0;
}

function showFormError(message) {
  const error = document.getElementById("form-error");
  error.textContent = message;
  error.hidden = !message;
}

formElement.addEventListener("submit", async (event) => {
  event.preventDefault();
  if (!form) return;
  showFormError("");
  const chosen = form.read();
  if (chosen.problem) {
    showFormError(chosen.problem);
    return;
  }
  const { endpoint, body, label } = chosen;
  form.stopSuggestions();
  const submittedAt = Date.now();
  submitButton.disabled = true;
  try {
    const task = await submitTask(endpoint.path, body);
    const job = { ...task, path: endpoint.path, title: endpoint.title, label, submittedAt };
    rememberJob(job);
    start(job);
  } catch (error) {
    showFormError(`Could not start a job for ${label}: ${error.message}`);
  } finally {
    submitButton.disabled = false;
  }
});

async function buildForm() {
  let endpoints;
  try {
    endpoints = await listEndpoints();
  } catch (error) {
    submitButton.textContent = "Unavailable";
    showFormError(`Could not list what the service offers: ${error.message}`);
    return;
  }
  if (!endpoints.length) {
    submitButton.textContent = "Unavailable";
    showFormError("The service offers no endpoints: no plugin is installed or enabled (PLUGINS).");
    return;
  }
  form = new TaskForm(formElement, endpoints);
  submitButton.disabled = false;
}

watchSession();
// Remembered jobs are followed at once (each knows its endpoint's path); the form does not wait.
for (const job of loadJobs().reverse()) start(job);
buildForm();
setInterval(() => {
  const now = Date.now();
  for (const view of views.values()) view.tick(now);
}, 1000);
