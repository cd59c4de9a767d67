// Datacenter views: summary, cluster status, storage definitions and the
// permission management (users, groups, API tokens, ACL, roles, pools).
import * as api from "./api.js";
import { h, clear, bytes, percent, kvTable, usage, grid, toolbar, button, form, dialog, confirm, notify } from "./dom.js";
import { panel, loadInto } from "./panel.js";
import { runTask } from "./tasks.js";
import { state, onResources } from "./state.js";

function summary(el) {
  const box = h("div", { class: "cards" });
  let clusterName = "";
  el.append(box);
  api.get("/cluster/status").then((rows) => {
    const cl = rows.find((r) => r.type === "cluster");
    clusterName = cl ? `${cl.name} (${cl.quorate ? "quorate" : "not quorate"})` : "";
    if (state.resources.length) draw(state.resources);
  }).catch(() => {});
  const draw = (res) => {
    const ns = res.filter((r) => r.type === "node");
    const vms = res.filter((r) => r.type === "qemu" && !r.template);
    const st = res.filter((r) => r.type === "storage");
    const sum = (list, k) => list.reduce((a, r) => a + (Number(r[k]) || 0), 0);
    const online = ns.filter((n) => n.status === "online");
    const cpu = online.length ? sum(online, "cpu") / online.length : 0;
    clear(box).append(
      h("section", { class: "card" }, h("h2", { text: "Health" }), kvTable([
        ["Nodes online", `${online.length} of ${ns.length}`],
        ["Cluster", clusterName || "standalone node"],
      ])),
      h("section", { class: "card" }, h("h2", { text: "Guests" }), kvTable([
        ["Virtual machines", String(vms.length)],
        ["Running", String(vms.filter((v) => v.status === "running").length)],
        ["Stopped", String(vms.filter((v) => v.status !== "running").length)],
        ["Templates", String(res.filter((r) => r.type === "qemu" && r.template).length)],
      ])),
      h("section", { class: "card" }, h("h2", { text: "Resources" }), kvTable([
        ["CPU", usage(cpu, 1, null, `${percent(cpu)} of ${sum(online, "maxcpu")} CPU(s)`)],
        ["Memory", usage(sum(online, "mem"), sum(online, "maxmem"))],
        ["Storage", usage(sum(st, "disk"), sum(st, "maxdisk"))],
      ])),
      h("section", { class: "card wide" }, h("h2", { text: "Nodes" }), grid([
        { key: "node", label: "Name" }, { key: "status", label: "Status" },
        { label: "CPU", render: (n) => `${((n.cpu || 0) * 100).toFixed(1)}% of ${n.maxcpu || "?"}` },
        { label: "Memory", render: (n) => `${bytes(n.mem)} of ${bytes(n.maxmem)}` },
        { label: "Uptime", render: (n) => `${Math.floor((n.uptime || 0) / 3600)} h` },
      ], ns, { label: "Nodes", onActivate: (n) => { location.hash = `#/node/${n.node}`; } }).el));
  };
  return onResources(draw);
}

// Proxmox's join information: base64 JSON with the address, fingerprint,
// links and totem of the node to join through.
function joinInfoText(info) {
  const self = info.nodelist.find((n) => n.name === info.preferred_node) || info.nodelist[0];
  // The API port this page came through, when it is not Proxmox's 8006.
  const port = location.port && location.port !== "8006" ? `:${location.port}` : "";
  const data = { ipAddress: `${self.pve_addr}${port}`, fingerprint: self.pve_fp, peerLinks: { 0: self.ring0_addr },
    ring_addr: [self.ring0_addr], totem: info.totem };
  return { self, text: btoa(JSON.stringify(data)) };
}

function showJoinInfo() {
  api.get("/cluster/config/join").then((info) => {
    const { self, text } = joinInfoText(info);
    dialog("Cluster Join Information", h("div", null,
      h("p", { text: "Copy the Join Information here and use it on the node you want to add." }),
      kvTable([["IP Address", self.pve_addr], ["Fingerprint", h("code", { class: "secret", text: self.pve_fp })]]),
      form([{ name: "joininfo", label: "Join Information", type: "textarea", value: text }]).el), { noOk: true, cancelText: "Close", wide: true });
  }).catch((e) => notify(e.message, "error"));
}

