// The submit form, built from an endpoint's RescueBox task_schema (GET /api/plugins): a choice of
// endpoint when the service has several, a field per input and per parameter. It knows input
// and parameter types, never a plugin.

import { suggestFolders } from "./folders.js";

const PATH_HINTS = {
  directory: "The absolute path of a folder on the server",
  file: "The absolute path of a file on the server",
};

export class TaskForm {
  // form: the <form>, with #endpoint-choice, #endpoint, #endpoint-info, #inputs, #parameters
  // and a submit button inside.
  constructor(form, endpoints) {
    this.form = form;
    this.endpoints = endpoints;
    this.stopSuggesting = [];
    const select = form.querySelector("#endpoint");
    for (const endpoint of endpoints) {
      const choice = document.createElement("option");
      choice.value = endpoint.path;
      choice.textContent = `${endpoint.title || endpoint.path} (${endpoint.plugin.title || endpoint.plugin.name})`;
      select.append(choice);
    }
    form.querySelector("#endpoint-choice").hidden = endpoints.length < 2;
    select.addEventListener("change", () => this.choose(select.value));
    this.choose(endpoints[0].path);
  }

  choose(path) {
    const kept = this.typedInputs();
    this.endpoint = this.endpoints.find((endpoint) => endpoint.path === path);
    this.form.querySelector("#endpoint").value = path;
    this.stopSuggestions();
    const { inputs, parameters } = this.endpoint.task_schema;
    this.form.querySelector("#inputs").replaceChildren(...inputs.map((spec) => this.inputField(spec, kept)));
    const fieldset = this.form.querySelector("#parameters");
    fieldset.replaceChildren(fieldset.querySelector("legend"), ...parameters.map(parameterField));
    fieldset.hidden = !parameters.length;
    this.form.querySelector("#endpoint-info").textContent = this.endpoint.plugin.info ?? "";
    this.form.querySelector("button[type=submit]").textContent = this.endpoint.title || `Run ${path}`;
  }

  // What was typed in each input, so that a field of the same key and type keeps it when
  // another endpoint is chosen (transcribe a folder after inspecting it).
  typedInputs() {
    const typed = new Map();
    for (const field of this.form.querySelectorAll("#inputs [data-key]")) {
      typed.set(`${field.dataset.inputType} ${field.dataset.key}`, field.value);
    }
    return typed;
  }

  inputField(spec, kept) {
    const id = `input-${spec.key}`;
    const wrapper = document.createElement("div");
    wrapper.className = "field";
    const label = document.createElement("label");
    label.htmlFor = id;
    label.textContent = spec.label || spec.key;
    const field = document.createElement(spec.input_type === "textarea" ? "textarea" : "input");
    if (field.localName === "input") field.type = "text";
    field.id = id;
    field.name = spec.key;
    field.dataset.key = spec.key;
    field.dataset.inputType = spec.input_type;
    field.spellcheck = false;
    field.autocomplete = "off";
    field.value = kept.get(`${spec.input_type} ${spec.key}`) ?? "";
    const hint = [PATH_HINTS[spec.input_type], spec.subtitle].filter(Boolean).join(". ");
    wrapper.append(label, field);
    if (hint) wrapper.append(description(`${id}-hint`, hint, field));
    if (spec.input_type === "directory" && this.endpoint.folder_suggestions) {
      const list = document.createElement("datalist");
      list.id = `${id}-suggestions`;
      field.setAttribute("list", list.id);
      field.placeholder = "/home/you/…";
      wrapper.append(list);
      this.stopSuggesting.push(suggestFolders(this.endpoint.path, field, list));
    }
    return wrapper;
  }

  stopSuggestions() {
    for (const stop of this.stopSuggesting) stop();
    this.stopSuggesting = [];
  }

  // {endpoint, body, label}, or {problem} naming what is missing.
  read() {
    const inputs = {};
    const shown = [];
    for (const field of this.form.querySelectorAll("#inputs [data-key]")) {
      const value = field.value.trim();
      const label = this.form.querySelector(`label[for="${field.id}"]`).textContent;
      if (!value) return { problem: `Fill in “${label}”.` };
      inputs[field.dataset.key] = field.dataset.inputType in PATH_HINTS ? { path: value } : { text: value };
      shown.push(value);
    }
    const parameters = {};
    for (const field of this.form.querySelectorAll("#parameters [data-key]")) {
      const value = field.value.trim();
      if (value === "") continue; // the service's default
      const type = field.dataset.parameterType;
      parameters[field.dataset.key] = type === "int" || type === "float" ? Number(value) : value;
    }
    return { endpoint: this.endpoint, body: { inputs, parameters }, label: shown.join(" · ") || this.endpoint.path };
  }
}

function parameterField(spec) {
  const id = `param-${spec.key}`;
  const value = spec.value ?? {};
  const type = value.parameter_type;
  const label = document.createElement("label");
  label.className = "inline";
  label.htmlFor = id;
  label.append(`${spec.label || spec.key} `);
  let field;
  if (type === "enum") {
    field = document.createElement("select");
    for (const choice of value.enum_vals ?? []) {
      const item = document.createElement("option");
      item.value = choice.key;
      item.textContent = choice.label ?? choice.key;
      field.append(item);
    }
  } else {
    field = document.createElement("input");
    field.type = type === "int" || type === "float" ? "number" : "text";
    if (field.type === "number") {
      field.step = type === "int" ? "1" : "any";
      if (value.min !== null && value.min !== undefined) field.min = value.min;
      if (value.max !== null && value.max !== undefined) field.max = value.max;
    }
  }
  if (value.default !== null && value.default !== undefined) field.value = String(value.default);
  field.id = id;
  field.name = spec.key;
  field.dataset.key = spec.key;
  field.dataset.parameterType = type ?? "text";
  if (spec.subtitle) field.title = spec.subtitle;
  label.append(field);
  return label;
}

function description(id, text, field) {
  const hint = document.createElement("p");
  hint.id = id;
  hint.className = "hint quiet";
  hint.textContent = text;
  field.setAttribute("aria-describedby", id);
  return hint;
}
