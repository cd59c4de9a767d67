// Storage views: summary, content list per content type with upload
// (progress bar) and delete.
import * as api from "./api.js";
import { h, clear, bytes, kvTable, usage, grid, toolbar, button, form, dialog, notify, datetime } from "./dom.js";
import { panel, loadInto } from "./panel.js";
import { runTask, refreshSoon } from "./tasks.js";
import { state } from "./state.js";

const CONTENT_LABEL = { images: "VM Disks", iso: "ISO Images", import: "Import", vztmpl: "CT Templates", backup: "Backups", rootdir: "CT Volumes", snippets: "Snippets" };
const UPLOADABLE = ["iso", "import", "vztmpl"];
const UPLOAD_EXT = { iso: ".iso,.img", import: ".qcow2,.raw,.vmdk,.img,.ova", vztmpl: ".tar.gz,.tar.xz,.tar.zst" };

function row(node, storage) {
  return state.resources.find((r) => r.type === "storage" && r.node === node && r.storage === storage);
}

function summary(node, storage) {
  return (el) => loadInto(el, () => api.get(`/nodes/${node}/storage`, { storage }), (list) => {
    const s = list.find((x) => x.storage === storage) || {};
    el.append(h("section", { class: "card wide" }, h("h2", { text: storage }), kvTable([
      ["Enabled", s.enabled ? "Yes" : "No"], ["Active", s.active ? "Yes" : "No"],
      ["Content", s.content || ""], ["Type", s.type || ""],
      ["Usage", usage(s.used, s.total)], ["Available", bytes(s.avail)],
    ])));
  });
}

function uploadDialog(node, storage, content, reload) {
  const f = form([
    { name: "content", label: "Content", type: "select", options: [[content, CONTENT_LABEL[content]]], value: content },
    { name: "file", label: "File", type: "file", required: true },
  ]);
  f.input("file").accept = UPLOAD_EXT[content] || "";
  const bar = h("progress", { max: 100, value: 0, class: "upload-progress", "aria-label": "Upload progress" });
  const text = h("span", { class: "upload-text", role: "status", text: "" });
  const d = dialog(`Upload to ${storage}`, h("div", null, f.el, h("div", { class: "upload" }, bar, text)), {
    okText: "Upload", cancelText: "Close",
    ok: async () => {
      if (!f.valid()) return false;
      const file = f.input("file").files[0];
      f.input("file").disabled = true;
      const upid = await api.upload(`/nodes/${node}/storage/${storage}/upload`, { content }, file, (done, total) => {
        const pct = Math.floor((done * 100) / total);
        bar.value = pct;
        text.textContent = `${pct}% (${bytes(done)} of ${bytes(total)})`;
      });
      bar.value = 100;
      text.textContent = "100% - uploaded, finishing...";
      d.dlg.dataset.uploaded = "1";
      refreshSoon();
      await runTask(`Upload ${file.name}`, upid);
      text.textContent = "100% - done";
      reload();
      return false;
    },
  });
  return d;
}

function contentTab(node, storage, content) {
  return (el) => {
    const reload = () => {
      clear(el);
      loadInto(el, () => api.get(`/nodes/${node}/storage/${storage}/content`, { content }), (list) => {
        list.sort((a, b) => a.volid.localeCompare(b.volid));
        const g = grid([
          { label: "Name", render: (v) => v.volid.replace(/^[^:]+:/, "") },
          { key: "format", label: "Format" },
          { label: "Size", render: (v) => bytes(v.size) },
          { label: "VMID", render: (v) => (v.vmid ? String(v.vmid) : "") },
          { label: "Date", render: (v) => datetime(v.ctime) },
        ], list, { label: `${CONTENT_LABEL[content] || content} on ${storage}`, empty: "No content" });
        el.append(toolbar(
          UPLOADABLE.includes(content) ? button("Upload", () => uploadDialog(node, storage, content, reload), { action: "upload" }) : null,
          button("Remove", () => {
            const v = g.selected();
            if (!v) return notify("Select a volume first");
            dialog("Confirm", h("p", { text: `Remove volume ${v.volid}?` }), {
              okText: "Remove",
              ok: async () => {
                await runTask(`Remove ${v.volid}`, api.del(`/nodes/${node}/storage/${storage}/content/${encodeURIComponent(v.volid)}`));
                reload();
              },
            });
          }, { action: "remove" }),
          button("Refresh", reload, { action: "refresh" })), g.el);
      });
    };
    reload();
  };
}

export function render(main, [node, storage], tab) {
  const r = row(node, storage);
  const contents = ((r && r.content) || "images,iso").split(",").filter((c) => CONTENT_LABEL[c]);
  return panel(main, {
    title: `Storage '${storage}' on node '${node}'`, base: `#/storage/${node}/${storage}`,
    tabs: [
      { id: "summary", label: "Summary", render: summary(node, storage) },
      ...contents.map((c) => ({ id: c, label: CONTENT_LABEL[c], render: contentTab(node, storage, c) })),
    ],
  }, tab);
}