function joinDialog(reload) {
  const f = form([
    { name: "info", label: "Information", type: "textarea", help: "Paste the Join Information of a cluster member" },
    { name: "hostname", label: "Peer Address", required: true, placeholder: "host or host:port" },
    { name: "username", label: "User name", required: true, value: "admin@pve", help: "An administrator of the cluster" },
    { name: "password", label: "Password", type: "password", required: true, autocomplete: "off" },
    { name: "fingerprint", label: "Fingerprint", required: true, pattern: "([0-9A-Fa-f]{2}:){31}[0-9A-Fa-f]{2}" },
    { name: "link0", label: "Link 0 (gossip address)", placeholder: "default: this node's gossip address" },
  ]);
  f.input("info").addEventListener("input", () => {
    try {
      const d = JSON.parse(atob(f.input("info").value.trim()));
      f.input("hostname").value = d.ipAddress || "";
      f.input("fingerprint").value = d.fingerprint || "";
    } catch {
      // not (yet) a complete join information string
    }
  });
  dialog("Cluster Join", f.el, {
    okText: "Join",
    ok: async () => {
      if (!f.valid()) return false;
      const v = f.values();
      await runTask("Join cluster", api.post("/cluster/config/join", { hostname: v.hostname, username: v.username,
        password: v.password, fingerprint: v.fingerprint, link0: v.link0 || undefined }));
      state.refreshResources();
      reload();
    },
  });
}

function clusterStatus(el) {
  const reload = () => {
    clear(el);
    loadInto(el, () => api.get("/cluster/status"), (rows) => {
      const cl = rows.find((r) => r.type === "cluster");
      el.append(toolbar(
        button("Create Cluster", () => formDialog("Create Cluster", [{ name: "clustername", label: "Cluster Name", required: true, pattern: "[A-Za-z0-9\\-]{1,15}" }],
          async (v) => { await api.post("/cluster/config", v); reload(); }), { action: "cluster-create", disabled: !!cl }),
        button("Join Information", showJoinInfo, { action: "cluster-joininfo", disabled: !cl }),
        button("Join Cluster", () => joinDialog(reload), { action: "cluster-join", disabled: !!cl })),
      kvTable([
        ["Cluster", cl ? cl.name : "Standalone node - no cluster defined"],
        ["Quorate", cl ? (cl.quorate ? "Yes" : "No") : "-"],
        ["Nodes", String(rows.filter((r) => r.type === "node").length)],
      ]), h("h2", { text: "Cluster Nodes" }), grid([
        { key: "name", label: "Nodename" }, { label: "ID", render: (r) => String(r.nodeid) },
        { label: "Online", render: (r) => (r.online ? "Yes" : "No") }, { key: "ip", label: "IP" },
        { label: "Local", render: (r) => (r.local ? "Yes" : "") },
      ], rows.filter((r) => r.type === "node"), { label: "Cluster nodes" }).el);
    });
  };
  reload();
}

const CONTENT_TYPES = [["images", "Disk image"], ["iso", "ISO image"], ["import", "Import"], ["vztmpl", "Container template"], ["backup", "VZDump backup file"], ["snippets", "Snippets"]];

function storageFields(st) {
  const content = st ? String(st.content || "").split(",") : ["images", "iso"];
  return [
    { name: "storage", label: "ID", required: true, value: st ? st.storage : "", disabled: !!st, pattern: "[A-Za-z][A-Za-z0-9\\-_.]*[A-Za-z0-9]" },
    st ? null : { name: "path", label: "Directory", required: true, pattern: "/.+", placeholder: "/srv/images" },
    ...CONTENT_TYPES.map(([c, l]) => ({ name: `content-${c}`, label: `Content: ${l}`, type: "checkbox", value: content.includes(c) })),
    { name: "nodes", label: "Nodes", value: st ? st.nodes || "" : "", placeholder: "All (no restrictions)" },
    { name: "shared", label: "Shared", type: "checkbox", value: st ? st.shared : 0 },
    { name: "enable", label: "Enable", type: "checkbox", value: st ? !Number(st.disable) : 1 },
  ].filter(Boolean);
}

// The form's values as /storage parameters.
function storageParams(v, isNew) {
  const content = CONTENT_TYPES.map(([c]) => c).filter((c) => v[`content-${c}`]).join(",");
  if (!content) throw new Error("Select at least one content type");
  const p = { content, shared: v.shared, disable: v.enable ? 0 : 1 };
  if (isNew) Object.assign(p, { storage: v.storage, type: "dir", path: v.path });
  if (v.nodes) p.nodes = v.nodes;
  else if (!isNew) p.delete = "nodes";
  return p;
}

