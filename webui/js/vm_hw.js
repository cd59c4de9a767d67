// A VM's Hardware and Options tabs: the config as rows, with add/edit/remove
// dialogs for disks, CD/DVD drives, NICs, CPU and memory, and disk resize.
import * as api from "./api.js";
import { h, clear, grid, toolbar, button, form, dialog, notify, bytes } from "./dom.js";
import { loadInto } from "./panel.js";
import { runTask } from "./tasks.js";
import { storagesOf } from "./state.js";
import * as ps from "./propstr.js";

export const BUSES = { ide: 4, sata: 6, scsi: 31, virtio: 16 };
export const NIC_MODELS = [["virtio", "VirtIO (paravirtualized)"], ["e1000", "Intel E1000"], ["e1000e", "Intel E1000E"],
  ["rtl8139", "Realtek RTL8139"], ["vmxnet3", "VMware vmxnet3"]];
export const CPU_TYPES = ["x86-64-v2-AES", "x86-64-v2", "x86-64-v3", "x86-64-v4", "kvm64", "qemu64", "host", "max"];
export const CACHE = [["", "Default (No cache)"], ["directsync", "Direct sync"], ["writethrough", "Write through"],
  ["writeback", "Write back"], ["unsafe", "Write back (unsafe)"], ["none", "No cache"]];
const NAME_RE = "[A-Za-z0-9][A-Za-z0-9.\\-]*";

// The first free KEY of BUS (scsi0, scsi1...) in CONF.
export function freeSlot(conf, bus) {
  for (let i = 0; i < BUSES[bus]; i++) if (!(`${bus}${i}` in conf)) return `${bus}${i}`;
  return null;
}

function label(key, value) {
  if (key === "memory") return "Memory";
  if (key === "sockets" || key === "cores") return "Processors";
  if (key === "efidisk0") return "EFI Disk";
  if (ps.isCdrom(value)) return `CD/DVD Drive (${key})`;
  if (/^unused\d+$/.test(key)) return `Unused Disk ${key.slice(6)}`;
  if (ps.isDisk(key)) return `Hard Disk (${key})`;
  if (/^net\d+$/.test(key)) return `Network Device (${key})`;
  if (/^serial\d+$/.test(key)) return `Serial Port (${key})`;
  return { bios: "BIOS", vga: "Display", machine: "Machine", scsihw: "SCSI Controller", cpu: "CPU type", efidisk0: "EFI Disk" }[key] || key;
}

const HW_KEYS = /^(memory|balloon|bios|vga|machine|scsihw|cpu|(ide|sata|scsi|virtio|unused|net|serial)\d+|efidisk0|tpmstate0)$/;

function hwRows(conf) {
  const rows = [
    { key: "memory", label: "Memory", value: `${conf.memory || 2048} MiB` },
    { key: "cores", label: "Processors", value: `${(conf.sockets || 1) * (conf.cores || 1)} (${conf.sockets || 1} sockets, ${conf.cores || 1} cores)${conf.cpu ? ` [${conf.cpu}]` : ""}` },
    { key: "bios", label: "BIOS", value: conf.bios || "Default (SeaBIOS)" },
    { key: "vga", label: "Display", value: conf.vga || "Default" },
    { key: "machine", label: "Machine", value: conf.machine || "Default (i440fx)" },
    { key: "scsihw", label: "SCSI Controller", value: conf.scsihw || "Default (LSI 53C895A)" },
  ];
  const order = (k) => ["ide", "sata", "scsi", "virtio", "efidisk", "unused", "net", "serial"].findIndex((p) => k.startsWith(p));
  const keys = Object.keys(conf).filter((k) => HW_KEYS.test(k) && !["memory", "balloon", "bios", "vga", "machine", "scsihw", "cpu"].includes(k));
  keys.sort((a, b) => order(a) - order(b) || a.localeCompare(b, undefined, { numeric: true }));
  for (const k of keys) rows.push({ key: k, label: label(k, conf[k]), value: conf[k] });
  return rows;
}

