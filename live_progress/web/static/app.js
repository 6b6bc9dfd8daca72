// The page: a form that submits folders, and one JobView per job, all followed live over one stream.

import { cancelTask, submitFolder } from "./api.js";
import { suggestFolders } from "./folders.js";
import { JobFollower } from "./follow.js";
import { JobView } from "./job-view.js";
import { forgetJob, loadJobs, rememberJob, updateJob } from "./recent.js";

const views = new Map();
const jobsList = document.getElementById("jobs");
const follower = new JobFollower();
const folderField = document.getElementById("folder");
const stopSuggesting = suggestFolders(folderField, document.getElementById("folder-suggestions"));

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
    await cancelTask(view.job.task_id);
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

// The form's options, as POST /audio/transcribe parameters (README "Transcription options").
function chosenParameters(form) {
  const formats = [...form.querySelectorAll("input[name=formats]:checked")].map((box) => box.value);
  return { formats: formats.length ? formats : ["txt"], mode: form.elements.mode.value };
}

document.getElementById("submit-form").addEventListener("submit", async (event) => {
  event.preventDefault();
  const folder = document.getElementById("folder").value.trim();
  const button = event.target.querySelector("button[type=submit]");
  showFormError("");
  if (!folder) {
    showFormError("Type the absolute path of a folder of audio files.");
    return;
  }
  stopSuggesting();
  const submittedAt = Date.now();
  button.disabled = true;
  try {
    const task = await submitFolder(folder, chosenParameters(event.target));
    const job = { ...task, folder, submittedAt };
    rememberJob(job);
    start(job);
  } catch (error) {
    showFormError(`Could not start a job for ${folder}: ${error.message}`);
  } finally {
    button.disabled = false;
  }
});

for (const job of loadJobs().reverse()) start(job);
setInterval(() => {
  const now = Date.now();
  for (const view of views.values()) view.tick(now);
}, 1000);
