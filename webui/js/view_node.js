// Node views: summary with live graphs, task history, storages, network.
import * as api from "./api.js";
import { h, clear, bytes, kvTable, usage, grid, duration, percent } from "./dom.js";
import { panel, loadInto, every } from "./panel.js";
import { graphs, liveSource } from "./charts.js";
import { taskTable } from "./tasks.js";

const NODE_GRAPHS = [
  { title: "CPU usage", unit: "percent", series: [{ key: "cpu", label: "CPU usage" }, { key: "iowait", label: "IO delay" }] },
  { title: "Server load", unit: "number", series: [{ key: "loadavg", label: "Load average" }] },
  { title: "Memory usage", unit: "bytes", series: [{ key: "memtotal", label: "Total" }, { key: "memused", label: "RAM usage" }] },
  { title: "Network traffic", unit: "rate", series: [{ key: "netin", label: "netin" }, { key: "netout", label: "netout" }] },
];

// status -> the rrddata field names, for the live fallback.
function statusPoint(st) {
  return {
    cpu: st.cpu, iowait: st.wait, loadavg: Number((st.loadavg || [])[0]),
    memtotal: st.memory && st.memory.total, memused: st.memory && st.memory.used,
    netin: st.netin, netout: st.netout,
  };
}

function summary(node) {
  return (el) => {
    const info = h("div", { class: "card wide" });
    el.append(info);
    const stopInfo = every(3000, async () => {
      const st = await api.get(`/nodes/${node}/status`);
      clear(info).append(h("h2", { text: `${node} (Uptime: ${duration(st.uptime)})` }), kvTable([
        ["CPU usage", `${percent(st.cpu)} of ${st.cpuinfo.cpus} CPU(s)`],
        ["IO delay", percent(st.wait)],
        ["Load average", (st.loadavg || []).join(", ")],
        ["RAM usage", usage(st.memory.used, st.memory.total)],
        ["SWAP usage", usage(st.swap.used, st.swap.total)],
        ["Root FS", usage(st.rootfs.used, st.rootfs.total)],
        ["CPU(s)", `${st.cpuinfo.cpus} x ${st.cpuinfo.model} (${st.cpuinfo.sockets} Socket)`],
        ["Kernel Version", st.kversion],
        ["Manager Version", st.pveversion],
      ]));
    });
    const live = liveSource(async () => statusPoint(await api.get(`/nodes/${node}/status`)), ["netin", "netout"]);
    const stopGraphs = graphs(el, NODE_GRAPHS, `/nodes/${node}/rrddata`, live);
    return () => { stopInfo(); stopGraphs(); };
  };
}

function tasks(node) {
  return (el) => {
    const box = h("div");
    el.append(box);
    return every(5000, async () => {
      const list = await api.get(`/nodes/${node}/tasks`, { limit: 100 });
      clear(box).append(taskTable(list, `Tasks of ${node}`));
    });
  };
}

function storages(node) {
  return (el) => loadInto(el, () => api.get(`/nodes/${node}/storage`), (rows) => {
    el.append(grid([
      { key: "storage", label: "Name" }, { key: "type", label: "Type" }, { key: "content", label: "Content" },
      { label: "Active", render: (r) => (r.active ? "Yes" : "No") },
      { label: "Usage", render: (r) => usage(r.used, r.total) },
      { label: "Available", render: (r) => bytes(r.avail) },
    ], rows, { label: "Storages", onActivate: (r) => { location.hash = `#/storage/${node}/${r.storage}`; } }).el);
  });
}

function network(node) {
  return (el) => loadInto(el, () => api.get(`/nodes/${node}/network`), (rows) => {
    const yes = (v) => (v ? "Yes" : "No");
    el.append(grid([
      { key: "iface", label: "Name" }, { key: "type", label: "Type" },
      { label: "Active", render: (r) => yes(r.active) }, { label: "Autostart", render: (r) => yes(r.autostart) },
      { label: "Ports/Slaves", render: (r) => r.bridge_ports ?? r.slaves ?? "" },
      { key: "cidr", label: "CIDR" }, { key: "cidr6", label: "CIDR (IPv6)" },
    ], rows.sort((a, b) => (a.iface < b.iface ? -1 : 1)), { label: "Network", empty: "No bridges, bonds, VLANs or NICs" }).el);
  });
}

export function render(main, [node], tab) {
  return panel(main, {
    title: `Node '${node}'`, base: `#/node/${node}`,
    tabs: [
      { id: "summary", label: "Summary", render: summary(node) },
      { id: "tasks", label: "Task History", render: tasks(node) },
      { id: "storage", label: "Storage", render: storages(node) },
      { id: "network", label: "Network", render: network(node) },
    ],
  }, tab);
}
