// Corral's web UI entry point: login, the page layout (tree, main panel,
// task panel), hash routing to the views, and the resource poll.
import * as api from "./js/api.js";
import { h, clear, notify } from "./js/dom.js";
import * as tree from "./js/tree.js";
import * as tasks from "./js/tasks.js";
import { state } from "./js/state.js";

const VIEWS = {
  dc: () => import("./js/view_dc.js"),
  node: () => import("./js/view_node.js"),
  qemu: () => import("./js/view_vm.js"),
  storage: () => import("./js/view_storage.js"),
};

let pollTimer = 0;
let cleanup = null;
let routeSeq = 0;
let lastRoute = "";

function $(id) {
  return document.getElementById(id);
}

async function pollResources() {
  clearTimeout(pollTimer);
  try {
    const res = await api.get("/cluster/resources");
    state.resources = res;
    const t0 = performance.now();
    tree.update(res);
    state.treeRenderMs = performance.now() - t0;
    if (!document.body.dataset.treeReady) {
      // When the tree first became usable, for the benchmark and the tests.
      document.body.dataset.treeReadyAt = String(Math.round(performance.now()));
      document.body.dataset.treeReady = "1";
    }
    for (const fn of state.resourceListeners) fn(res);
  } catch (e) {
    if (e.status !== 401) $("connection").textContent = `Connection problem: ${e.message}`;
  }
  if (api.currentUser()) pollTimer = setTimeout(pollResources, document.hidden ? 10000 : 3000);
}

export function refreshResources() {
  clearTimeout(pollTimer);
  pollTimer = setTimeout(pollResources, 100);
}
state.refreshResources = refreshResources;

// #/dc/summary, #/node/N/summary, #/qemu/N/100/hardware, #/storage/N/local/content
function parseHash() {
  const parts = location.hash.replace(/^#\/?/, "").split("/").filter(Boolean).map(decodeURIComponent);
  const kind = parts[0] in VIEWS ? parts[0] : "dc";
  const nargs = { dc: 0, node: 1, qemu: 2, storage: 2 }[kind];
  return { kind, args: parts.slice(1, 1 + nargs), tab: parts[1 + nargs] || "" };
}

async function route() {
  if (!api.currentUser()) return;
  const r = parseHash();
  const key = `${r.kind}/${r.args.join("/")}`;
  tree.select(`#/${key}`.replace(/\/$/, ""));
  const seq = ++routeSeq;
  if (key === lastRoute && cleanup && cleanup.setTab) {
    cleanup.setTab(r.tab);
    return;
  }
  if (cleanup && cleanup.destroy) cleanup.destroy();
  cleanup = null;
  lastRoute = key;
  const main = clear($("main"));
  main.append(h("p", { class: "loading", text: "Loading..." }));
  try {
    const mod = await VIEWS[r.kind]();
    if (seq !== routeSeq) return;
    clear(main);
    cleanup = mod.render(main, r.args, r.tab);
  } catch (e) {
    if (seq === routeSeq) clear(main).append(h("p", { class: "error", role: "alert", text: `Cannot show this view: ${e.message}` }));
  }
}

function showApp() {
  $("login-view").hidden = true;
  $("app").hidden = false;
  $("user").textContent = api.currentUser();
  tree.mount($("tree"));
  tasks.startPanel($("tasks-body"));
  lastRoute = "";
  pollResources();
  route();
}

function showLogin(message) {
  clearTimeout(pollTimer);
  tasks.stopPanel();
  if (cleanup && cleanup.destroy) cleanup.destroy();
  cleanup = null;
  delete document.body.dataset.treeReady;
  $("app").hidden = true;
  $("login-view").hidden = false;
  $("login-error").textContent = message || "";
  $("login-password").value = "";
  $("login-user").focus();
}

async function loadRealms() {
  const sel = $("login-realm");
  try {
    const realms = await api.get("/access/domains", null, { noAuthLost: true });
    sel.replaceChildren(...realms.map((d) => h("option", { value: d.realm, text: d.comment || d.realm })));
    sel.value = realms.some((d) => d.realm === "pve") ? "pve" : realms[0].realm;
  } catch {
    sel.replaceChildren(h("option", { value: "pam", text: "Linux PAM standard authentication" }),
      h("option", { value: "pve", text: "Corral authentication server" }));
  }
}

async function onLogin(e) {
  e.preventDefault();
  const btn = $("login-submit");
  const user = $("login-user").value.trim();
  $("login-error").textContent = "";
  document.body.dataset.loginAt = String(Math.round(performance.now()));
  btn.disabled = true;
  $("login-status").textContent = "Logging in...";
  try {
    const realm = user.includes("@") ? undefined : $("login-realm").value;
    await api.login(user, $("login-password").value, realm);
    showApp();
  } catch (ex) {
    $("login-error").textContent = ex.status === 401
      ? "Login failed. Please try again."
      : `Login failed: ${ex.message}`;
    $("login-password").select();
  } finally {
    btn.disabled = false;
    $("login-status").textContent = "";
  }
}

function onLogout() {
  api.logout();
  showLogin("");
}

function toggleTasks() {
  const panel = $("tasks");
  const collapsed = panel.classList.toggle("collapsed");
  $("tasks-toggle").setAttribute("aria-expanded", String(!collapsed));
}

async function createVm() {
  const mod = await import("./js/wizard.js");
  mod.openWizard();
}

function init() {
  $("login-form").addEventListener("submit", onLogin);
  $("logout").addEventListener("click", onLogout);
  $("create-vm").addEventListener("click", () => createVm().catch((e) => notify(e.message, "error")));
  $("tasks-toggle").addEventListener("click", toggleTasks);
  window.addEventListener("hashchange", route);
  document.addEventListener("visibilitychange", () => { if (!document.hidden && api.currentUser()) refreshResources(); });
  api.onAuthLost(() => { api.logout(); showLogin("Your session has expired. Please log in again."); });
  loadRealms();
  if (api.resumeSession()) showApp();
  else showLogin("");
}

init();
