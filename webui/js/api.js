// The REST client: Proxmox-style tickets (cookie + CSRF header), renewal
// before expiry, task polling and multipart uploads with progress.
const BASE = "/api2/json";
const RENEW_MS = 15 * 60 * 1000; // Proxmox's UI renews every 15 minutes; tickets live 2 h
const STORE_KEY = "corral-session";

export class ApiError extends Error {
  constructor(status, message, errors) {
    super(message || `HTTP ${status}`);
    this.status = status;
    this.errors = errors || null;
  }
  // The reason phrase plus per-parameter errors, as Proxmox's UI shows them.
  detail() {
    if (!this.errors) return this.message;
    return this.message + "\n" + Object.entries(this.errors).map(([k, v]) => `${k}: ${v}`).join("\n");
  }
}

let session = loadSession();
let renewTimer = 0;
let authLost = () => {};

function loadSession() {
  try {
    return JSON.parse(sessionStorage.getItem(STORE_KEY) || "null");
  } catch {
    return null;
  }
}

function saveSession(s) {
  session = s;
  if (s) sessionStorage.setItem(STORE_KEY, JSON.stringify(s));
  else sessionStorage.removeItem(STORE_KEY);
}

function setCookie(ticket) {
  const v = ticket ? encodeURIComponent(ticket) : "";
  const expiry = ticket ? "" : "; expires=Thu, 01 Jan 1970 00:00:00 GMT";
  document.cookie = `PVEAuthCookie=${v}; path=/; secure; SameSite=Lax${expiry}`;
}

export function currentUser() {
  return session ? session.username : null;
}

export function capabilities() {
  return (session && session.cap) || {};
}

export function onAuthLost(fn) {
  authLost = fn;
}

function encodeParams(params) {
  const body = new URLSearchParams();
  for (const [k, v] of Object.entries(params || {})) {
    if (v === undefined || v === null) continue;
    body.set(k, typeof v === "boolean" ? (v ? "1" : "0") : String(v));
  }
  return body;
}

async function parseError(resp) {
  let json = null;
  try {
    json = await resp.json();
  } catch {
    json = null;
  }
  const reason = (json && json.message) || resp.statusText || `HTTP ${resp.status}`;
  return new ApiError(resp.status, reason.split("\n")[0], json && json.errors);
}

// METHOD PATH (under /api2/json) with PARAMS; resolves to `data`.
export async function request(method, path, params, opts = {}) {
  let url = BASE + path;
  const init = { method, credentials: "same-origin", headers: {} };
  const body = encodeParams(params);
  if (method === "GET" || method === "DELETE") {
    const q = body.toString();
    if (q) url += (url.includes("?") ? "&" : "?") + q;
  } else {
    init.headers["Content-Type"] = "application/x-www-form-urlencoded";
    init.body = body;
  }
  if (method !== "GET" && session) init.headers.CSRFPreventionToken = session.csrf;
  const resp = await fetch(url, init);
  if (!resp.ok) {
    const err = await parseError(resp);
    if (resp.status === 401 && !opts.noAuthLost && session) authLost();
    throw err;
  }
  const json = await resp.json();
  return opts.full ? json : json.data;
}

export const get = (p, params, o) => request("GET", p, params, o);
export const post = (p, params, o) => request("POST", p, params, o);
export const put = (p, params, o) => request("PUT", p, params, o);
export const del = (p, params, o) => request("DELETE", p, params, o);

function storeTicket(d) {
  setCookie(d.ticket);
  saveSession({ username: d.username, csrf: d.CSRFPreventionToken, cap: d.cap, at: Date.now() });
  scheduleRenew();
}

export async function login(username, password, realm) {
  const d = await request("POST", "/access/ticket", { username, password, realm },
    { noAuthLost: true });
  storeTicket(d);
  return d;
}

// Proxmox renews by posting the still-valid ticket as the password.
export async function renew() {
  if (!session) return;
  const ticket = decodeURIComponent((document.cookie.match(/(?:^|; )PVEAuthCookie=([^;]*)/) || [])[1] || "");
  if (!ticket) return;
  const d = await request("POST", "/access/ticket", { username: session.username, password: ticket },
    { noAuthLost: true });
  storeTicket(d);
}

function scheduleRenew() {
  clearTimeout(renewTimer);
  const age = session ? Date.now() - session.at : 0;
  renewTimer = setTimeout(() => renew().catch(() => authLost()), Math.max(1000, RENEW_MS - age));
}

export function logout() {
  clearTimeout(renewTimer);
  setCookie(null);
  saveSession(null);
}

// Is there a session worth trying (from an earlier page load)?
export function resumeSession() {
  if (!session) return false;
  if (Date.now() - session.at > 2 * 3600 * 1000) {
    logout();
    return false;
  }
  scheduleRenew();
  return true;
}

export function nodeOfUpid(upid) {
  return upid.split(":")[1];
}

export const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

// Polls the task until it stops; resolves to its status object.
export async function waitTask(upid, onPoll) {
  const node = nodeOfUpid(upid);
  for (;;) {
    const st = await get(`/nodes/${node}/tasks/${encodeURIComponent(upid)}/status`);
    if (onPoll) onPoll(st);
    if (st.status === "stopped") return st;
    await sleep(500);
  }
}

// Multipart upload with progress (fetch has no upload progress).
export function upload(path, fields, file, onProgress) {
  return new Promise((resolve, reject) => {
    const xhr = new XMLHttpRequest();
    const form = new FormData();
    for (const [k, v] of Object.entries(fields)) form.append(k, v);
    form.append("filename", file, file.name);
    xhr.open("POST", BASE + path);
    if (session) xhr.setRequestHeader("CSRFPreventionToken", session.csrf);
    xhr.upload.onprogress = (e) => e.lengthComputable && onProgress(e.loaded, e.total);
    xhr.onload = () => {
      let json = null;
      try {
        json = JSON.parse(xhr.responseText);
      } catch {
        json = null;
      }
      if (xhr.status >= 200 && xhr.status < 300) resolve(json ? json.data : null);
      else reject(new ApiError(xhr.status, (json && json.message) || xhr.statusText, json && json.errors));
    };
    xhr.onerror = () => reject(new ApiError(0, "upload failed: connection error"));
    xhr.send(form);
  });
}
