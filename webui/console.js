// The console page, opened as Proxmox's: /console.html?console=kvm&novnc=1&vmid=100&node=pve
// (VNC through noVNC) or ?console=kvm&xtermjs=1 / ?console=serial (the serial console,
// Proxmox's termproxy protocol).  Both ask POST vncproxy/termproxy for a one-time
// ticket, then open GET vncwebsocket with the ticket; the login cookie goes along.

const params = new URLSearchParams(location.search);
const vmid = params.get("vmid") || "";
const node = params.get("node") || "";
const serial = params.get("console") === "serial" || params.get("xtermjs") === "1";
const screen = document.getElementById("console-screen");
const statusEl = document.getElementById("console-status");
const reconnectBtn = document.getElementById("console-reconnect");
const cadBtn = document.getElementById("console-cad");

function setStatus(text, error) {
  statusEl.textContent = text;
  statusEl.classList.toggle("error", !!error);
}

// --- the REST calls ---

function cookieTicket() {
  const m = document.cookie.match(/(?:^|; )PVEAuthCookie=([^;]*)/);
  return m ? decodeURIComponent(m[1]) : "";
}

// The CSRF token: the dashboard's session when this window shares it, else a
// ticket renewal (POST /access/ticket with the ticket as password) gives one.
async function csrfToken() {
  try {
    const s = JSON.parse(sessionStorage.getItem("corral-session") || "null");
    if (s && s.csrf) return s.csrf;
  } catch { /* no stored session */ }
  const ticket = cookieTicket();
  const user = ticket.split(":")[1];
  if (!user) throw new Error("not logged in: log in to the dashboard first");
  const d = await call("POST", "/access/ticket", { username: user, password: ticket }, null);
  return d.CSRFPreventionToken;
}

async function call(method, path, body, csrf) {
  const init = { method, credentials: "same-origin", headers: {} };
  if (body) init.body = new URLSearchParams(body);
  if (csrf) init.headers.CSRFPreventionToken = csrf;
  const r = await fetch(`/api2/json${path}`, init);
  if (!r.ok) throw new Error(`${r.status} ${r.statusText}`);
  return (await r.json()).data;
}

async function grant(kind, body) {
  const csrf = await csrfToken();
  return call("POST", `/nodes/${encodeURIComponent(node)}/qemu/${encodeURIComponent(vmid)}/${kind}`, body, csrf);
}

function socketUrl(g) {
  const q = new URLSearchParams({ port: g.port, vncticket: g.ticket });
  return `wss://${location.host}/api2/json/nodes/${encodeURIComponent(node)}/qemu/${encodeURIComponent(vmid)}/vncwebsocket?${q}`;
}

// --- VNC (noVNC's RFB client from the Debian package) ---

async function openVnc() {
  const [{ default: RFB }, g] = await Promise.all([import("/novnc/core/rfb.js"), grant("vncproxy", { websocket: 1 })]);
  screen.replaceChildren();
  const rfb = new RFB(screen, socketUrl(g), { wsProtocols: ["binary"], credentials: { password: g.password || "" } });
  rfb.scaleViewport = true;
  rfb.resizeSession = false;
  rfb.addEventListener("connect", () => { setStatus("connected"); cadBtn.hidden = false; rfb.focus(); });
  rfb.addEventListener("disconnect", (e) => {
    setStatus(e.detail.clean ? "disconnected" : "connection lost", !e.detail.clean);
    cadBtn.hidden = true;
    reconnectBtn.hidden = false;
  });
  rfb.addEventListener("securityfailure", (e) => setStatus(`security failure: ${e.detail.reason || e.detail.status}`, true));
  cadBtn.onclick = () => rfb.sendCtrlAltDel();
}

// --- serial console ---

// xterm.js from libjs-xterm when that build runs in a browser: resolves to its
// Terminal or null.  Debian 12's package ships a few-hundred-byte CommonJS
// stub instead of the browser bundle; it is not run (it would only throw).
const XTERM_BUNDLE_MIN = 16384; // bytes, even gzip-compressed