function storageDefs(el) {
  crud(el, {
    label: "Storage definitions", load: () => api.get("/storage"), name: (r) => r.storage,
    cols: [
      { key: "storage", label: "ID" }, { key: "type", label: "Type" }, { key: "content", label: "Content" },
      { key: "path", label: "Path/Target" }, { label: "Shared", render: (r) => (Number(r.shared) ? "Yes" : "No") },
      { label: "Enabled", render: (r) => (Number(r.disable) ? "No" : "Yes") }, { label: "Nodes", render: (r) => r.nodes || "All" },
    ],
    add: (reload) => formDialog("Add: Directory", storageFields(null), async (v) => {
      await api.post("/storage", storageParams(v, true));
      state.refreshResources();
      reload();
    }),
    edit: (st, reload) => formDialog(`Edit: Directory ${st.storage}`, storageFields(st), async (v) => {
      await api.put(`/storage/${encodeURIComponent(st.storage)}`, storageParams(v, false));
      state.refreshResources();
      reload();
    }),
    remove: async (st) => { await api.del(`/storage/${encodeURIComponent(st.storage)}`); state.refreshResources(); },
  });
}

// A list + toolbar view with add/edit/remove dialogs, reloaded after changes.
function crud(el, spec) {
  const reload = () => {
    clear(el);
    loadInto(el, spec.load, (rows) => {
      const g = grid(spec.cols, rows, { label: spec.label, onActivate: spec.edit ? (r) => spec.edit(r, reload) : null });
      const needSel = (fn) => () => { const r = g.selected(); if (r) fn(r, reload); else notify("Select an entry first"); };
      el.append(toolbar(
        spec.add ? button("Add", () => spec.add(reload), { action: "add" }) : null,
        spec.edit ? button("Edit", needSel(spec.edit), { action: "edit" }) : null,
        spec.remove ? button("Remove", needSel(async (r) => {
          if (await confirm("Confirm", `Remove entry '${spec.name(r)}'?`)) {
            try { await spec.remove(r); } catch (e) { notify(e.message, "error"); }
            reload();
          }
        }), { action: "remove" }) : null,
        ...(spec.extra ? spec.extra(g, reload) : [])), g.el);
    });
  };
  reload();
}

function formDialog(title, specs, submit) {
  const f = form(specs);
  dialog(title, f.el, { ok: async () => { if (!f.valid()) return false; await submit(f.values()); } });
  return f;
}

const nonEmpty = (o) => Object.fromEntries(Object.entries(o).filter(([, v]) => v !== ""));

function userFields(u) {
  const isNew = !u;
  return [
    { name: "userid", label: "User name", value: u ? u.userid : "", required: true, disabled: !isNew, pattern: "[^\\s:\\/]+@[A-Za-z][A-Za-z0-9.\\-_]+", placeholder: "name@pve", help: isNew ? "user@realm" : "" },
    isNew ? { name: "password", label: "Password", type: "password", autocomplete: "new-password", help: "At least 8 characters (pve realm)" } : null,
    { name: "groups", label: "Groups", value: u ? (u.groups || []).toString() : "", placeholder: "comma separated" },
    { name: "firstname", label: "First Name", value: u ? u.firstname : "" },
    { name: "lastname", label: "Last Name", value: u ? u.lastname : "" },
    { name: "email", label: "E-Mail", type: "email", value: u ? u.email : "" },
    { name: "comment", label: "Comment", value: u ? u.comment : "" },
    { name: "enable", label: "Enabled", type: "checkbox", value: u ? u.enable : 1 },
  ].filter(Boolean);
}

function users(el) {
  crud(el, {
    label: "Users", load: () => api.get("/access/users", { full: 1 }), name: (r) => r.userid,
    cols: [{ key: "userid", label: "User name" }, { key: "realm-type", label: "Realm" },
      { label: "Enabled", render: (r) => (r.enable ? "Yes" : "No") }, { label: "Name", render: (r) => [r.firstname, r.lastname].filter(Boolean).join(" ") },
      { key: "email", label: "E-Mail" }, { key: "comment", label: "Comment" }],
    add: (reload) => formDialog("Add: User", userFields(null), async (v) => {
      const p = nonEmpty(v);
      if (p.password && p.password.length < 8) throw new Error("password: must be at least 8 characters");
      await api.post("/access/users", p);
      reload();
    }),
    edit: (u, reload) => formDialog("Edit: User", userFields(u), async (v) => {
      await api.put(`/access/users/${encodeURIComponent(u.userid)}`, { ...v, groups: v.groups });
      reload();
    }),
    remove: (u) => api.del(`/access/users/${encodeURIComponent(u.userid)}`),
    extra: (g, reload) => [button("Password", () => {
      const u = g.selected();
      if (!u) return notify("Select a user first");
      formDialog(`Change password: ${u.userid}`, [{ name: "password", label: "Password", type: "password", required: true, autocomplete: "new-password" },
        { name: "confirm", label: "Confirm password", type: "password", required: true, autocomplete: "new-password" }], async (v) => {
        if (v.password !== v.confirm) throw new Error("Passwords do not match");
        await api.put("/access/password", { userid: u.userid, password: v.password });
        reload();
      });
    }, { action: "password" })],
  });
}

