// DOM helpers: element builder, formatting, modal dialogs, forms and tables.
// Nothing here writes HTML strings or style attributes (the CSP forbids
// inline styles and scripts).

// h("div", {class: "x", onclick: fn}, child...) -> Element
export function h(tag, attrs, ...children) {
  const el = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs || {})) {
    if (v === undefined || v === null || v === false) continue;
    if (k.startsWith("on")) el.addEventListener(k.slice(2), v);
    else if (k === "class") el.className = v;
    else if (k === "text") el.textContent = v;
    else if (k in el && typeof v !== "string") el[k] = v;
    else el.setAttribute(k, v === true ? "" : v);
  }
  append(el, children);
  return el;
}

function append(el, children) {
  for (const c of children) {
    if (c === null || c === undefined || c === false) continue;
    if (Array.isArray(c)) append(el, c);
    else el.append(c instanceof Node ? c : String(c));
  }
}

export function clear(el) {
  el.replaceChildren();
  return el;
}

const UNITS = ["B", "KiB", "MiB", "GiB", "TiB", "PiB"];

export function bytes(n) {
  if (n === undefined || n === null || isNaN(n)) return "-";
  let u = 0;
  let v = Number(n);
  while (v >= 1024 && u < UNITS.length - 1) {
    v /= 1024;
    u++;
  }
  return `${u ? v.toFixed(2) : v} ${UNITS[u]}`;
}

export function percent(frac) {
  return frac === undefined || isNaN(frac) ? "-" : `${(frac * 100).toFixed(2)}%`;
}

export function duration(s) {
  if (!s) return "-";
  const d = Math.floor(s / 86400);
  const hms = [Math.floor(s / 3600) % 24, Math.floor(s / 60) % 60, Math.floor(s) % 60]
    .map((x) => String(x).padStart(2, "0")).join(":");
  return d ? `${d} day${d > 1 ? "s" : ""} ${hms}` : hms;
}

export function datetime(epoch) {
  if (!epoch) return "";
  const d = new Date(epoch * 1000);
  const p = (x) => String(x).padStart(2, "0");
  return `${d.getFullYear()}-${p(d.getMonth() + 1)}-${p(d.getDate())} ${p(d.getHours())}:${p(d.getMinutes())}:${p(d.getSeconds())}`;
}

// A progress bar with a label: usage of USED out of TOTAL.
// TEXT replaces the default "P% (USED of TOTAL)" label.
export function usage(used, total, fmt = bytes, text = null) {
  const frac = total ? used / total : 0;
  return h("div", { class: "usage" },
    h("progress", { max: 1, value: Math.min(frac, 1) }),
    h("span", { text: text ?? (total ? `${percent(frac)} (${fmt(used)} of ${fmt(total)})` : "-") }));
}

// Key/value table: rows of [label, value-or-node].
export function kvTable(rows, cls = "kv") {
  return h("table", { class: cls },
    h("tbody", null, rows.map(([k, v]) => h("tr", null, h("th", { scope: "row", text: k }), h("td", null, v)))));
}

// A selectable grid: COLS [{key,label,render?}], ROWS objects.  Returns
// {el, selected(), onSelect}; a row is selected by click or keyboard.
export function grid(cols, rows, opts = {}) {
  let sel = null;
  const tbody = h("tbody");
  const table = h("table", { class: "grid", "aria-label": opts.label || "" },
    h("thead", null, h("tr", null, cols.map((c) => h("th", { scope: "col", text: c.label })))), tbody);
  const api = { el: h("div", { class: "grid-wrap" }, table), selected: () => sel, onSelect: opts.onSelect };
  const select = (tr, row) => {
    for (const r of tbody.children) r.classList.remove("selected");
    tr.classList.add("selected");
    sel = row;
    if (api.onSelect) api.onSelect(row);
  };
  for (const row of rows) {
    const tr = h("tr", { tabindex: 0 }, cols.map((c) => h("td", null, c.render ? c.render(row) : String(row[c.key] ?? ""))));
    tr.addEventListener("click", () => select(tr, row));
    tr.addEventListener("keydown", (e) => {
      if (e.key === "Enter" || e.key === " ") { e.preventDefault(); select(tr, row); if (opts.onActivate) opts.onActivate(row); }
      if (e.key === "ArrowDown" && tr.nextElementSibling) { e.preventDefault(); tr.nextElementSibling.focus(); }
      if (e.key === "ArrowUp" && tr.previousElementSibling) { e.preventDefault(); tr.previousElementSibling.focus(); }
    });
    if (opts.onActivate) tr.addEventListener("dblclick", () => opts.onActivate(row));
    if (opts.rowClass) tr.className = opts.rowClass(row) || "";
    tbody.append(tr);
  }
  if (!rows.length) tbody.append(h("tr", null, h("td", { colspan: cols.length, class: "empty", text: opts.empty || "No entries" })));
  return api;
}

