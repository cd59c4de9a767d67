// The bottom panel of recent tasks (cluster-wide, polled) and the task log
// viewer; runTask() follows an action's UPID and reports how it ended.
import * as api from "./api.js";
import { h, clear, datetime, dialog, notify } from "./dom.js";

const DESCR = {
  qmcreate: "VM {} - Create", qmstart: "VM {} - Start", qmstop: "VM {} - Stop", qmshutdown: "VM {} - Shutdown",
  qmreboot: "VM {} - Reboot", qmreset: "VM {} - Reset", qmpause: "VM {} - Pause", qmsuspend: "VM {} - Hibernate",
  qmresume: "VM {} - Resume", qmdestroy: "VM {} - Destroy", qmclone: "VM {} - Clone", qmigrate: "VM {} - Migrate",
  qmsnapshot: "VM {} - Snapshot", qmrollback: "VM {} - Rollback", qmdelsnapshot: "VM {} - Delete Snapshot",
  qmtemplate: "VM {} - Convert to template", qmconfig: "VM {} - Configure", resize: "VM {} - Resize",
  imgcopy: "Copy data", download: "Download {}", vncproxy: "VM {} - Console", termproxy: "VM {} - Console",
  vncshell: "Shell", startall: "Start all VMs", stopall: "Stop all VMs",
};

export function describe(t) {
  const fmt = DESCR[t.type];
  if (fmt) return fmt.replace("{}", t.id || "");
  return t.id ? `${t.type} ${t.id}` : t.type;
}

function statusText(t) {
  if (!t.endtime && t.status !== "stopped" && !t.exitstatus) return "running";
  return t.status === "OK" || t.exitstatus === "OK" ? "OK" : (t.exitstatus || t.status || "");
}

export function taskGridRow(t) {
  const st = statusText(t);
  return h("tr", { tabindex: 0, class: st === "OK" ? "" : st === "running" ? "task-running" : "task-error", "data-upid": t.upid },
    h("td", { text: datetime(t.starttime) }),
    h("td", { text: t.endtime ? datetime(t.endtime) : "" }),
    h("td", { text: t.node }),
    h("td", { text: t.user }),
    h("td", { text: describe(t) }),
    h("td", { text: st }));
}

// A table of tasks whose rows open the log viewer.
export function taskTable(tasks, label) {
  const tbody = h("tbody", null, tasks.map(taskGridRow));
  const open = (e) => {
    const tr = e.target.closest("tr[data-upid]");
    if (tr && (e.type === "click" || e.key === "Enter")) showLog(tr.dataset.upid);
  };
  tbody.addEventListener("click", open);
  tbody.addEventListener("keydown", open);
  return h("table", { class: "grid tasks", "aria-label": label },
    h("thead", null, h("tr", null, ["Start Time", "End Time", "Node", "User name", "Description", "Status"]
      .map((l) => h("th", { scope: "col", text: l })))), tbody);
}

// The log viewer: follows the log while the task runs.
export function showLog(upid) {
  const node = api.nodeOfUpid(upid);
  const path = `/nodes/${node}/tasks/${encodeURIComponent(upid)}`;
  const pre = h("pre", { class: "tasklog", tabindex: 0, "aria-label": "Task log" });
  const state = h("p", { class: "taskstate", role: "status" });
  let open = true;
  let stopBtn;
  const d = dialog(`Task viewer: ${upid.split(":")[5]} ${upid.split(":")[6] || ""}`, h("div", null, state, pre), {
    okText: "Close", cancelText: "Stop", wide: true, onClose: () => { open = false; },
  });
  stopBtn = d.dlg.querySelector(".buttons button[type=button]");
  stopBtn.addEventListener("click", () => api.del(path).catch(() => {}), { capture: true });
  (async () => {
    while (open) {
      try {
        const [st, log] = await Promise.all([api.get(`${path}/status`), api.get(`${path}/log`, { start: 0, limit: 5000 })]);
        pre.textContent = log.map((l) => l.t).join("\n");
        state.textContent = st.status === "running" ? "Status: running" : `Status: stopped: ${st.exitstatus}`;
        if (st.status !== "running") { stopBtn.textContent = "Close"; return; }
      } catch (e) {
        state.textContent = `Error: ${e.message}`;
        return;
      }
      await api.sleep(1000);
    }
  })();
}

// Follows UPID (or the promise of one); notifies on failure.  Resolves to
// the task's exit status ("OK" or the error text).
export async function runTask(what, upidPromise) {
  let upid;
  try {
    upid = await upidPromise;
  } catch (e) {
    notify(`${what}: ${e.detail ? e.detail() : e.message}`, "error");
    throw e;
  }
  refreshSoon();
  if (!upid || typeof upid !== "string" || !upid.startsWith("UPID:")) return "OK";
  const st = await api.waitTask(upid);
  refreshSoon();
  if (st.exitstatus !== "OK" && !String(st.exitstatus).startsWith("WARNINGS")) {
    notify(`${what}: ${st.exitstatus}`, "error");
    throw new Error(st.exitstatus);
  }
  return st.exitstatus;
}

let panelBody = null;
let timer = 0;
let lastKey = null;
const listeners = [];

export function onTasksChanged(fn) {
  listeners.push(fn);
}

async function refresh() {
  clearTimeout(timer);
  try {
    const tasks = await api.get("/cluster/tasks");
    tasks.sort((a, b) => (b.starttime - a.starttime) || (a.upid < b.upid ? 1 : -1));
    const top = tasks.slice(0, 50);
    const key = top.map((t) => `${t.upid}|${t.status}|${t.endtime || ""}`).join(",");
    if (key !== lastKey && panelBody) {
      lastKey = key;
      clear(panelBody).append(taskTable(top, "Recent tasks"));
      for (const fn of listeners) fn(top);
    }
  } catch {
    // The next poll retries; a lost session is handled by the API layer.
  }
  if (panelBody) timer = setTimeout(refresh, document.hidden ? 10000 : 3000);
}

export function refreshSoon() {
  if (!panelBody) return;
  clearTimeout(timer);
  timer = setTimeout(refresh, 200);
}

export function startPanel(el) {
  panelBody = el;
  lastKey = null;
  refresh();
}

export function stopPanel() {
  clearTimeout(timer);
  panelBody = null;
}
