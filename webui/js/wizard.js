// The Create VM wizard, step by step as Proxmox's: General, OS, System,
// Disks, CPU, Memory, Network, Confirm; Proxmox's defaults and checks.
import * as api from "./api.js";
import { h, clear, form, kvTable, notify } from "./dom.js";
import { runTask } from "./tasks.js";
import { state, nodes, storagesOf } from "./state.js";
import { BUSES, CACHE, cpuFields, applyDiskOptions, netFields, netValue, bridgeOptions } from "./vm_hw.js";
import * as ps from "./propstr.js";

const OS_TYPES = [["l26", "Linux 6.x - 2.6 Kernel"], ["l24", "Linux 2.4 Kernel"], ["win11", "Windows 11/2022/2025"],
  ["win10", "Windows 10/2016/2019"], ["win8", "Windows 8.x/2012/2012r2"], ["win7", "Windows 7/2008r2"], ["solaris", "Solaris Kernel"], ["other", "Other"]];

async function volumes(node, content, vmid) {
  const out = [];
  for (const s of storagesOf(node, content)) {
    const list = await api.get(`/nodes/${node}/storage/${s.storage}/content`, { content, vmid }).catch(() => []);
    out.push(...list.filter((v) => !vmid || Number(v.vmid) === Number(vmid)));
  }
  return out;
}

function general(ctx) {
  const node = nodes()[0] || "";
  return [
    { name: "node", label: "Node", type: "select", options: nodes().map((n) => [n]), value: node, required: true },
    { name: "vmid", label: "VM ID", type: "number", min: 100, max: 999999999, step: 1, value: ctx.nextid, required: true },
    { name: "name", label: "Name", pattern: "[A-Za-z0-9]([A-Za-z0-9\\-]*[A-Za-z0-9])?(\\.[A-Za-z0-9]([A-Za-z0-9\\-]*[A-Za-z0-9])?)*", help: "A valid DNS name" },
    { name: "onboot", label: "Start at boot", type: "checkbox", value: 0 },
  ];
}

async function os(ctx) {
  const isos = await volumes(ctx.values.node, "iso");
  return [
    { name: "media", label: "Media", type: "select", options: [["iso", "Use CD/DVD disc image file (iso)"], ["none", "Do not use any media"]], value: isos.length ? "iso" : "none" },
    { name: "iso", label: "ISO image", type: "select", options: isos.length ? isos.map((v) => [v.volid]) : [["", "No ISO images found"]] },
    { name: "ostype", label: "Guest OS type", type: "select", options: OS_TYPES, value: "l26" },
  ];
}

function system() {
  return [
    { name: "vga", label: "Graphic card", type: "select", options: [["", "Default"], ["std", "Standard VGA"], ["virtio", "VirtIO-GPU"], ["serial0", "Serial terminal 0"]] },
    { name: "machine", label: "Machine", type: "select", options: [["", "Default (i440fx)"], ["q35", "q35"]] },
    { name: "bios", label: "BIOS", type: "select", options: [["seabios", "Default (SeaBIOS)"], ["ovmf", "OVMF (UEFI)"]] },
    { name: "scsihw", label: "SCSI Controller", type: "select", value: "virtio-scsi-single",
      options: [["virtio-scsi-single", "VirtIO SCSI single"], ["virtio-scsi-pci", "VirtIO SCSI"], ["lsi", "LSI 53C895A"], ["megasas", "MegaRAID SAS 8708EM2"], ["pvscsi", "VMware PVSCSI"]] },
    { name: "agent", label: "QEMU Agent", type: "checkbox", value: 0 },
    { name: "serial0", label: "Serial port (socket)", type: "checkbox", value: 1, help: "Lets the serial console reach the guest" },
  ];
}