async function applyConfig(ctx, params, what) {
  await runTask(what, api.post(`${ctx.path}/config`, params));
}

function memoryDialog(ctx, conf, reload) {
  const f = form([{ name: "memory", label: "Memory (MiB)", type: "number", min: 16, max: 4194304, step: 1, value: parseInt(conf.memory || "2048", 10), required: true }]);
  dialog("Edit: Memory", f.el, { ok: async () => { if (!f.valid()) return false; await applyConfig(ctx, f.values(), "Memory"); reload(); } });
}

export function cpuFields(conf) {
  return [
    { name: "sockets", label: "Sockets", type: "number", min: 1, max: 4, value: conf.sockets || 1, required: true },
    { name: "cores", label: "Cores", type: "number", min: 1, max: 128, value: conf.cores || 1, required: true },
    { name: "cpu", label: "Type", type: "select", options: CPU_TYPES.map((t) => [t, t === "x86-64-v2-AES" ? "x86-64-v2-AES (default)" : t]), value: (conf.cpu || "x86-64-v2-AES").split(",")[0] },
  ];
}

function cpuDialog(ctx, conf, reload) {
  const f = form(cpuFields(conf));
  dialog("Edit: Processors", f.el, { ok: async () => { if (!f.valid()) return false; await applyConfig(ctx, f.values(), "Processors"); reload(); } });
}

// Disk option fields (cache, discard, iothread, ssd) from an existing value.
export function diskOptionFields(list) {
  return [
    { name: "cache", label: "Cache", type: "select", options: CACHE, value: ps.get(list, "cache") || "" },
    { name: "discard", label: "Discard", type: "checkbox", value: ps.get(list, "discard") === "on" },
    { name: "iothread", label: "IO thread", type: "checkbox", value: ps.get(list, "iothread") === "1" },
    { name: "ssd", label: "SSD emulation", type: "checkbox", value: ps.get(list, "ssd") === "1" },
  ];
}

export function applyDiskOptions(list, v, bus) {
  ps.set(list, "cache", v.cache);
  ps.set(list, "discard", v.discard ? "on" : "");
  ps.set(list, "iothread", v.iothread && (bus === "scsi" || bus === "virtio") ? "1" : "");
  ps.set(list, "ssd", v.ssd && bus !== "virtio" ? "1" : "");
  return list;
}

function busOptions() {
  return Object.keys(BUSES).map((b) => [b, b.toUpperCase() === "VIRTIO" ? "VirtIO Block" : b.toUpperCase()]);
}

function addDiskDialog(ctx, conf, reload) {
  const st = storagesOf(ctx.node, "images").map((s) => [s.storage]);
  const f = form([
    { name: "bus", label: "Bus/Device", type: "select", options: busOptions(), value: "scsi" },
    { name: "storage", label: "Storage", type: "select", options: st, required: true },
    { name: "size", label: "Disk size (GiB)", type: "number", min: 0.001, max: 131072, step: "any", value: 32, required: true },
    { name: "format", label: "Format", type: "select", options: [["qcow2", "QEMU image format (qcow2)"], ["raw", "Raw disk image (raw)"]] },
    ...diskOptionFields([["iothread", "1"]]),
  ]);
  dialog("Add: Hard Disk", f.el, {
    ok: async () => {
      if (!f.valid()) return false;
      const v = f.values();
      const key = freeSlot(conf, v.bus);
      if (!key) throw new Error(`no free ${v.bus} slot`);
      const list = applyDiskOptions([["file", `${v.storage}:${v.size}`], ["format", v.format]], v, v.bus);
      await applyConfig(ctx, { [key]: ps.format(list, "file") }, `Add ${key}`);
      reload();
    },
  });
}

function editDiskDialog(ctx, key, value, reload) {
  const list = ps.parse(value, "file");
  const f = form(diskOptionFields(list));
  dialog(`Edit: Hard Disk (${key})`, h("div", null, h("p", { text: `Disk image: ${ps.get(list, "file")}` }), f.el), {
    ok: async () => {
      applyDiskOptions(list, f.values(), key.replace(/\d+$/, ""));
      await applyConfig(ctx, { [key]: ps.format(list, "file") }, `Edit ${key}`);
      reload();
    },
  });
}