async function loadXterm() {
  const r = await fetch("/xterm/xterm.js", { method: "HEAD" }).catch(() => null);
  if (!r || !r.ok || Number(r.headers.get("Content-Length") || 0) < XTERM_BUNDLE_MIN) return null;
  return new Promise((resolve) => {
    const css = document.createElement("link");
    css.rel = "stylesheet";
    css.href = "/xterm/xterm.css";
    document.head.append(css);
    const s = document.createElement("script");
    s.src = "/xterm/xterm.js";
    s.onload = () => resolve(typeof window.Terminal === "function" ? window.Terminal : null);
    s.onerror = () => resolve(null);
    document.head.append(s);
  });
}

const KEYS = {
  Enter: "\r", Backspace: "\x7f", Tab: "\t", Escape: "\x1b", ArrowUp: "\x1b[A", ArrowDown: "\x1b[B",
  ArrowRight: "\x1b[C", ArrowLeft: "\x1b[D", Home: "\x1b[H", End: "\x1b[F", Delete: "\x1b[3~",
  PageUp: "\x1b[5~", PageDown: "\x1b[6~",
};
const MAX_LINES = 2000;

// A small terminal for line-oriented consoles (shells, boot logs): text,
// CR/LF/BS/TAB, and the CSI cursor and erase sequences such shells use;
// other escape sequences are dropped.
class PlainTerminal {
  constructor(parent) {
    this.el = document.createElement("pre");
    this.el.className = "plain-term";
    this.el.tabIndex = 0;
    this.lines = [""];
    this.row = 0;
    this.col = 0;
    this.esc = null;
    this.rows = 24;
    this.listeners = [];
    this.el.addEventListener("keydown", (e) => this.key(e));
    this.el.addEventListener("paste", (e) => { this.emit(e.clipboardData.getData("text").replace(/\n/g, "\r")); e.preventDefault(); });
    parent.append(this.el);
    this.render();
  }
  onData(fn) { this.listeners.push(fn); }
  emit(s) { for (const fn of this.listeners) fn(s); }
  focus() { this.el.focus(); }
  key(e) {
    let s = null;
    if (e.ctrlKey && !e.altKey && e.key.length === 1 && /[a-z@[\\\]^_]/i.test(e.key)) s = String.fromCharCode(e.key.toUpperCase().charCodeAt(0) & 0x1f);
    else if (KEYS[e.key]) s = KEYS[e.key];
    else if (e.key.length === 1 && !e.ctrlKey && !e.metaKey) s = e.key;
    if (s === null) return;
    e.preventDefault();
    this.emit(s);
  }
  write(text) {
    for (const ch of text) this.put(ch);
    if (this.lines.length > MAX_LINES) {
      const drop = this.lines.length - MAX_LINES;
      this.lines.splice(0, drop);
      this.row -= drop;
    }
    this.render();
  }
  put(ch) {
    if (this.esc !== null) return this.escape(ch);
    switch (ch) {
      case "\r": this.col = 0; return;
      case "\n": this.row++; if (this.row >= this.lines.length) this.lines.push(""); return;
      case "\b": if (this.col > 0) this.col--; return;
      case "\t": this.col = (this.col + 8) & ~7; return;
      case "\x1b": this.esc = ""; return;
      default: if (ch >= " ") this.place(ch);
    }
  }
  place(ch) {
    const line = this.lines[this.row].padEnd(this.col);
    this.lines[this.row] = line.slice(0, this.col) + ch + line.slice(this.col + 1);
    this.col++;
  }
  escape(ch) {
    this.esc += ch;
    if (this.esc.length === 1 && ch !== "[") { this.esc = null; return; } // ESC x: dropped
    const final = ch.charCodeAt(0);
    if (this.esc.length > 1 && final >= 0x40 && final <= 0x7e) {
      const args = this.esc.slice(1, -1).split(";").map((n) => parseInt(n, 10) || 0);
      this.esc = null;
      this.csi(ch, args);
    } else if (this.esc.length > 32) this.esc = null;
  }
  csi(f, a) {
    const n = Math.max(a[0] || 1, 1);
    const top = Math.max(this.lines.length - this.rows, 0);
    if (f === "K") {
      const line = this.lines[this.row];
      this.lines[this.row] = a[0] === 2 ? "" : a[0] === 1 ? " ".repeat(this.col) + line.slice(this.col) : line.slice(0, this.col);
    } else if (f === "J" && a[0] === 2) {
      this.lines = [""]; this.row = 0; this.col = 0;
    } else if (f === "H" || f === "f") {
      this.row = top + Math.max((a[0] || 1) - 1, 0);
      this.col = Math.max((a[1] || 1) - 1, 0);
      while (this.lines.length <= this.row) this.lines.push("");
    } else if (f === "A") this.row = Math.max(this.row - n, top);
    else if (f === "B") this.row = Math.min(this.row + n, this.lines.length - 1);
    else if (f === "C") this.col += n;
    else if (f === "D") this.col = Math.max(this.col - n, 0);
  }
  render() {
    const line = this.lines[this.row].padEnd(this.col + 1);
    const before = this.lines.slice(0, this.row).concat(line.slice(0, this.col)).join("\n");
    const cursor = document.createElement("span");
    cursor.className = "cursor";
    cursor.textContent = line[this.col];
    const after = line.slice(this.col + 1) + (this.row + 1 < this.lines.length ? "\n" + this.lines.slice(this.row + 1).join("\n") : "");
    this.el.replaceChildren(before, cursor, after);
    this.el.scrollTop = this.el.scrollHeight;
  }
}

