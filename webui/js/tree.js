// The resource tree (Datacenter -> nodes -> VMs and storages) built from
// /cluster/resources.  Rows are kept by id and patched in place, so a poll
// that changes one VM touches one row; the first render of many rows goes
// through one DocumentFragment per node.
import { h } from "./dom.js";

const rows = new Map(); // id -> {li, a, sig}
let root = null;
let dcItem = null;
let nodeLists = new Map(); // node -> ul
let selectedHash = "";

export function vmHash(r) {
  return `#/qemu/${r.node}/${r.vmid}`;
}

function rowHash(r) {
  if (r.type === "node") return `#/node/${r.node}`;
  if (r.type === "storage") return `#/storage/${r.node}/${r.storage}`;
  return vmHash(r);
}

function rowLabel(r) {
  if (r.type === "node") return r.node;
  if (r.type === "storage") return `${r.storage} (${r.node})`;
  return r.name ? `${r.vmid} (${r.name})` : String(r.vmid);
}

function rowState(r) {
  if (r.type === "qemu") {
    if (r.template) return "template";
    if (r.lock) return `locked st-${r.status}`;
    return r.status === "running" && r.qmpstatus === "paused" ? "paused" : r.status || "unknown";
  }
  if (r.type === "node") return r.status === "online" ? "online" : "offline";
  return r.status === "available" ? "available" : "unavailable";
}

function stateWord(r) {
  if (r.type === "qemu") return r.template ? "template" : (r.lock ? `${r.status}, locked (${r.lock})` : r.status);
  return r.status || "";
}

// One row cloned from a template: cheaper than building each element.
const rowTemplate = h("li", { role: "none" }, h("a", { role: "treeitem", tabindex: -1, class: "tree-item" }));

function makeRow(r, hash) {
  const li = rowTemplate.cloneNode(true);
  const a = li.firstChild;
  a.setAttribute("href", hash);
  return { li, a, sig: "" };
}

// Writes R into its row when something visible changed.
function patchRow(row, r) {
  const sig = `${rowLabel(r)}|${rowState(r)}|${r.lock || ""}`;
  if (sig === row.sig) return;
  row.sig = sig;
  const label = rowLabel(r);
  const st = rowState(r);
  row.a.className = `tree-item t-${r.type} s-${st.replace(/ /g, " s-")}`;
  row.a.textContent = label;
  row.a.title = `${label}: ${stateWord(r)}`;
  row.a.dataset.status = st;
}

function nodeGroup(name, nodeRow) {
  let row = rows.get(`node/${name}`);
  if (!row) {
    row = makeRow({ id: `node/${name}` }, `#/node/${name}`);
    row.a.setAttribute("aria-expanded", "true");
    const ul = h("ul", { role: "group" });
    row.li.append(ul);
    nodeLists.set(name, ul);
    rows.set(`node/${name}`, row);
  }
  patchRow(row, nodeRow || { id: `node/${name}`, type: "node", node: name, status: "unknown" });
  return row;
}

function sortKey(r) {
  return r.type === "qemu" ? [0, r.vmid] : [1, r.storage || ""];
}

function compare(a, b) {
  const ka = sortKey(a);
  const kb = sortKey(b);
  return ka[0] - kb[0] || (ka[1] < kb[1] ? -1 : ka[1] > kb[1] ? 1 : 0);
}

// Puts the rows of LIST (already sorted) into UL in order, moving only
// what is out of place.
function placeChildren(ul, list) {
  if (!ul.firstChild) {
    const frag = document.createDocumentFragment();
    for (const r of list) frag.append(rows.get(r.id).li);
    ul.append(frag);
    return;
  }
  let cur = ul.firstElementChild;
  for (const r of list) {
    const li = rows.get(r.id).li;
    if (cur === li) cur = cur.nextElementSibling;
    else ul.insertBefore(li, cur);
  }
  while (cur) {
    const next = cur.nextElementSibling;
    cur.remove();
    cur = next;
  }
}