async function isoOptions(node) {
  const out = [["none", "Do not use any media"]];
  for (const s of storagesOf(node, "iso")) {
    const c = await api.get(`/nodes/${node}/storage/${s.storage}/content`, { content: "iso" }).catch(() => []);
    for (const v of c) out.push([v.volid, v.volid]);
  }
  return out;
}

async function cdromDialog(ctx, conf, key, reload) {
  const isos = await isoOptions(ctx.node);
  const cur = key ? ps.get(ps.parse(conf[key], "file"), "file") : "none";
  const f = form([
    key ? null : { name: "slot", label: "Bus/Device", type: "select", options: [["ide", "IDE"], ["sata", "SATA"], ["scsi", "SCSI"]], value: "ide" },
    { name: "iso", label: "ISO image", type: "select", options: isos, value: cur },
  ].filter(Boolean));
  dialog(key ? `Edit: CD/DVD Drive (${key})` : "Add: CD/DVD Drive", f.el, {
    ok: async () => {
      const v = f.values();
      const k = key || (v.slot === "ide" && !("ide2" in conf) ? "ide2" : freeSlot(conf, v.slot));
      if (!k) throw new Error("no free slot");
      await applyConfig(ctx, { [k]: `${v.iso},media=cdrom` }, `CD/DVD ${k}`);
      reload();
    },
  });
}

// The bridge choices of NODE (GET /nodes/{node}/network?type=any_bridge),
// user-mode NAT first; CURRENT stays listed when the node lacks it.
export async function bridgeOptions(node, current = "") {
  let names = [];
  try {
    names = (await api.get(`/nodes/${node}/network`, { type: "any_bridge" })).map((i) => i.iface).sort();
  } catch (e) {
    notify(`Cannot list the bridges of ${node}: ${e.message}`, "error");
  }
  if (current && !names.includes(current)) names.push(current);
  return [["", "none (user-mode NAT)"], ...names.map((n) => [n])];
}

export function netFields(list, bridges) {
  const model = NIC_MODELS.map(([m]) => m).find((m) => ps.get(list, m) !== undefined) || "virtio";
  return [
    { name: "bridge", label: "Bridge", type: "select", options: bridges, value: ps.get(list, "bridge") || "" },
    { name: "model", label: "Model", type: "select", options: NIC_MODELS, value: model },
    { name: "macaddr", label: "MAC address", value: ps.get(list, model) || "", pattern: "[0-9A-Fa-f]{2}(:[0-9A-Fa-f]{2}){5}", placeholder: "auto" },
    { name: "tag", label: "VLAN Tag", type: "number", min: 1, max: 4094, value: ps.get(list, "tag") || "", placeholder: "no VLAN" },
    { name: "firewall", label: "Firewall", type: "checkbox", value: list.length ? ps.get(list, "firewall") === "1" : 1 },
    { name: "link_down", label: "Disconnect", type: "checkbox", value: ps.get(list, "link_down") === "1" },
  ];
}

export function netValue(v) {
  const list = [[v.model, v.macaddr || ""]];
  if (!v.macaddr) list[0] = [v.model, ""];
  ps.set(list, "bridge", v.bridge);
  ps.set(list, "tag", v.tag);
  ps.set(list, "firewall", v.firewall ? "1" : "");
  ps.set(list, "link_down", v.link_down ? "1" : "");
  return ps.format(list, null);
}

async function netDialog(ctx, conf, key, reload) {
  const list = key ? ps.parse(conf[key]) : [];
  const f = form(netFields(list, await bridgeOptions(ctx.node, ps.get(list, "bridge"))));
  dialog(key ? `Edit: Network Device (${key})` : "Add: Network Device", f.el, {
    ok: async () => {
      if (!f.valid()) return false;
      let k = key;
      for (let i = 0; !k && i < 32; i++) if (!(`net${i}` in conf)) k = `net${i}`;
      await applyConfig(ctx, { [k]: netValue(f.values()) }, `Network ${k}`);
      reload();
    },
  });
}