// Proxmox's termproxy from the client side: "USER:TICKET\n" first, the server
// answers "OK"; then input as "0:LEN:DATA", resizes as "1:COLS:ROWS:", "2" pings.
function termproxy(g, term) {
  const ws = new WebSocket(socketUrl(g), ["binary"]);
  const enc = new TextEncoder();
  const dec = new TextDecoder();
  let ready = false;
  ws.binaryType = "arraybuffer";
  const resize = () => { if (ready && term.cols) ws.send(`1:${term.cols}:${term.rows}:`); };
  ws.onopen = () => ws.send(`${g.user}:${g.ticket}\n`);
  ws.onmessage = (ev) => {
    let bytes = new Uint8Array(ev.data);
    if (!ready) {
      if (bytes[0] !== 0x4f || bytes[1] !== 0x4b) { ws.close(); return; }
      ready = true;
      bytes = bytes.subarray(2);
      setStatus("connected");
      resize();
      term.focus();
    }
    if (bytes.length) term.write(dec.decode(bytes, { stream: true }));
  };
  ws.onclose = () => { setStatus(ready ? "disconnected" : "connection refused", !ready); reconnectBtn.hidden = false; clearInterval(ping); };
  term.onData((s) => { if (ready) ws.send(`0:${enc.encode(s).length}:${s}`); });
  if (term.onResize) term.onResize(resize);
  const ping = setInterval(() => { if (ready) ws.send("2"); }, 30000);
}

async function openSerial() {
  const [Terminal, g] = await Promise.all([loadXterm(), grant("termproxy", params.get("serial") ? { serial: params.get("serial") } : {})]);
  screen.replaceChildren();
  let term;
  if (Terminal) {
    term = new Terminal({ cursorBlink: true });
    term.open(screen);
  } else {
    term = new PlainTerminal(screen);
  }
  termproxy(g, term);
}

async function start() {
  reconnectBtn.hidden = true;
  setStatus("connecting");
  document.title = `VM ${vmid}${params.get("vmname") ? ` (${params.get("vmname")})` : ""} - ${serial ? "Serial" : "Console"}`;
  document.getElementById("console-title").textContent = document.title;
  if (!/^\d+$/.test(vmid) || !node) {
    setStatus("missing vmid or node in the address", true);
    return;
  }
  try {
    await (serial ? openSerial() : openVnc());
  } catch (e) {
    setStatus(`failed: ${e.message}`, true);
    reconnectBtn.hidden = false;
  }
}

reconnectBtn.addEventListener("click", start);
start();
