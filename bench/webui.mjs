// Web UI benchmark driver (run by bench/webui.py): first-load bytes and
// time to an interactive tree in Debian's chromium over loopback, and the
// tree's render time.  Prints one JSON object.
import { chromium } from "../tests/e2e/node_modules/playwright-core/index.mjs";

const BASE = process.env.CORRAL_URL;
const PASSWORD = process.env.CORRAL_PASSWORD;
const RUNS = 5;

const median = (xs) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];

// Sums the bytes on the wire (headers + compressed bodies) per URL kind.
async function byteCounter(page) {
  const cdp = await page.context().newCDPSession(page);
  await cdp.send("Network.enable");
  const urls = new Map();
  const counts = { static: 0, api: 0, files: [] };
  cdp.on("Network.requestWillBeSent", (e) => urls.set(e.requestId, e.request.url));
  cdp.on("Network.loadingFinished", (e) => {
    const url = new URL(urls.get(e.requestId) || "about:blank");
    if (url.pathname.startsWith("/api2/")) counts.api += e.encodedDataLength;
    else {
      counts.static += e.encodedDataLength;
      counts.files.push(url.pathname);
    }
  });
  return { cdp, counts };
}

async function login(page) {
  await page.goto(`${BASE}/`);
  await page.fill("#login-user", "admin@pve");
  await page.fill("#login-password", PASSWORD);
  await page.click("#login-submit");
  await page.locator("body[data-tree-ready]").waitFor({ timeout: 30000 });
}

// Logout + login cycles: submit to interactive tree, and the ticket
// request's own share (password check) from the Resource Timing entries.
async function logins(page) {
  const total = [];
  const ticket = [];
  for (let i = 0; i < RUNS; i++) {
    await page.click("#logout");
    await page.fill("#login-user", "admin@pve");
    await page.fill("#login-password", PASSWORD);
    await page.evaluate(() => performance.clearResourceTimings());
    await page.click("#login-submit");
    await page.locator("body[data-tree-ready]").waitFor({ timeout: 30000 });
    total.push(await page.evaluate(() => Number(document.body.dataset.treeReadyAt) - Number(document.body.dataset.loginAt)));
    ticket.push(await page.evaluate(() => performance.getEntriesByType("resource").filter((e) => e.name.endsWith("/access/ticket")).map((e) => e.duration)[0] || 0));
  }
  return { total, ticket };
}

async function readyAt(page) {
  await page.locator("body[data-tree-ready]").waitFor({ timeout: 30000 });
  return Number(await page.evaluate(() => document.body.dataset.treeReadyAt));
}

// Time from navigation to the first usable tree, for a logged-in reload.
async function reloads(page, cold) {
  const cdp = await page.context().newCDPSession(page);
  await cdp.send("Network.enable");
  await cdp.send("Network.setCacheDisabled", { cacheDisabled: cold });
  const times = [];
  for (let i = 0; i < RUNS; i++) {
    log("reload", i);
    await page.reload();
    times.push(await readyAt(page));
  }
  await cdp.send("Network.setCacheDisabled", { cacheDisabled: false });
  return times;
}

// Full tree builds (mount + update + forced layout) and one-row updates.
async function treeRender(page) {
  return page.evaluate(async (runs) => {
    const tree = await import("/js/tree.js");
    const { state } = await import("/js/state.js");
    const el = document.getElementById("tree");
    const res = state.resources;
    const full = [];
    const patch = [];
    for (let i = 0; i < runs; i++) {
      const t0 = performance.now();
      tree.mount(el);
      tree.update(res);
      void el.offsetHeight;
      full.push(performance.now() - t0);
      const changed = res.map((r) => (r.vmid === res.find((x) => x.type === "qemu").vmid ? { ...r, status: i % 2 ? "stopped" : "running" } : r));
      const t1 = performance.now();
      tree.update(changed);
      void el.offsetHeight;
      patch.push(performance.now() - t1);
    }
    return { vms: res.filter((r) => r.type === "qemu").length, rows: el.querySelectorAll("a.tree-item").length, full, patch };
  }, RUNS);
}

function log(...a) { if (process.env.BENCH_DEBUG) console.error(...a); }

async function main() {
  const phase = process.argv[2];
  const browser = await chromium.launch({ executablePath: "/usr/bin/chromium", headless: true, args: ["--no-sandbox"] });
  const context = await browser.newContext({ ignoreHTTPSErrors: true, viewport: { width: 1280, height: 720 } });
  const page = await context.newPage();
  page.setDefaultTimeout(30000);
  log("page open");
  const out = {};
  if (phase === "first") {
    const { counts } = await byteCounter(page);
    await login(page);
    out.files = [...counts.files];
    out.staticBytes = counts.static;
    out.apiBytes = counts.api;
    out.login = await logins(page);
    out.lazyLoaded = out.files.filter((f) => /chartjs|novnc|xterm/.test(f));
  } else {
    await login(page);
  }
  out.warm = await reloads(page, false);
  out.cold = await reloads(page, true);
  if (phase !== "first") out.tree = await treeRender(page);
  console.log(JSON.stringify(out));
  await browser.close();
}

main().catch((e) => { console.error(e); process.exitCode = 1; });