function efiDialog(ctx, conf, reload) {
  const f = form([
    { name: "storage", label: "Storage", type: "select", options: storagesOf(ctx.node, "images").map((s) => [s.storage]), required: true },
    { name: "keys", label: "Pre-Enroll keys", type: "checkbox", value: 1 },
  ]);
  const hint = conf.bios === "ovmf" ? null : h("p", { class: "warning", text: "The EFI disk is used only with the OVMF (UEFI) BIOS." });
  dialog("Add: EFI Disk", h("div", null, hint, f.el), {
    ok: async () => {
      if (!f.valid()) return false;
      const v = f.values();
      await applyConfig(ctx, { efidisk0: `${v.storage}:1,efitype=4m,pre-enrolled-keys=${v.keys}` }, "EFI Disk");
      reload();
    },
  });
}

function resizeDialog(ctx, conf, key, reload) {
  const size = ps.get(ps.parse(conf[key], "file"), "size");
  const f = form([{ name: "grow", label: "Size Increment (GiB)", type: "number", min: 0, max: 131072, step: "any", value: 1, required: true }]);
  dialog(`Resize disk ${key}`, h("div", null, h("p", { text: `Current size: ${size ? bytes(ps.sizeBytes(size)) : "unknown"}` }), f.el), {
    okText: "Resize disk",
    ok: async () => {
      if (!f.valid()) return false;
      await runTask(`Resize ${key}`, api.put(`${ctx.path}/resize`, { disk: key, size: `+${f.values().grow}G` }));
      reload();
    },
  });
}

function editRow(ctx, conf, row, reload) {
  const k = row.key;
  if (k === "memory") return memoryDialog(ctx, conf, reload);
  if (k === "cores") return cpuDialog(ctx, conf, reload);
  if (ps.isCdrom(conf[k])) return cdromDialog(ctx, conf, k, reload);
  if (/^net\d+$/.test(k)) return netDialog(ctx, conf, k, reload).catch((e) => notify(e.message, "error"));
  if (k === "efidisk0") return notify("The EFI disk has no options to edit");
  if (ps.isDisk(k) && !k.startsWith("unused")) return editDiskDialog(ctx, k, conf[k], reload);
  return simpleDialog(ctx, conf, k, row.label, reload);
}

function simpleDialog(ctx, conf, key, title, reload) {
  const choices = {
    bios: [["seabios", "Default (SeaBIOS)"], ["ovmf", "OVMF (UEFI)"]],
    vga: [["std", "Standard VGA"], ["virtio", "VirtIO-GPU"], ["qxl", "SPICE"], ["serial0", "Serial terminal 0"], ["none", "none"]],
    scsihw: [["virtio-scsi-single", "VirtIO SCSI single"], ["virtio-scsi-pci", "VirtIO SCSI"], ["lsi", "LSI 53C895A"], ["megasas", "MegaRAID SAS 8708EM2"], ["pvscsi", "VMware PVSCSI"]],
    machine: [["pc", "Default (i440fx)"], ["q35", "q35"]],
  }[key];
  const f = form([choices ? { name: key, label: title, type: "select", options: choices, value: conf[key] || choices[0][0] } : { name: key, label: title, value: conf[key] || "" }]);
  dialog(`Edit: ${title}`, f.el, { ok: async () => { if (!f.valid()) return false; await applyConfig(ctx, f.values(), title); reload(); } });
}

