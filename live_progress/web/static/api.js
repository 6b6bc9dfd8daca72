// Every request the page makes goes through apiFetch, so headers such as an API token
// (Authorization: Bearer ...) can be added in one place: requestHeaders.
//
// Every endpoint of every plugin has the same routes under its path ("audio/transcribe",
// "tabular/train"...): the helpers below take that path, relative to the page, so the page
// also works when the service is mounted under a prefix.

export const requestHeaders = {};

// What to do when the service answers 401: the sign-in ended (static/session.js sets it).
let unauthorized = () => {};
export function onUnauthorized(handler) {
  unauthorized = handler;
}

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
    if (response.status === 401) unauthorized();
    throw new ApiError(response.status, body?.error || `The service answered ${response.status} ${response.statusText}`);
  }
  return body;
}

// The service's plugins and their endpoints, each {path, title, task_schema, live_results,
// downloads, folder_suggestions, ...}, in the order the service lists them.
export async function listEndpoints() {
  const plugins = await apiFetch("api/plugins");
  return plugins.flatMap((plugin) => {
    const about = { name: plugin.plugin_name, title: plugin.name, info: plugin.info };
    return plugin.endpoints.map((endpoint) => ({ ...endpoint, plugin: about }));
  });
}

// body: the RescueBox request, {inputs: {...}, parameters: {...}}.
export function submitTask(path, body) {
  return apiFetch(path, {
    method: "POST",
    headers: { "Content-Type": "application/json" },
    body: JSON.stringify(body),
  });
}

// Where to download a file that a finished task lists in its result.
export function writtenFileUrl(path, taskId, name) {
  return `${path}/files/${encodeURIComponent(taskId)}?${new URLSearchParams({ name })}`;
}

// The stream of many tasks of one endpoint.
export function taskSetEventsUrl(path, query) {
  return `${path}/events?${query}`;
}

export function cancelTask(path, taskId) {
  return apiFetch(`${path}/${encodeURIComponent(taskId)}`, {
    method: "DELETE",
    headers: { "Content-Type": "application/json" },
  });
}

export function listFolders(path, prefix, signal) {
  return apiFetch(`${path}/folders?${new URLSearchParams({ prefix })}`, { signal });
}
