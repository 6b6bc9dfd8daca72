// A finished task's result, whatever the plugin: a RescueBox batch of texts (batchtext) as
// titled texts with Copy and Download; files the task wrote (`files_dir` and `files: [{name}]`)
// as download links; every other field as a table (a list of rows), a list of facts
// (the rest), and the whole result as JSON on demand.

import { writtenFileUrl } from "./api.js";

// Fields shown in their own way, not among the facts.
const SHOWN_APART = new Set(["output_type", "texts", "transcripts_dir", "files_dir"]);

export function isBatch(root) {
  return Array.isArray(root?.texts) && root.texts.every((text) => typeof text?.value === "string");
}

// The downloadable files a result lists, or [] (GET <endpoint>/files/<id>?name=).
export function listedFiles(root) {
  if (typeof root?.files_dir !== "string" || !Array.isArray(root.files)) return [];
  return root.files.filter((file) => typeof file?.name === "string");
}

// "3 of 3 files", and how many failed, for a batch of texts; texts whose titles are not paths
// are "items".
export function batchCounts(root) {
  const failed = root.texts.filter((text) => text.subtitle === "error").length;
  const total = root.texts.length;
  const paths = total > 0 && root.texts.every((text) => /[\\/]/.test(text.title ?? ""));
  return { failed, total, noun: paths ? "files" : "items" };
}

export function textItem(text, job) {
  const item = cloneTemplate("text-template");
  const title = text.title ?? "";
  const name = baseName(title) || "Text";
  item.querySelector(".name").textContent = name;
  item.querySelector(".path").textContent = title === name ? "" : title;
  const pre = item.querySelector(".text");
  pre.textContent = text.value;
  if (text.subtitle === "error") {
    item.classList.add("failed");
    item.querySelector(".name").textContent = `${name}: failed`;
    item.querySelector(".tools").remove();
    return item;
  }
  const download = item.querySelector(".download");
  download.href = `data:text/plain;charset=utf-8,${encodeURIComponent(`${text.value}\n`)}`;
  download.download = `${name.replace(/\.[^.]*$/, "")}.txt`;
  if (Array.isArray(text.files) && text.files.length) {
    // The files the worker wrote for this text, from the service (older results list none).
    download.remove();
    item.querySelector(".files").append(
      ...text.files.map((file) => fileLink(job, file, `Download ${file.format ?? baseName(file.name)}`)),
    );
  }
  const copy = item.querySelector(".copy");
  copy.addEventListener("click", () => copyText(text.value, pre, copy));
  return item;
}

// Everything of the result but its texts: files to download, tables, facts, and the JSON.
export function resultDetails(root, job) {
  const parts = [];
  if (root === null || typeof root !== "object" || Array.isArray(root)) {
    parts.push(jsonBlock(root));
    return parts;
  }
  const files = listedFiles(root);
  const saved = root.files_dir ?? root.transcripts_dir;
  if (files.length) {
    const list = document.createElement("p");
    list.className = "downloads";
    list.append(...files.map((file) => fileLink(job, file, `Download ${baseName(file.name)}`)));
    parts.push(list);
  }
  if (typeof saved === "string") parts.push(quiet(`Saved in ${saved}`));
  const facts = [];
  for (const [key, value] of Object.entries(root)) {
    if (SHOWN_APART.has(key) || (key === "files" && files.length) || (key === "texts" && isBatch(root))) continue;
    if (isRows(value)) parts.push(table(key, value));
    else facts.push([key, value]);
  }
  if (facts.length) parts.unshift(factList(facts));
  if (!isBatch(root)) {
    const json = document.createElement("details");
    json.className = "json";
    const summary = document.createElement("summary");
    summary.textContent = "Result as JSON";
    json.append(summary, jsonBlock(root, 2));
    parts.push(json);
  }
  return parts;
}

function isRows(value) {
  return (
    Array.isArray(value) &&
    value.length > 0 &&
    value.every((row) => row !== null && typeof row === "object" && !Array.isArray(row))
  );
}

