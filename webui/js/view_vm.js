// VM views: summary with graphs, power actions enabled by state, console,
// hardware, options, snapshots, task history; clone, template, delete.
import * as api from "./api.js";
import { h, clear, bytes, kvTable, usage, grid, toolbar, button, form, dialog, notify, duration, percent } from "./dom.js";
import { panel, loadInto, every } from "./panel.js";
import { graphs, liveSource } from "./charts.js";
import { runTask, taskTable } from "./tasks.js";
import { state, storagesOf, nodes } from "./state.js";
import { hardware, optionsTab } from "./vm_hw.js";

const VM_GRAPHS = [
  { title: "CPU usage", unit: "percent", series: [{ key: "cpu", label: "CPU usage" }] },
  { title: "Memory usage", unit: "bytes", series: [{ key: "maxmem", label: "Total" }, { key: "mem", label: "RAM usage" }] },
  { title: "Network traffic", unit: "rate", series: [{ key: "netin", label: "netin" }, { key: "netout", label: "netout" }] },
  { title: "Disk IO", unit: "rate", series: [{ key: "diskread", label: "diskread" }, { key: "diskwrite", label: "diskwrite" }] },
];

// Which power actions a VM in status ST allows (Proxmox's rules).
export function allowed(st) {
  if (!st) return {};
  const running = st.status === "running";
  const paused = running && (st.qmpstatus === "paused" || st.qmpstatus === "suspended");
  const tpl = !!st.template;
  return {
    start: !running && !tpl, shutdown: running && !paused, stop: running, reboot: running && !paused,
    suspend: running && !paused, resume: paused, console: running, migrate: true, clone: true, template: !running && !tpl,
    remove: !running,
  };
}

function ctxOf(node, vmid) {
  return { node, vmid, path: `/nodes/${node}/qemu/${vmid}`, status: null, listeners: new Set() };
}

function power(ctx, op, label) {
  const params = op === "shutdown" ? { timeout: 120 } : {};
  return runTask(`VM ${ctx.vmid} - ${label}`, api.post(`${ctx.path}/status/${op}`, params))
    .catch(() => {}).finally(() => { state.refreshResources(); ctx.poll(); });
}

function statusRows(st, ips) {
  return [
    ["Status", st.qmpstatus && st.qmpstatus !== st.status ? `${st.status} (${st.qmpstatus})` : st.status],
    ["HA State", "none"],
    ["Node", st.node || ""],
    ["CPU usage", `${percent(st.cpu)} of ${st.cpus} CPU(s)`],
    ["Memory usage", usage(st.mem, st.maxmem)],
    ["Bootdisk size", bytes(st.maxdisk)],
    ["Uptime", duration(st.uptime)],
    ...(ips ? [["IPs", ips]] : []),
  ];
}

// The guest's addresses from its agent (as Proxmox's summary shows them),
// asked at most every 10 s while the VM runs with the agent enabled.
function refreshIps(ctx, st) {
  if (st.status !== "running" || !st.agent) {
    ctx.ips = null;
    return;
  }
  if (ctx.ipsAt && Date.now() - ctx.ipsAt < 10000) return;
  ctx.ipsAt = Date.now();
  api.get(`${ctx.path}/agent/network-get-interfaces`).then((r) => {
    const ips = (r.result || []).filter((i) => i.name !== "lo")
      .flatMap((i) => (i["ip-addresses"] || []).map((a) => a["ip-address"]));
    ctx.ips = ips.length ? ips.join(", ") : "none";
  }).catch(() => { ctx.ips = "Guest Agent not running"; });
}

function summary(ctx) {
  return (el) => {
    const info = h("div", { class: "card wide vm-status" });
    el.append(info);
    const show = (st) => {
      refreshIps(ctx, st);
      clear(info).append(h("h2", { text: `${st.name} (${ctx.vmid})` }), kvTable(statusRows({ ...st, node: ctx.node }, ctx.ips)));
    };
    if (ctx.status) show(ctx.status);
    ctx.listeners.add(show);
    const live = liveSource(() => api.get(`${ctx.path}/status/current`), ["netin", "netout", "diskread", "diskwrite"]);
    const stop = graphs(el, VM_GRAPHS, `${ctx.path}/rrddata`, live);
    return () => { ctx.listeners.delete(show); stop(); };
  };
}

function consoleUrl(ctx, kind) {
  const q = new URLSearchParams({ console: "kvm", vmid: ctx.vmid, node: ctx.node, vmname: (ctx.status && ctx.status.name) || "" });
  q.set(kind === "serial" ? "xtermjs" : "novnc", "1");
  return `/console.html?${q}`;
}

export function openConsole(ctx, kind) {
  window.open(consoleUrl(ctx, kind), `console-${ctx.vmid}-${kind}`, "width=1024,height=800");
}