export function hardware(ctx, el) {
  const reload = () => {
    clear(el);
    loadInto(el, () => api.get(`${ctx.path}/config`), (conf) => {
      const rows = hwRows(conf);
      const g = grid([{ key: "label", label: "Device" }, { key: "value", label: "Value" }], rows,
        { label: "Hardware", onActivate: (r) => editRow(ctx, conf, r, reload) });
      const need = (fn, test) => () => {
        const r = g.selected();
        if (!r || (test && !test(r))) return notify("Select a suitable device first");
        fn(r);
      };
      const removable = (r) => /^(ide|sata|scsi|virtio|unused|net|serial)\d+$|^efidisk0$/.test(r.key);
      el.append(toolbar(
        button("Add Hard Disk", () => addDiskDialog(ctx, conf, reload), { action: "add-disk" }),
        button("Add CD/DVD Drive", () => cdromDialog(ctx, conf, null, reload).catch((e) => notify(e.message, "error")), { action: "add-cdrom" }),
        button("Add Network Device", () => netDialog(ctx, conf, null, reload).catch((e) => notify(e.message, "error")), { action: "add-net" }),
        button("Add EFI Disk", () => efiDialog(ctx, conf, reload), { action: "add-efi", disabled: "efidisk0" in conf }),
        button("Edit", need((r) => editRow(ctx, conf, r, reload)), { action: "edit" }),
        button("Remove", need(async (r) => {
          dialog("Confirm", h("p", { text: `Remove ${r.label}?` }), { okText: "Remove", ok: async () => { await applyConfig(ctx, { delete: r.key }, `Remove ${r.key}`); reload(); } });
        }, removable), { action: "remove" }),
        button("Resize disk", need((r) => resizeDialog(ctx, conf, r.key, reload), (r) => ps.isDisk(r.key) && !r.key.startsWith("unused") && !ps.isCdrom(r.value)), { action: "resize" })), g.el);
    });
  };
  reload();
}

const OPTIONS = [
  { key: "name", label: "Name", spec: { pattern: NAME_RE } },
  { key: "onboot", label: "Start at boot", spec: { type: "checkbox" }, show: (v) => (Number(v) ? "Yes" : "No") },
  { key: "ostype", label: "OS Type", spec: { type: "select", options: [["l26", "Linux 6.x - 2.6 Kernel"], ["l24", "Linux 2.4 Kernel"], ["win11", "Windows 11/2022/2025"], ["win10", "Windows 10/2016/2019"], ["other", "Other"]] } },
  { key: "boot", label: "Boot Order", spec: { pattern: "order=[a-z0-9]+(;[a-z0-9]+)*", placeholder: "order=scsi0;ide2;net0" } },
  { key: "agent", label: "QEMU Guest Agent", spec: { type: "checkbox" }, show: (v) => (Number(String(v).split(",")[0].replace("enabled=", "")) ? "Enabled" : "Default (Disabled)") },
  { key: "protection", label: "Protection", spec: { type: "checkbox" }, show: (v) => (Number(v) ? "Yes" : "No") },
  { key: "tablet", label: "Use tablet for pointer", spec: { type: "checkbox" }, show: (v) => (v === undefined || Number(v) ? "Yes" : "No") },
  { key: "description", label: "Notes", spec: { type: "textarea" } },
];

export function optionsTab(ctx, el) {
  const reload = () => {
    clear(el);
    loadInto(el, () => api.get(`${ctx.path}/config`), (conf) => {
      const rows = OPTIONS.map((o) => ({ ...o, value: o.show ? o.show(conf[o.key]) : (conf[o.key] ?? "Default") }));
      const edit = (o) => {
        const f = form([{ name: o.key, label: o.label, value: conf[o.key] ?? (o.key === "tablet" ? 1 : ""), ...o.spec }]);
        dialog(`Edit: ${o.label}`, f.el, {
          ok: async () => {
            if (!f.valid()) return false;
            const v = f.values()[o.key];
            await applyConfig(ctx, v === "" ? { delete: o.key } : { [o.key]: v }, o.label);
            reload();
          },
        });
      };
      const g = grid([{ key: "label", label: "Option" }, { key: "value", label: "Value" }], rows, { label: "Options", onActivate: edit });
      el.append(toolbar(button("Edit", () => (g.selected() ? edit(g.selected()) : notify("Select an option first")), { action: "edit" })), g.el);
    });
  };
  reload();
}
