// The folder field offers the folders the service may read (under its ALLOWED_ROOTS) as the user
// types, each with how many audio files it holds, in a <datalist>.

import { listFolders } from "./api.js";

const WAIT_MS = 150;

export function suggestFolders(input, list) {
  let timer = null;
  let asked = null;

  async function update() {
    const prefix = input.value.trim();
    if (prefix === asked) return;
    asked = prefix;
    let body;
    try {
      body = await listFolders(prefix);
    } catch {
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
}

function option(folder) {
  const item = document.createElement("option");
  item.value = folder.path;
  const count = folder.counted_all ? `${folder.files}` : `${folder.files}+`;
  item.label = `${count} audio file${folder.files === 1 && folder.counted_all ? "" : "s"}`;
  return item;
}