async function disks(ctx) {
  const v = ctx.values;
  const imports = await volumes(v.node, "import");
  const own = await volumes(v.node, "images", v.vmid);
  const sources = [["new", "New disk"], ...imports.map((x) => [`import:${x.volid}`, `Import from ${x.volid}`]),
    ...own.map((x) => [`existing:${x.volid}`, `Use existing ${x.volid}`])];
  return [
    { name: "bus", label: "Bus/Device", type: "select", options: Object.keys(BUSES).map((b) => [b, b === "virtio" ? "VirtIO Block" : b.toUpperCase()]), value: "scsi" },
    { name: "source", label: "Disk source", type: "select", options: sources, value: "new" },
    { name: "storage", label: "Storage", type: "select", options: storagesOf(v.node, "images").map((s) => [s.storage]), required: true },
    { name: "size", label: "Disk size (GiB)", type: "number", min: 0.001, max: 131072, step: "any", value: 32, required: true },
    { name: "format", label: "Format", type: "select", options: [["qcow2", "QEMU image format (qcow2)"], ["raw", "Raw disk image (raw)"]] },
    { name: "cache", label: "Cache", type: "select", options: CACHE },
    { name: "discard", label: "Discard", type: "checkbox", value: 0 },
    { name: "iothread", label: "IO thread", type: "checkbox", value: 1 },
    { name: "ssd", label: "SSD emulation", type: "checkbox", value: 0 },
  ];
}

function cpu() {
  return cpuFields({});
}

function memory() {
  return [{ name: "memory", label: "Memory (MiB)", type: "number", min: 16, max: 4194304, step: 1, value: 2048, required: true }];
}

async function network(ctx) {
  const nic = netFields([], await bridgeOptions(ctx.values.node)).filter((x) => x.name !== "link_down");
  return [{ name: "nonet", label: "No network device", type: "checkbox", value: 0 }, ...nic];
}

function diskValue(v) {
  const key = `${v.bus}0`;
  let list;
  if (v.source.startsWith("import:")) list = [["file", `${v.storage}:0`], ["import-from", v.source.slice(7)], ["format", v.format]];
  else if (v.source.startsWith("existing:")) list = [["file", v.source.slice(9)]];
  else list = [["file", `${v.storage}:${v.size}`], ["format", v.format]];
  applyDiskOptions(list, v, v.bus);
  return [key, ps.format(list, "file")];
}

// The create parameters from all steps' values.
export function createParams(v) {
  const p = { vmid: v.vmid, name: v.name || undefined, ostype: v.ostype, memory: v.memory, sockets: v.sockets, cores: v.cores, cpu: v.cpu,
    scsihw: v.scsihw, bios: v.bios !== "seabios" ? v.bios : undefined, machine: v.machine || undefined, vga: v.vga || undefined,
    agent: v.agent ? "1" : undefined, onboot: v.onboot ? 1 : undefined, serial0: v.serial0 ? "socket" : undefined };
  const [dk, dv] = diskValue(v);
  p[dk] = dv;
  const order = [dk];
  if (v.media === "iso" && v.iso) {
    p.ide2 = `${v.iso},media=cdrom`;
    order.push("ide2");
  }
  if (!v.nonet) {
    p.net0 = netValue(v);
    order.push("net0");
  }
  p.boot = `order=${order.join(";")}`;
  return Object.fromEntries(Object.entries(p).filter(([, x]) => x !== undefined && x !== ""));
}

const STEPS = [
  { id: "general", label: "General", fields: general, check: checkVmid },
  { id: "os", label: "OS", fields: os },
  { id: "system", label: "System", fields: system },
  { id: "disks", label: "Disks", fields: disks },
  { id: "cpu", label: "CPU", fields: cpu },
  { id: "memory", label: "Memory", fields: memory },
  { id: "network", label: "Network", fields: network },
  { id: "confirm", label: "Confirm", fields: null },
];

async function checkVmid(v) {
  try {
    await api.get("/cluster/nextid", { vmid: v.vmid });
  } catch (e) {
    if (e.status === 400) throw new Error(`VM ID ${v.vmid} is already in use`);
    throw e;
  }
}

// Keeps the disk fields consistent with the chosen source.
function wireDisks(f) {
  const sync = () => {
    const src = f.input("source").value;
    f.input("size").disabled = src !== "new";
    f.input("format").disabled = src.startsWith("existing:");
    f.input("storage").disabled = src.startsWith("existing:");
  };
  f.input("source").addEventListener("change", sync);
  sync();
}

function wireNetwork(f) {
  const sync = () => {
    for (const n of ["bridge", "model", "macaddr", "tag", "firewall"]) f.input(n).disabled = f.input("nonet").checked;
  };
  f.input("nonet").addEventListener("change", sync);
  sync();
}

function wireOs(f) {
  const sync = () => { f.input("iso").disabled = f.input("media").value !== "iso"; };
  f.input("media").addEventListener("change", sync);
  sync();
}