function consoleTab(ctx) {
  return (el) => {
    const frameBox = h("div", { class: "console-frame" });
    const show = (kind) => {
      clear(frameBox).append(h("iframe", { src: consoleUrl(ctx, kind), title: `${kind === "serial" ? "Serial" : "VNC"} console of VM ${ctx.vmid}`, class: `console-${kind}` }));
    };
    el.append(toolbar(
      button("noVNC", () => show("vnc"), { action: "console-vnc" }),
      button("Serial terminal", () => show("serial"), { action: "console-serial" }),
      button("Open in new window", () => openConsole(ctx, "vnc"), { action: "console-window" })), frameBox);
    fetch("/console.html", { method: "HEAD" }).then((r) => {
      if (!r.ok) clear(frameBox).append(h("p", { class: "error", text: "The console page is not installed on this server." }));
      else if (ctx.status && ctx.status.status === "running") show("vnc");
      else frameBox.append(h("p", { text: "The VM is not running." }));
    }).catch(() => {});
  };
}

function snapTree(list) {
  const byParent = new Map();
  for (const s of list) {
    const p = s.parent || "";
    if (!byParent.has(p)) byParent.set(p, []);
    byParent.get(p).push(s);
  }
  const out = [];
  const walk = (parent, depth) => {
    for (const s of (byParent.get(parent) || []).sort((a, b) => (a.snaptime || 0) - (b.snaptime || 0))) {
      out.push({ ...s, depth });
      if (s.name !== "current") walk(s.name, depth + 1);
    }
  };
  walk("", 0);
  const seen = new Set(out.map((s) => s.name));
  for (const s of list) if (!seen.has(s.name)) out.push({ ...s, depth: 0 });
  return out;
}

function snapshots(ctx) {
  return (el) => {
    const reload = () => {
      clear(el);
      loadInto(el, () => api.get(`${ctx.path}/snapshot`), (list) => {
        const rows = snapTree(list);
        const g = grid([
          { label: "Name", render: (s) => h("span", { class: `snap depth-${Math.min(s.depth, 8)}`, text: s.name === "current" ? "NOW" : s.name }) },
          { label: "RAM", render: (s) => (s.vmstate ? "Yes" : "") },
          { label: "Date/Status", render: (s) => (s.name === "current" ? "You are here!" : new Date((s.snaptime || 0) * 1000).toLocaleString()) },
          { key: "description", label: "Description" },
        ], rows, { label: "Snapshots" });
        const sel = (fn) => () => {
          const s = g.selected();
          if (!s || s.name === "current") return notify("Select a snapshot first");
          fn(s);
        };
        // The VM's state when the dialog opens (the panel's first poll may not have come back yet).
        const running = async () => (ctx.status || await api.get(`${ctx.path}/status/current`).catch(() => ({}))).status === "running";
        el.append(toolbar(
          button("Take Snapshot", async () => takeSnapshot(ctx, await running(), reload), { action: "snapshot" }),
          button("Rollback", sel(async (s) => {
            const f = dialog("Confirm", h("p", { text: `Rollback to snapshot '${s.name}'? The current state is lost.` }), {
              okText: "Rollback",
              ok: () => { runTask(`Rollback ${s.name}`, api.post(`${ctx.path}/snapshot/${encodeURIComponent(s.name)}/rollback`)).then(reload, reload); },
            });
            return f;
          }), { action: "rollback" }),
          button("Edit", sel((s) => {
            const f = form([{ name: "description", label: "Description", type: "textarea", value: s.description || "" }]);
            dialog(`Edit: Snapshot ${s.name}`, f.el, { ok: async () => { await api.put(`${ctx.path}/snapshot/${encodeURIComponent(s.name)}/config`, f.values()); reload(); } });
          }), { action: "edit" }),
          button("Remove", sel((s) => {
            dialog("Confirm", h("p", { text: `Remove snapshot '${s.name}'?` }), {
              okText: "Remove",
              ok: () => { runTask(`Delete snapshot ${s.name}`, api.del(`${ctx.path}/snapshot/${encodeURIComponent(s.name)}`)).then(reload, reload); },
            });
          }), { action: "remove" })), g.el);
      });
    };
    reload();
  };
}

function takeSnapshot(ctx, running, reload) {
  const f = form([
    { name: "snapname", label: "Name", required: true, pattern: "[A-Za-z][A-Za-z0-9_\\-]{1,39}", help: "Starts with a letter; letters, digits, - and _" },
    running ? { name: "vmstate", label: "Include RAM", type: "checkbox", value: 1 } : null,
    { name: "description", label: "Description", type: "textarea" },
  ].filter(Boolean));
  dialog(`VM ${ctx.vmid}: Take Snapshot`, f.el, {
    okText: "Take Snapshot",
    ok: async () => {
      if (!f.valid()) return false;
      const v = f.values();
      if (!v.description) delete v.description;
      const upid = await api.post(`${ctx.path}/snapshot`, v);
      runTask(`Snapshot ${v.snapname}`, upid).then(reload, reload);
    },
  });
}