function groups(el) {
  crud(el, {
    label: "Groups", load: () => api.get("/access/groups"), name: (r) => r.groupid,
    cols: [{ key: "groupid", label: "Name" }, { key: "comment", label: "Comment" }, { key: "users", label: "Users" }],
    add: (reload) => formDialog("Add: Group", [{ name: "groupid", label: "Name", required: true, pattern: "[A-Za-z0-9.\\-_]+" },
      { name: "comment", label: "Comment" }], async (v) => { await api.post("/access/groups", nonEmpty(v)); reload(); }),
    edit: (g, reload) => formDialog("Edit: Group", [{ name: "comment", label: "Comment", value: g.comment || "" }],
      async (v) => { await api.put(`/access/groups/${encodeURIComponent(g.groupid)}`, v); reload(); }),
    remove: (g) => api.del(`/access/groups/${encodeURIComponent(g.groupid)}`),
  });
}

// Pools with their members (one GET per pool: the list carries no members).
async function allPools() {
  const pools = await api.get("/pools");
  return Promise.all(pools.map((p) => api.get(`/pools/${encodeURIComponent(p.poolid)}`)
    .then((d) => ({ ...p, members: d.members || [] })).catch(() => ({ ...p, members: [] }))));
}

const memberList = (p, type) => p.members.filter((m) => m.type === type)
  .map((m) => String(type === "storage" ? m.storage : m.vmid));
const splitList = (text) => String(text || "").split(/[\s,;]+/).filter(Boolean);

// Sets a pool's members to the lists in V: one PUT adds, one with delete=1 removes.
async function setMembers(p, v) {
  const diff = (want, have) => want.filter((x) => !have.includes(x)).join(",");
  const vms = splitList(v.vms), st = splitList(v.storage);
  const oldVms = memberList(p, "qemu"), oldSt = memberList(p, "storage");
  const path = `/pools/${encodeURIComponent(p.poolid)}`;
  const add = nonEmpty({ vms: diff(vms, oldVms), storage: diff(st, oldSt) });
  const del = nonEmpty({ vms: diff(oldVms, vms), storage: diff(oldSt, st) });
  if (Object.keys(del).length) await api.put(path, { ...del, delete: 1 });
  if (Object.keys(add).length) await api.put(path, { ...add, "allow-move": v.move ? 1 : 0 });
}

function pools(el) {
  crud(el, {
    label: "Pools", load: allPools, name: (r) => r.poolid,
    cols: [{ key: "poolid", label: "Name" }, { key: "comment", label: "Comment" },
      { label: "VMs", render: (r) => memberList(r, "qemu").join(", ") },
      { label: "Storage", render: (r) => memberList(r, "storage").join(", ") }],
    add: (reload) => formDialog("Create: Pool", [{ name: "poolid", label: "Name", required: true, pattern: "[A-Za-z0-9.\\-_]+" },
      { name: "comment", label: "Comment" }], async (v) => { await api.post("/pools", nonEmpty(v)); state.refreshResources(); reload(); }),
    edit: (p, reload) => formDialog(`Edit: Pool ${p.poolid}`, [
      { name: "comment", label: "Comment", value: p.comment || "" },
      { name: "vms", label: "VMs", value: memberList(p, "qemu").join(","), placeholder: "VM IDs, comma separated" },
      { name: "storage", label: "Storage", value: memberList(p, "storage").join(","), placeholder: "storage IDs, comma separated" },
      { name: "move", label: "Move VMs from other pools", type: "checkbox", value: 0 }], async (v) => {
      if (v.comment !== (p.comment || "")) await api.put(`/pools/${encodeURIComponent(p.poolid)}`, { comment: v.comment });
      await setMembers(p, v);
      state.refreshResources();
      reload();
    }),
    remove: async (p) => { await api.del(`/pools/${encodeURIComponent(p.poolid)}`); state.refreshResources(); },
  });
}