// Applies a fresh /cluster/resources answer.
export function update(resources) {
  const byNode = new Map();
  const nodes = new Map();
  const seen = new Set(["dc"]);
  for (const r of resources) {
    if (r.type === "node") nodes.set(r.node, r);
    else if (r.type === "qemu" || r.type === "storage") {
      if (!byNode.has(r.node)) byNode.set(r.node, []);
      byNode.get(r.node).push(r);
    }
  }
  for (const n of byNode.keys()) if (!nodes.has(n)) nodes.set(n, null);
  const names = [...nodes.keys()].sort();
  const top = dcItem.querySelector("ul");
  for (const name of names) {
    const group = nodeGroup(name, nodes.get(name));
    seen.add(`node/${name}`);
    const list = (byNode.get(name) || []).sort(compare);
    for (const r of list) {
      let row = rows.get(r.id);
      const hash = rowHash(r);
      if (!row) {
        row = makeRow(r, hash);
        rows.set(r.id, row);
      } else if (row.a.getAttribute("href") !== hash) {
        row.a.setAttribute("href", hash); // a migrated VM: same id, other node
      }
      patchRow(row, r);
      seen.add(r.id);
    }
    placeChildren(nodeLists.get(name), list);
    if (group.li.parentNode !== top) top.append(group.li);
  }
  for (const [id, row] of rows) {
    if (seen.has(id)) continue;
    row.li.remove();
    rows.delete(id);
    if (id.startsWith("node/")) nodeLists.delete(id.slice(5));
  }
  markSelected();
}

function visibleItems() {
  return [...root.querySelectorAll("a.tree-item")];
}

function onKey(e) {
  const a = e.target.closest("a.tree-item");
  if (!a) return;
  const items = visibleItems();
  const i = items.indexOf(a);
  let next = null;
  if (e.key === "ArrowDown") next = items[i + 1];
  else if (e.key === "ArrowUp") next = items[i - 1];
  else if (e.key === "Home") next = items[0];
  else if (e.key === "End") next = items[items.length - 1];
  else return;
  e.preventDefault();
  if (next) focusItem(next);
}

function focusItem(a) {
  for (const x of root.querySelectorAll('a.tree-item[tabindex="0"]')) x.tabIndex = -1;
  a.tabIndex = 0;
  a.focus();
}

function markSelected() {
  const want = selectedHash;
  let best = null;
  for (const a of root.querySelectorAll("a.tree-item.selected")) {
    a.classList.remove("selected");
    a.removeAttribute("aria-selected");
  }
  for (const a of [dcItem.firstElementChild, ...Array.from(rows.values(), (r) => r.a)]) {
    const href = a.getAttribute("href");
    if (want === href || want.startsWith(href + "/")) {
      if (!best || href.length > best.getAttribute("href").length) best = a;
    }
  }
  if (best) {
    best.classList.add("selected");
    best.setAttribute("aria-selected", "true");
    if (!root.contains(document.activeElement)) {
      for (const x of root.querySelectorAll('a.tree-item[tabindex="0"]')) x.tabIndex = -1;
      best.tabIndex = 0;
    }
  }
}

export function select(hash) {
  selectedHash = hash;
  if (root) markSelected();
}

export function mount(el) {
  rows.clear();
  nodeLists = new Map();
  const dcLink = h("a", { href: "#/dc", role: "treeitem", tabindex: 0, class: "tree-item t-dc", "aria-expanded": "true", text: "Datacenter" });
  dcItem = h("li", { role: "none" }, dcLink, h("ul", { role: "group" }));
  root = h("ul", { role: "tree", "aria-label": "Resources", class: "tree" }, dcItem);
  root.addEventListener("keydown", onKey);
  el.replaceChildren(root);
  return root;
}

export function count() {
  return rows.size;
}
