// Every request the page makes goes through apiFetch, so headers such as an API token
// (Authorization: Bearer ...) can be added in one place: requestHeaders.

export const requestHeaders = {};

export class ApiError extends Error {
  constructor(status, message) {
    super(message);
    this.status = status;
  }
}

export async function apiFetch(url, options = {}) {
  let response;
  try {
    response = await fetch(url, { ...options, headers: { ...requestHeaders, ...options.headers } });
  } catch (error) {
    throw new ApiError(0, `Cannot reach the service (${error.message})`);
  }
  const body = await response.json().catch(() => null);
  if (!response.ok) {
    throw new ApiError(response.status, body?.error || `The service answered ${response.status} ${response.statusText}`);
  }
  return body;
}

export function submitFolder(path, parameters = {}) {
  return apiFetch("audio/transcribe", {
    method: "POST",
    headers: { "Content-Type": "application/json" },
    body: JSON.stringify({ inputs: { input_dir: { path } }, parameters }),
  });
}

// Where to download a file that a finished task wrote (its result's texts[].files[].name).
export function writtenFileUrl(taskId, name) {
  return `audio/transcribe/files/${encodeURIComponent(taskId)}?${new URLSearchParams({ name })}`;
}

export function cancelTask(taskId) {
  return apiFetch(`audio/transcribe/${encodeURIComponent(taskId)}`, {
    method: "DELETE",
    headers: { "Content-Type": "application/json" },
  });
}

export function listFolders(prefix, signal) {
  return apiFetch(`audio/transcribe/folders?${new URLSearchParams({ prefix })}`, { signal });
}