const WIRES = { disks: wireDisks, network: wireNetwork, os: wireOs };

export async function openWizard() {
  const ctx = { nextid: await api.get("/cluster/nextid"), values: {}, forms: {}, step: 0 };
  const stepNav = h("ol", { class: "wizard-steps", "aria-label": "Steps" }, STEPS.map((s) => h("li", { "data-step": s.id, text: s.label })));
  const body = h("div", { class: "wizard-body" });
  const err = h("p", { class: "error", role: "alert" });
  const back = h("button", { type: "button", text: "Back", "data-action": "back" });
  const next = h("button", { type: "button", class: "primary", text: "Next", "data-action": "next" });
  const cancel = h("button", { type: "button", text: "Cancel", "data-action": "cancel" });
  const dlg = h("dialog", { class: "wizard wide", "aria-label": "Create: Virtual Machine" },
    h("h2", { text: "Create: Virtual Machine" }), stepNav, body, err, h("div", { class: "buttons" }, back, next, cancel));
  const close = () => { dlg.close(); dlg.remove(); };
  cancel.addEventListener("click", close);
  dlg.addEventListener("cancel", (e) => { e.preventDefault(); close(); });
  let startAfter = null;

  async function show(i) {
    ctx.step = i;
    const s = STEPS[i];
    for (const li of stepNav.children) li.classList.toggle("current", li.dataset.step === s.id);
    for (const li of stepNav.children) li.toggleAttribute("aria-current", li.dataset.step === s.id);
    back.disabled = i === 0;
    next.textContent = s.id === "confirm" ? "Finish" : "Next";
    err.textContent = "";
    clear(body);
    if (s.id === "confirm") {
      const params = createParams(ctx.values);
      startAfter = h("input", { type: "checkbox", id: "wizard-start" });
      body.append(kvTable(Object.entries({ node: ctx.values.node, ...params }).map(([k, v]) => [k, String(v)]), "kv confirm"),
        h("div", { class: "field field-checkbox" }, h("label", { for: "wizard-start", text: "Start after created" }), startAfter));
      next.focus();
      return;
    }
    if (!ctx.forms[s.id] || s.id === "disks" || s.id === "os" || s.id === "network") {
      const specs = await s.fields(ctx);
      ctx.forms[s.id] = form(specs.map((x) => (s.id in ctx.forms && ctx.values[x.name] !== undefined && x.type !== "select") ? { ...x, value: ctx.values[x.name] } : x));
      if (WIRES[s.id]) WIRES[s.id](ctx.forms[s.id]);
    }
    body.append(ctx.forms[s.id].el);
    const first = body.querySelector("input:not([disabled]), select:not([disabled])");
    if (first) first.focus();
  }

  async function onNext() {
    const s = STEPS[ctx.step];
    err.textContent = "";
    next.disabled = true;
    try {
      if (s.id === "confirm") return await finish();
      const f = ctx.forms[s.id];
      if (!f.valid()) return;
      Object.assign(ctx.values, f.values());
      if (s.check) await s.check(ctx.values);
      await show(ctx.step + 1);
    } catch (e) {
      err.textContent = e.detail ? e.detail() : e.message;
    } finally {
      next.disabled = false;
    }
  }

  async function finish() {
    const v = ctx.values;
    const params = createParams(v);
    const upid = await api.post(`/nodes/${v.node}/qemu`, params);
    const start = startAfter && startAfter.checked;
    close();
    location.hash = `#/qemu/${v.node}/${v.vmid}`;
    state.refreshResources();
    try {
      await runTask(`VM ${v.vmid} - Create`, upid);
      state.refreshResources();
      if (start) await runTask(`VM ${v.vmid} - Start`, api.post(`/nodes/${v.node}/qemu/${v.vmid}/status/start`));
      state.refreshResources();
    } catch (e) {
      notify(e.message, "error");
    }
  }

  back.addEventListener("click", () => show(Math.max(0, ctx.step - 1)));
  next.addEventListener("click", onNext);
  dlg.addEventListener("keydown", (e) => {
    if (e.key === "Enter" && e.target.tagName === "INPUT" && e.target.type !== "checkbox") { e.preventDefault(); onNext(); }
  });
  document.body.append(dlg);
  dlg.showModal();
  await show(0);
}