export function toolbar(...items) {
  return h("div", { class: "toolbar", role: "toolbar" }, items);
}

export function button(label, onclick, opts = {}) {
  return h("button", { type: "button", class: opts.class || "", disabled: !!opts.disabled, onclick, title: opts.title, "data-action": opts.action || null }, label);
}

let fieldSeq = 0;

// A labelled input.  SPEC: {name, label, type, value, options:[[v,label]],
// required, min, max, step, pattern, placeholder, help, disabled}.
export function field(spec) {
  const id = `f${++fieldSeq}`;
  let input;
  if (spec.type === "select") {
    input = h("select", { id, name: spec.name, disabled: spec.disabled, required: spec.required },
      (spec.options || []).map(([v, l]) => h("option", { value: v, text: l ?? v })));
    if (spec.value !== undefined) input.value = String(spec.value);
  } else if (spec.type === "checkbox") {
    input = h("input", { id, name: spec.name, type: "checkbox", disabled: spec.disabled });
    input.checked = !!Number(spec.value) || spec.value === true;
  } else if (spec.type === "textarea") {
    input = h("textarea", { id, name: spec.name, rows: 3, disabled: spec.disabled });
    input.value = spec.value ?? "";
  } else {
    input = h("input", { id, name: spec.name, type: spec.type || "text", required: spec.required, min: spec.min, max: spec.max,
      step: spec.step, pattern: spec.pattern, placeholder: spec.placeholder, disabled: spec.disabled, autocomplete: spec.autocomplete || "off" });
    if (spec.value !== undefined && spec.value !== null) input.value = String(spec.value);
  }
  const wrap = h("div", { class: `field field-${spec.type || "text"}` },
    h("label", { for: id, text: spec.label }), input,
    spec.help ? h("small", { class: "help", text: spec.help }) : null);
  return { wrap, input, spec };
}

// A form of fields; values() returns {name: value} (checkboxes as 0/1),
// valid() runs the browser's constraint validation and shows the first error.
export function form(specs, cls = "form") {
  const fields = specs.map(field);
  const el = h("div", { class: cls }, fields.map((f) => f.wrap));
  return {
    el,
    fields,
    input: (name) => (fields.find((f) => f.spec.name === name) || {}).input,
    values() {
      const out = {};
      for (const f of fields) {
        if (f.input.disabled) continue;
        out[f.spec.name] = f.spec.type === "checkbox" ? (f.input.checked ? 1 : 0) : f.input.value.trim();
      }
      return out;
    },
    valid() {
      for (const f of fields) {
        if (f.input.disabled) continue;
        if (f.spec.validate) f.input.setCustomValidity(f.spec.validate(f.input.value.trim()) || "");
        if (!f.input.checkValidity()) {
          f.input.reportValidity();
          return false;
        }
      }
      return true;
    },
  };
}

// A modal <dialog> (native focus handling and Escape).  BODY is a node;
// OK(dialog) may throw or return false to keep it open.
export function dialog(title, body, opts = {}) {
  const err = h("p", { class: "error", role: "alert" });
  const ok = h("button", { type: "submit", class: "primary", text: opts.okText || "OK" });
  const cancel = h("button", { type: "button", text: opts.cancelText || "Cancel" });
  const frm = h("form", { method: "dialog" }, h("h2", { text: title }), body, err,
    h("div", { class: "buttons" }, opts.noOk ? null : ok, cancel));
  const dlg = h("dialog", { class: opts.wide ? "wide" : "" }, frm);
  const close = () => { dlg.close(); dlg.remove(); if (opts.onClose) opts.onClose(); };
  cancel.addEventListener("click", close);
  dlg.addEventListener("cancel", (e) => { e.preventDefault(); close(); });
  frm.addEventListener("submit", async (e) => {
    e.preventDefault();
    if (!opts.ok) return close();
    ok.disabled = true;
    err.textContent = "";
    try {
      if ((await opts.ok(dlg)) !== false) close();
    } catch (ex) {
      err.textContent = ex.detail ? ex.detail() : String(ex.message || ex);
    } finally {
      ok.disabled = false;
    }
  });
  document.body.append(dlg);
  dlg.showModal();
  return { dlg, close, err, ok };
}

export function confirm(title, text, okText = "Yes") {
  return new Promise((resolve) => {
    let answered = false;
    dialog(title, h("p", { text }), {
      okText,
      ok: () => { answered = true; resolve(true); },
      onClose: () => { if (!answered) resolve(false); },
    });
  });
}

// A message line in the page's status area.
export function notify(text, kind = "info") {
  const area = document.getElementById("notices");
  if (!area) return;
  const n = h("div", { class: `notice ${kind}`, role: kind === "error" ? "alert" : "status", text });
  area.append(n);
  setTimeout(() => n.remove(), kind === "error" ? 8000 : 4000);
}