function taskHistory(ctx) {
  return (el) => {
    const box = h("div");
    el.append(box);
    return every(5000, async () => {
      const list = await api.get(`/nodes/${ctx.node}/tasks`, { vmid: ctx.vmid, limit: 100 });
      clear(box).append(taskTable(list, `Tasks of VM ${ctx.vmid}`));
    });
  };
}

async function cloneDialog(ctx) {
  const next = await api.get("/cluster/nextid");
  const tpl = ctx.status && ctx.status.template;
  const f = form([
    { name: "target", label: "Target node", type: "select", options: nodes().map((n) => [n]), value: ctx.node },
    { name: "newid", label: "VM ID", type: "number", value: next, min: 100, max: 999999999, required: true },
    { name: "name", label: "Name", pattern: "[A-Za-z0-9][A-Za-z0-9.\\-]*", value: ctx.status ? `${ctx.status.name}-clone` : "" },
    { name: "full", label: "Mode", type: "select", value: tpl ? "0" : "1", options: tpl ? [["0", "Linked Clone"], ["1", "Full Clone"]] : [["1", "Full Clone"]] },
    { name: "storage", label: "Target Storage", type: "select", options: [["", "Same as source"], ...storagesOf(ctx.node, "images").map((s) => [s.storage])] },
    { name: "format", label: "Format", type: "select", options: [["qcow2", "QEMU image format (qcow2)"], ["raw", "Raw disk image (raw)"]] },
  ]);
  dialog(`Clone VM ${ctx.vmid}`, f.el, {
    okText: "Clone",
    ok: async () => {
      if (!f.valid()) return false;
      const v = f.values();
      const p = { newid: v.newid, name: v.name || undefined, full: v.full, target: v.target !== ctx.node ? v.target : undefined };
      if (v.full === 1 || v.full === "1") Object.assign(p, { storage: v.storage || undefined, format: v.format });
      runTask(`Clone VM ${ctx.vmid}`, api.post(`${ctx.path}/clone`, p)).then(() => state.refreshResources(), () => {});
    },
  });
}

function deleteDialog(ctx) {
  const f = form([
    { name: "confirm", label: `Please enter the ID to confirm (${ctx.vmid})`, required: true, validate: (v) => (v === String(ctx.vmid) ? "" : "enter the VM ID") },
    { name: "purge", label: "Purge from job configurations", type: "checkbox", value: 1 },
    { name: "destroy-unreferenced-disks", label: "Destroy unreferenced disks owned by guest", type: "checkbox", value: 1 },
  ]);
  dialog(`Destroy VM ${ctx.vmid}`, h("div", null, h("p", { class: "warning", text: `VM ${ctx.vmid} and all its disks will be permanently deleted.` }), f.el), {
    okText: "Delete",
    ok: async () => {
      if (!f.valid()) return false;
      const v = f.values();
      const upid = await api.del(ctx.path, { purge: v.purge, "destroy-unreferenced-disks": v["destroy-unreferenced-disks"] });
      const here = `#/qemu/${ctx.node}/${ctx.vmid}`;
      runTask(`Destroy VM ${ctx.vmid}`, upid).then(() => {
        state.refreshResources();
        // Leave the gone VM's page, unless the user has moved on already.
        if (location.hash === here || location.hash.startsWith(`${here}/`)) location.hash = `#/node/${ctx.node}`;
      }, () => {});
    },
  });
}

// Why NODE cannot take the VM, from GET migrate's not_allowed_nodes entry.
function notAllowedReason(info) {
  if (!info) return "offline";
  if (info.unavailable_storages) return `storage ${info.unavailable_storages.join(", ")} not available`;
  return Object.keys(info).join(", ") || "not allowed";
}

function migrateInfo(pre, targets) {
  const disks = pre.local_disks || [];
  const banned = targets.filter((n) => !(pre.allowed_nodes || []).includes(n));
  return h("div", { class: "migrate-info" },
    kvTable([
      ["Mode", pre.running ? "Online (live migration)" : "Offline"],
      ["Local disks", disks.length ? disks.map((d) => `${d.drivename}: ${d.volid} (${bytes(d.size)})`).join(", ") : "none"],
      ["Not allowed", banned.length ? banned.map((n) => `${n}: ${notAllowedReason((pre.not_allowed_nodes || {})[n])}`).join("; ") : "none"],
    ]),
    pre.running && disks.length ? h("p", { class: "warning", text: "Migration with local disks might take long." }) : null);
}

