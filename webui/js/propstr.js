// Proxmox property strings ("local:32,format=qcow2,iothread=1") as ordered
// [key, value] lists; a bare leading item belongs to DEFKEY.
export function parse(text, defKey) {
  const out = [];
  for (const part of String(text || "").split(",")) {
    if (!part) continue;
    const i = part.indexOf("=");
    if (i < 0 && defKey && !out.length) out.push([defKey, part]);
    else if (i < 0) out.push([part, ""]);
    else out.push([part.slice(0, i), part.slice(i + 1)]);
  }
  return out;
}

export function get(list, key) {
  const e = list.find(([k]) => k === key);
  return e ? e[1] : undefined;
}

// Sets KEY (removes it when VALUE is "", null or undefined), keeping order.
export function set(list, key, value) {
  const i = list.findIndex(([k]) => k === key);
  if (value === undefined || value === null || value === "") {
    if (i >= 0) list.splice(i, 1);
  } else if (i >= 0) list[i][1] = String(value);
  else list.push([key, String(value)]);
  return list;
}

// Back to text; DEFKEY's value is written bare in front.
export function format(list, defKey) {
  const first = list.filter(([k]) => k === defKey).map(([, v]) => v);
  const rest = list.filter(([k]) => k !== defKey).map(([k, v]) => (v === "" ? k : `${k}=${v}`));
  return [...first, ...rest].join(",");
}

export const DISK_RE = /^(ide|sata|scsi|virtio|efidisk|tpmstate|unused)\d+$/;

export function isDisk(key) {
  return DISK_RE.test(key);
}

export function isCdrom(value) {
  return /(^|,)media=cdrom(,|$)/.test(value || "");
}

// "32G" / "512M" -> bytes.
export function sizeBytes(s) {
  const m = /^(\d+(?:\.\d+)?)([KMGT]?)$/.exec(s || "");
  if (!m) return 0;
  return Number(m[1]) * 1024 ** " KMGT".indexOf(m[2] || " ");
}