async function allTokens() {
  const us = await api.get("/access/users");
  const lists = await Promise.all(us.map((u) => api.get(`/access/users/${encodeURIComponent(u.userid)}/token`)
    .then((ts) => ts.map((t) => ({ ...t, userid: u.userid }))).catch(() => [])));
  return lists.flat();
}

function tokens(el) {
  crud(el, {
    label: "API Tokens", load: allTokens, name: (r) => `${r.userid}!${r.tokenid}`,
    cols: [{ key: "userid", label: "User name" }, { key: "tokenid", label: "Token Name" },
      { label: "Expire", render: (t) => (t.expire ? new Date(t.expire * 1000).toISOString().slice(0, 10) : "never") },
      { label: "Privilege Separation", render: (t) => (t.privsep ? "Yes" : "No") }, { key: "comment", label: "Comment" }],
    add: (reload) => formDialog("Add: Token", [
      { name: "userid", label: "User", type: "select", options: state.users || [[api.currentUser()]], value: api.currentUser() },
      { name: "tokenid", label: "Token ID", required: true, pattern: "[A-Za-z][A-Za-z0-9.\\-_]+" },
      { name: "privsep", label: "Privilege Separation", type: "checkbox", value: 1 },
      { name: "comment", label: "Comment" }], async (v) => {
      const r = await api.post(`/access/users/${encodeURIComponent(v.userid)}/token/${encodeURIComponent(v.tokenid)}`,
        nonEmpty({ privsep: v.privsep, comment: v.comment }));
      dialog("Token Secret", h("div", null, kvTable([["Token ID", r["full-tokenid"]], ["Secret", h("code", { class: "secret", text: r.value })]]),
        h("p", { class: "warning", text: "Please record the API token secret - it will only be displayed now" })), { noOk: true, cancelText: "Close" });
      reload();
    }),
    remove: (t) => api.del(`/access/users/${encodeURIComponent(t.userid)}/token/${encodeURIComponent(t.tokenid)}`),
  });
  api.get("/access/users").then((us) => { state.users = us.map((u) => [u.userid]); }).catch(() => {});
}

function acl(el) {
  crud(el, {
    label: "Permissions", load: () => api.get("/access/acl"), name: (r) => `${r.path} ${r.ugid} ${r.roleid}`,
    cols: [{ key: "path", label: "Path" }, { key: "type", label: "Type" }, { key: "ugid", label: "User/Group/API Token" },
      { key: "roleid", label: "Role" }, { label: "Propagate", render: (r) => (r.propagate ? "Yes" : "No") }],
    add: async (reload) => {
      const roles = await api.get("/access/roles").catch(() => []);
      formDialog("Add: Permission", [
        { name: "path", label: "Path", required: true, value: "/", pattern: "/[^\\s]*" },
        { name: "type", label: "Type", type: "select", options: [["users", "User"], ["groups", "Group"], ["tokens", "API Token"]] },
        { name: "ugid", label: "User/Group/Token", required: true },
        { name: "roles", label: "Role", type: "select", options: roles.map((r) => [r.roleid]) },
        { name: "propagate", label: "Propagate", type: "checkbox", value: 1 }], async (v) => {
        await api.put("/access/acl", { path: v.path, roles: v.roles, [v.type]: v.ugid, propagate: v.propagate });
        reload();
      });
    },
    remove: (r) => api.put("/access/acl", { path: r.path, roles: r.roleid, [`${r.type}s`]: r.ugid, delete: 1 }),
  });
}

function roles(el) {
  loadInto(el, () => api.get("/access/roles"), (rows) => {
    el.append(grid([{ key: "roleid", label: "Name" }, { label: "Built-In", render: (r) => (r.special ? "Yes" : "No") },
      { key: "privs", label: "Privileges" }], rows, { label: "Roles" }).el);
  });
}

export function render(main, args, tab) {
  return panel(main, {
    title: "Datacenter", base: "#/dc",
    tabs: [
      { id: "summary", label: "Summary", render: summary },
      { id: "cluster", label: "Cluster", render: clusterStatus },
      { id: "storage", label: "Storage", render: storageDefs },
      { id: "users", label: "Users", render: users },
      { id: "groups", label: "Groups", render: groups },
      { id: "tokens", label: "API Tokens", render: tokens },
      { id: "acl", label: "Permissions", render: acl },
      { id: "roles", label: "Roles", render: roles },
      { id: "pools", label: "Pools", render: pools },
    ],
  }, tab);
}