async function migrateDialog(ctx) {
  const pre = await api.get(`${ctx.path}/migrate`);
  const targets = nodes().filter((n) => n !== ctx.node);
  const allowedNodes = targets.filter((n) => (pre.allowed_nodes || []).includes(n));
  const f = form([
    { name: "source", label: "Source node", value: ctx.node, disabled: true },
    { name: "target", label: "Target node", type: "select", options: allowedNodes.map((n) => [n]), required: true },
  ]);
  dialog(`Migrate VM ${ctx.vmid}`, h("div", null, f.el, migrateInfo(pre, targets)), {
    okText: "Migrate",
    ok: () => {
      const target = f.values().target;
      if (!target) throw new Error("No other online node can take the VM");
      const p = { target, online: pre.running ? 1 : undefined, "with-local-disks": (pre.local_disks || []).length ? 1 : undefined };
      const here = `#/qemu/${ctx.node}/${ctx.vmid}`;
      runTask(`VM ${ctx.vmid} - Migrate`, api.post(`${ctx.path}/migrate`, p)).then(() => {
        state.refreshResources();
        if (location.hash === here || location.hash.startsWith(`${here}/`)) location.hash = `#/qemu/${target}/${ctx.vmid}`;
      }, () => {});
    },
  });
}

function templateDialog(ctx) {
  dialog("Confirm", h("p", { text: `Convert VM ${ctx.vmid} to a template? This cannot be undone.` }), {
    okText: "Convert",
    ok: () => { runTask(`Template VM ${ctx.vmid}`, api.post(`${ctx.path}/template`)).then(() => state.refreshResources(), () => {}); },
  });
}

function actionButtons(ctx) {
  const b = {
    start: button("Start", () => power(ctx, "start", "Start"), { action: "start" }),
    shutdown: button("Shutdown", () => power(ctx, "shutdown", "Shutdown"), { action: "shutdown" }),
    stop: button("Stop", () => power(ctx, "stop", "Stop"), { action: "stop" }),
    reboot: button("Reboot", () => power(ctx, "reboot", "Reboot"), { action: "reboot" }),
    suspend: button("Pause", () => power(ctx, "suspend", "Pause"), { action: "suspend" }),
    resume: button("Resume", () => power(ctx, "resume", "Resume"), { action: "resume" }),
    console: button("Console", () => openConsole(ctx, "vnc"), { action: "console" }),
    migrate: button("Migrate", () => migrateDialog(ctx).catch((e) => notify(e.message, "error")), { action: "migrate" }),
    clone: button("Clone", () => cloneDialog(ctx).catch((e) => notify(e.message, "error")), { action: "clone" }),
    template: button("Convert to template", () => templateDialog(ctx), { action: "template" }),
    remove: button("Remove", () => deleteDialog(ctx), { action: "remove", class: "danger" }),
  };
  const apply = (st) => {
    const ok = allowed(st);
    for (const [k, el] of Object.entries(b)) el.disabled = !ok[k] || (k === "migrate" && nodes().length < 2);
  };
  apply(null);
  return { list: Object.values(b), apply };
}

export function render(main, [node, vmid], tab) {
  const ctx = ctxOf(node, vmid);
  const acts = actionButtons(ctx);
  const row = state.resources.find((r) => r.type === "qemu" && String(r.vmid) === String(vmid));
  const title = row && row.name ? `Virtual Machine ${vmid} (${row.name}) on node '${node}'` : `Virtual Machine ${vmid} on node '${node}'`;
  const p = panel(main, {
    title, base: `#/qemu/${node}/${vmid}`, actions: acts.list,
    tabs: [
      { id: "summary", label: "Summary", render: summary(ctx) },
      { id: "console", label: "Console", render: consoleTab(ctx) },
      { id: "hardware", label: "Hardware", render: (el) => hardware(ctx, el) },
      { id: "options", label: "Options", render: (el) => optionsTab(ctx, el) },
      { id: "snapshots", label: "Snapshots", render: snapshots(ctx) },
      { id: "tasks", label: "Task History", render: taskHistory(ctx) },
    ],
  }, tab);
  let lastTpl = null;
  ctx.poll = async () => {
    try {
      const st = await api.get(`${ctx.path}/status/current`);
      ctx.status = st;
      acts.apply(st);
      p.header.querySelector("h1").textContent = `Virtual Machine ${vmid} (${st.name}) on node '${node}'${st.template ? " - template" : ""}`;
      main.dataset.vmStatus = st.status;
      if (lastTpl !== null && lastTpl !== !!st.template) p.rerender();
      lastTpl = !!st.template;
      for (const fn of ctx.listeners) fn(st);
    } catch (e) {
      if (e.status === 500 && /does not exist/.test(e.message)) acts.apply(null);
    }
  };
  const stop = every(3000, ctx.poll);
  return { setTab: p.setTab, destroy: () => { stop(); p.destroy(); } };
}