function table(key, rows) {
  const element = document.createElement("table");
  element.className = "rows";
  element.dataset.key = key;
  const caption = document.createElement("caption");
  caption.textContent = humanize(key);
  const columns = [...new Set(rows.flatMap((row) => Object.keys(row)))];
  const head = document.createElement("tr");
  head.append(...columns.map((column) => cell("th", humanize(column))));
  const body = document.createElement("tbody");
  body.append(
    ...rows.map((row) => {
      const line = document.createElement("tr");
      line.append(...columns.map((column) => cell("td", shown(row[column]))));
      return line;
    }),
  );
  const thead = document.createElement("thead");
  thead.append(head);
  element.append(caption, thead, body);
  return element;
}

// Fields as a definition list: an object of plain values on one line, another object's fields
// nested in it, a list of plain values comma-separated, anything deeper as JSON.
function factList(facts, depth = 0) {
  const list = document.createElement("dl");
  list.className = "facts";
  for (const [key, value] of facts) {
    const term = document.createElement("dt");
    term.textContent = humanize(key);
    const detail = document.createElement("dd");
    detail.dataset.key = key;
    if (isPlainObject(value) && Object.values(value).every((item) => !isStructure(item))) {
      detail.textContent = Object.entries(value)
        .map(([name, item]) => `${name} ${shown(item)}`)
        .join(" · ");
    } else if (isPlainObject(value) && depth < 2) {
      detail.append(factList(Object.entries(value), depth + 1));
    } else if (Array.isArray(value) && !value.some(isStructure)) {
      detail.textContent = value.length ? value.map(shown).join(", ") : "none";
    } else {
      detail.textContent = shown(value);
    }
    list.append(term, detail);
  }
  return list;
}

function isPlainObject(value) {
  return value !== null && typeof value === "object" && !Array.isArray(value);
}

function isStructure(value) {
  return value !== null && typeof value === "object";
}

function cell(kind, text) {
  const element = document.createElement(kind);
  if (kind === "th") element.scope = "col";
  element.textContent = text;
  return element;
}

// A value as text: numbers to four decimals at most (three digits when smaller), structures as
// compact JSON. The terminal client shows them the same way (live_progress/cli/results.py).
export function shown(value) {
  if (value === null || value === undefined) return "";
  if (typeof value === "number") {
    if (Number.isInteger(value) || !Number.isFinite(value)) return String(value);
    if (Math.abs(value) < 1e-4) return value.toPrecision(3);
    return String(Number(value.toFixed(4)));
  }
  if (typeof value === "object") return JSON.stringify(value);
  return String(value);
}

function humanize(key) {
  const words = String(key).replace(/_/g, " ");
  return words.charAt(0).toUpperCase() + words.slice(1);
}

function jsonBlock(value, indent) {
  const pre = document.createElement("pre");
  pre.className = "json-text";
  pre.textContent = JSON.stringify(value, null, indent);
  return pre;
}

function quiet(text) {
  const element = document.createElement("p");
  element.className = "saved quiet";
  element.textContent = text;
  return element;
}

function fileLink(job, file, text) {
  const link = document.createElement("a");
  link.href = writtenFileUrl(job.path, job.task_id, file.name);
  link.download = baseName(file.name);
  link.className = "written";
  link.textContent = text;
  link.title = `Download ${file.name}`;
  return link;
}

function baseName(path) {
  return String(path ?? "").split(/[\\/]/).pop();
}

export function cloneTemplate(id) {
  return document.getElementById(id).content.firstElementChild.cloneNode(true);
}

async function copyText(value, pre, button) {
  try {
    await navigator.clipboard.writeText(value);
    button.textContent = "Copied";
  } catch {
    // No clipboard access (a page served over plain http to another host): select it instead.
    window.getSelection().selectAllChildren(pre);
    button.textContent = "Selected: press Ctrl+C";
  }
}
