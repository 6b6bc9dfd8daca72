// A folder field offers the folders the service may read (under its ALLOWED_ROOTS) as the user
// types, each with how many files in it the endpoint takes, in a <datalist>
// (GET <endpoint>/folders). Returns a function that drops a listing waiting or under way (on
// submit: the page then needs its connection for the job, and when the form is rebuilt).

import { listFolders } from "./api.js";

const WAIT_MS = 150;

export function suggestFolders(path, input, list) {
  let timer = null;
  let asked = null;
  let pending = null;

  async function update() {
    const prefix = input.value.trim();
    if (prefix === asked) return;
    asked = prefix;
    pending?.abort();
    const request = new AbortController();
    pending = request;
    let body;
    try {
      body = await listFolders(path, prefix, request.signal);
    } catch {
      if (request.signal.aborted) return;
      // A path the service refuses, or one still being typed: nothing to offer. Submit says why.
      list.replaceChildren();
      return;
    }
    if (prefix !== input.value.trim()) return; // typed on meanwhile; its own answer follows
    list.replaceChildren(...body.folders.map(option));
  }

  input.addEventListener("focus", update);
  input.addEventListener("input", () => {
    clearTimeout(timer);
    timer = setTimeout(update, WAIT_MS);
  });
  return () => {
    clearTimeout(timer);
    pending?.abort();
    asked = null;
  };
}

function option(folder) {
  const item = document.createElement("option");
  item.value = folder.path;
  const count = folder.counted_all ? `${folder.files}` : `${folder.files}+`;
  item.label = `${count} matching file${folder.files === 1 && folder.counted_all ? "" : "s"}`;
  return item;
}
