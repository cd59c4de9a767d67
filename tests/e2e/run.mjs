// Corral's web UI driven in Debian's chromium (headless) by playwright-core,
// against the corrald that tests/e2e/test_webui.py started.  Prints
// "ok - name" / "not ok - name" per step and "N passed, N failed".
import { chromium } from "playwright-core";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";

const BASE = process.env.CORRAL_URL;
const USER = process.env.CORRAL_USER || "admin@pve";
const PASSWORD = process.env.CORRAL_PASSWORD;
const NODE = process.env.CORRAL_NODE;
const VMID = process.env.CORRAL_VMID || "100";
const SHOTS = process.env.CORRAL_SCREENSHOTS;
const GUEST = process.env.CORRAL_GUEST;
const STEP_TIMEOUT = 180000; // ms for any one step
const BOOT_TIMEOUT = 150000; // ms for the guest to boot under TCG

const errors = []; // uncaught exceptions and console errors seen in the page
let passed = 0;
let failed = 0;

async function step(name, fn) {
  let timer;
  try {
    await Promise.race([fn(), new Promise((_, rej) => { timer = setTimeout(() => rej(new Error(`step took longer than ${STEP_TIMEOUT} ms`)), STEP_TIMEOUT); })]);
    console.log(`ok - ${name}`);
    passed++;
  } catch (e) {
    console.log(`not ok - ${name}`);
    for (const line of String(e.stack || e).split("\n").slice(0, 12)) console.log(`    ${line}`);
    failed++;
    await closeDialogs();
  } finally {
    clearTimeout(timer);
  }
}

let currentPage = null;
let joinInfo = null; // the cluster's join information, from the cluster step

// A failed step may leave a dialog open over the page; the next steps start clean.
async function closeDialogs() {
  if (!currentPage) return;
  const shown = await currentPage.evaluate(() => [...document.querySelectorAll("dialog .error, .notice")]
    .map((e) => e.textContent).filter(Boolean)).catch(() => []);
  for (const text of shown) console.log(`    page says: ${text}`);
  await currentPage.screenshot({ path: path.join(SHOTS, `failed-${failed}.png`) }).catch(() => {});
  await currentPage.evaluate(() => document.querySelectorAll("dialog").forEach((d) => { d.close(); d.remove(); })).catch(() => {});
}

function check(cond, what) {
  if (!cond) throw new Error(`check failed: ${what}`);
}

async function shot(page, name) {
  await page.screenshot({ path: path.join(SHOTS, `${name}.png`) });
}

function watch(page) {
  page.on("pageerror", (e) => errors.push(`pageerror: ${e.message}`));
  page.on("console", (m) => {
    // Chromium logs every non-2xx fetch as "Failed to load resource"; the
    // wrong-password 401 is one the test causes on purpose.  Script errors
    // are what this collects.
    if (m.type() === "error" && !m.text().startsWith("Failed to load resource")) errors.push(`console: ${m.text()}`);
  });
}

const treeItem = (page, hash) => page.locator(`#tree a.tree-item[href="${hash}"]`);
const vmHash = `#/qemu/${NODE}/${VMID}`;

async function go(page, hash) {
  await page.evaluate((h) => { location.hash = h; }, hash);
}

async function waitVmStatus(page, status, timeout = 60000) {
  await page.locator(`#tree a.tree-item[href="${vmHash}"][data-status="${status}"]`).waitFor({ timeout });
}

async function waitTasksIdle(page) {
  // The task panel shows running tasks with class task-running.
  await page.waitForFunction(() => !document.querySelector("#tasks-body tr.task-running"), null, { timeout: 150000 });
}

// Picks the option of SELECT whose value starts with PREFIX.
async function selectStarting(sel, prefix) {
  const values = await sel.locator("option").evaluateAll((os) => os.map((o) => o.value));
  const v = values.find((x) => x.startsWith(prefix));
  check(v, `an option starting with ${prefix} among ${values.join(", ")}`);
  await sel.selectOption(v);
}

// Uploads FILE to local's CONTENT tab through the upload dialog and waits
// for the bar to reach 100% and the upload task to finish.
async function uploadFile(page, content, file) {
  await go(page, `#/storage/${NODE}/local/${content}`);
  await page.click('.tab-body [data-action="upload"]');
  const dlg = page.locator("dialog[open]");
  await dlg.getByLabel("File", { exact: true }).setInputFiles(file);
  await dlg.locator("button[type=submit]").click();
  await dlg.locator(".upload-text", { hasText: "100% - done" }).waitFor({ timeout: 120000 });
  check((await dlg.locator("progress.upload-progress").evaluate((p) => p.value)) === 100, "progress bar at 100");
  await shot(page, `upload-${content}`);
  await dlg.locator("button[type=button]").click();
  await dlg.waitFor({ state: "detached" });
}

// Every visible form field has a label.
async function checkLabelled(page) {
  const bare = await page.evaluate(() => [...document.querySelectorAll("input, select, textarea")]
    .filter((el) => el.offsetParent !== null && el.type !== "hidden" && !el.labels.length && !el.getAttribute("aria-label"))
    .map((el) => el.outerHTML));
  check(bare.length === 0, `fields without a label: ${bare.join(" ")}`);
}

// The page fits 1280x720 without horizontal scrolling.
async function checkFits(page) {
  const w = await page.evaluate(() => document.documentElement.scrollWidth);
  check(w <= 1280, `page is ${w} px wide`);
}

// METHOD PATH through the page's own API module (its ticket and CSRF token).
async function apiCall(page, method, p, params) {
  return page.evaluate(async ([m, pp, pa]) => (await import("/js/api.js"))[m](pp, pa), [method, p, params]);
}

async function wizard(page) {
  await page.click("#create-vm");
  const dlg = page.locator("dialog.wizard");
  await dlg.waitFor();
  const next = dlg.locator('[data-action="next"]');
  const label = (l) => dlg.getByLabel(l, { exact: true });
  check((await label("VM ID").inputValue()) === VMID, "VM ID defaults to the next free id");
  await label("Name").fill("bad name!");
  await next.click();
  check(await label("Name").evaluate((el) => !el.validity.valid), "an invalid name is refused");
  await label("Name").fill("e2e-guest");
  await checkLabelled(page);
  await shot(page, "wizard-general");
  await next.click();
  check((await label("Media").inputValue()) === "iso", "ISO media offered once an ISO exists");
  await label("ISO image").selectOption("local:iso/e2e-test.iso");
  await next.click();
  check(await label("Serial port (socket)").isChecked(), "serial port on by default");
  await label("QEMU Agent").check();
  check((await label("SCSI Controller").inputValue()) === "virtio-scsi-single", "Proxmox's SCSI default");
  await next.click();
  check((await label("Disk size (GiB)").inputValue()) === "32", "32 GiB default disk");
  await label("Bus/Device").selectOption("virtio");
  await label("Disk source").selectOption("import:local:import/guest.qcow2");
  check(await label("Disk size (GiB)").isDisabled(), "no size for an imported disk");
  await checkLabelled(page);
  await shot(page, "wizard-disks");
  await next.click();
  check((await label("Cores").inputValue()) === "1", "1 core by default");
  await next.click();
  check((await label("Memory (MiB)").inputValue()) === "2048", "2048 MiB default");
  await label("Memory (MiB)").fill("8");
  await next.click();
  check(await label("Memory (MiB)").evaluate((el) => !el.validity.valid), "memory below 16 MiB is refused");
  await label("Memory (MiB)").fill("256");
  await next.click();
  check((await label("Model").inputValue()) === "virtio", "virtio NIC by default");
  const bridgeChoices = await label("Bridge").locator("option").evaluateAll((os) => os.map((o) => [o.value, o.textContent]));
  const nodeBridges = await apiCall(page, "get", `/nodes/${NODE}/network`, { type: "any_bridge" });
  check(bridgeChoices[0][0] === "" && bridgeChoices[0][1] === "none (user-mode NAT)" && (await label("Bridge").inputValue()) === "",
    `user-mode NAT first and chosen: ${JSON.stringify(bridgeChoices)}`);
  check(JSON.stringify(bridgeChoices.slice(1).map(([v]) => v)) === JSON.stringify(nodeBridges.map((b) => b.iface).sort()),
    `the node's bridges offered: ${JSON.stringify(bridgeChoices)} vs ${JSON.stringify(nodeBridges)}`);
  await next.click();
  const confirmText = await dlg.locator("table.confirm").innerText();
  check(confirmText.includes("virtio0") && confirmText.includes("import-from=local:import/guest.qcow2"), `confirm lists the disk: ${confirmText}`);
  await shot(page, "wizard-confirm");
  await next.click();
  await dlg.waitFor({ state: "detached" });
}

async function main() {
  fs.mkdirSync(SHOTS, { recursive: true });
  const browser = await chromium.launch({ executablePath: "/usr/bin/chromium", headless: true, args: ["--no-sandbox"] });
  const context = await browser.newContext({ ignoreHTTPSErrors: true, viewport: { width: 1280, height: 720 } });
  const page = await context.newPage();
  page.setDefaultTimeout(30000);
  currentPage = page;
  watch(page);

  await step("login page: realms from /access/domains, wrong password shows an error", async () => {
    await page.goto(`${BASE}/`);
    await page.locator("#login-realm option").first().waitFor({ state: "attached" });
    check((await page.locator("#login-realm option").count()) >= 2, "two realms");
    await page.fill("#login-user", "admin");
    await page.fill("#login-password", "wrong-password");
    await page.selectOption("#login-realm", "pve");
    await page.click("#login-submit");
    await page.locator("#login-error", { hasText: "Login failed" }).waitFor({ timeout: 15000 });
    check(await page.locator("#app").isHidden(), "still on the login page");
    await shot(page, "login-error");
  });

  await step("log in: the tree shows Datacenter, the node and its storage", async () => {
    await page.fill("#login-user", USER);
    await page.fill("#login-password", PASSWORD);
    await page.click("#login-submit");
    await page.locator("body[data-tree-ready]").waitFor();
    await treeItem(page, `#/node/${NODE}`).waitFor();
    await treeItem(page, `#/storage/${NODE}/local`).waitFor();
    check((await page.locator("#user").innerText()) === USER, "user shown");
    await shot(page, "datacenter-summary");
  });

  await step("keyboard: arrow keys move through the tree, Enter opens the node", async () => {
    await page.locator("#tree a.tree-item").first().focus();
    await page.keyboard.press("ArrowDown");
    check(await page.evaluate(() => document.activeElement.getAttribute("href")) === `#/node/${NODE}`, "focus on the node");
    await page.keyboard.press("Enter");
    await page.waitForFunction((n) => location.hash === `#/node/${n}`, NODE);
    await page.locator('.tab-body[data-tab="summary"] canvas').first().waitFor();
    await page.locator('.tab-body [data-charts="ready"]').waitFor({ timeout: 20000 });
    const day = page.waitForResponse((r) => r.url().includes("/rrddata?timeframe=day&cf=MAX") && r.status() === 200);
    await page.locator(".tab-body").getByLabel("Consolidation", { exact: true }).selectOption("MAX");
    await page.locator(".tab-body").getByLabel("Timeframe", { exact: true }).selectOption("day");
    await day;
    check((await page.locator(".graph-note").innerText()) === "", "no graph error");
    await shot(page, "node-summary");
  });

  await step("datacenter permission views: users, groups, tokens, ACL", async () => {
    await go(page, "#/dc/users");
    await page.locator(".tab-body table.grid td", { hasText: USER }).first().waitFor();
    await shot(page, "datacenter-users");
    await page.click('.tab-body [data-action="add"]');
    const dlg = page.locator("dialog[open]");
    await dlg.getByLabel("User name", { exact: true }).fill("alice@pve");
    await dlg.getByLabel("Password", { exact: true }).fill("alice-password-1");
    await dlg.locator('button[type="submit"]').click();
    await page.locator(".tab-body table.grid td", { hasText: "alice@pve" }).waitFor();
    await go(page, "#/dc/groups");
    await page.click('.tab-body [data-action="add"]');
    let d = page.locator("dialog[open]");
    await d.getByLabel("Name", { exact: true }).fill("e2e-ops");
    await d.locator('button[type="submit"]').click();
    await page.locator(".tab-body table.grid td", { hasText: "e2e-ops" }).waitFor();
    await go(page, "#/dc/tokens");
    await page.locator(".tab-body table.grid").waitFor();
    await page.click('.tab-body [data-action="add"]');
    d = page.locator("dialog[open]");
    await d.getByLabel("Token ID", { exact: true }).fill("e2etoken");
    await d.locator('button[type="submit"]').click();
    const secret = await page.locator("dialog[open] code.secret").innerText();
    check(/^[0-9a-f-]{36}$/.test(secret), `token secret shown once: ${secret}`);
    await page.locator("dialog[open] button[type=button]").click();
    await page.locator(".tab-body table.grid td", { hasText: "e2etoken" }).waitFor();
    await go(page, "#/dc/acl");
    await page.locator(".tab-body table.grid td", { hasText: "Administrator" }).first().waitFor();
    await page.click('.tab-body [data-action="add"]');
    d = page.locator("dialog[open]");
    await d.getByLabel("Path", { exact: true }).fill("/vms");
    await d.getByLabel("Type", { exact: true }).selectOption("groups");
    await d.getByLabel("User/Group/Token", { exact: true }).fill("e2e-ops");
    await d.getByLabel("Role", { exact: true }).selectOption("PVEVMUser");
    await d.locator('button[type="submit"]').click();
    const row = page.locator(".tab-body tr", { hasText: "e2e-ops" });
    await row.locator("td", { hasText: "PVEVMUser" }).waitFor();
    await shot(page, "datacenter-acl");
    await row.click();
    await page.click('.tab-body [data-action="remove"]');
    await page.locator("dialog[open] button[type=submit]").click();
    await row.waitFor({ state: "detached" });
    await go(page, "#/dc/cluster");
    await page.locator(".tab-body table.grid td", { hasText: NODE }).first().waitFor();
  });

  await step("datacenter storage: add a directory storage, see it in the tree, edit and remove it", async () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), "corral-e2e-dir-"));
    try {
      await go(page, "#/dc/storage");
      await page.locator(".tab-body table.grid td", { hasText: "local" }).first().waitFor();
      await page.click('.tab-body [data-action="add"]');
      let dlg = page.locator("dialog[open]");
      await dlg.getByLabel("ID", { exact: true }).fill("e2e-dir");
      await dlg.getByLabel("Directory", { exact: true }).fill(dir);
      await dlg.getByLabel("Content: Import", { exact: true }).check();
      await dlg.locator("button[type=submit]").click();
      await treeItem(page, `#/storage/${NODE}/e2e-dir`).waitFor({ timeout: 15000 });
      await page.locator(".tab-body tr", { hasText: "e2e-dir" }).click();
      await page.click('.tab-body [data-action="edit"]');
      dlg = page.locator("dialog[open]");
      await dlg.getByLabel("Content: ISO image", { exact: true }).uncheck();
      await dlg.locator("button[type=submit]").click();
      await page.locator(".tab-body tr", { hasText: "e2e-dir" }).locator("td", { hasText: /^images,import$|^import,images$/ }).waitFor();
      await shot(page, "datacenter-storage");
      await page.locator(".tab-body tr", { hasText: "e2e-dir" }).click();
      await page.click('.tab-body [data-action="remove"]');
      await page.locator("dialog[open] button[type=submit]").click();
      await treeItem(page, `#/storage/${NODE}/e2e-dir`).waitFor({ state: "detached", timeout: 15000 });
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });

  await step("upload an ISO: the progress bar reaches 100% and the image is listed", async () => {
    const iso = path.join(fs.mkdtempSync(path.join(os.tmpdir(), "corral-e2e-")), "e2e-test.iso");
    fs.writeFileSync(iso, Buffer.alloc(24 << 20, 0x5a));
    await uploadFile(page, "iso", iso);
    await page.locator(".tab-body td", { hasText: "iso/e2e-test.iso" }).waitFor();
    await shot(page, "storage-content");
    fs.rmSync(path.dirname(iso), { recursive: true, force: true });
  });

  await step("upload the test guest's disk image for import", async () => {
    await uploadFile(page, "import", GUEST);
    await page.locator(".tab-body td", { hasText: "import/guest.qcow2" }).waitFor();
  });

  await step("create a VM with the test guest's disk through the wizard", async () => {
    await wizard(page);
    await treeItem(page, vmHash).waitFor({ timeout: 30000 });
    await waitTasksIdle(page);
    await page.locator("#tasks-body td", { hasText: `VM ${VMID} - Create` }).first().waitFor();
    await page.locator('.panel-head [data-action="start"]:not([disabled])').waitFor();
    await shot(page, "vm-summary-stopped");
  });

  await step("hardware: add/remove a disk, memory, CPU, CD/DVD media, add/remove a NIC", async () => {
    await go(page, `${vmHash}/hardware`);
    await page.locator(".tab-body td", { hasText: "Hard Disk (virtio0)" }).waitFor();
    await page.click('.tab-body [data-action="add-disk"]');
    let dlg = page.locator("dialog[open]");
    await dlg.getByLabel("Bus/Device", { exact: true }).selectOption("scsi");
    await dlg.getByLabel("Disk size (GiB)", { exact: true }).fill("1");
    await dlg.locator('button[type="submit"]').click();
    await page.locator(".tab-body td", { hasText: "Hard Disk (scsi0)" }).waitFor();
    await page.locator(".tab-body tr", { hasText: "Memory" }).click();
    await page.click('.tab-body [data-action="edit"]');
    dlg = page.locator("dialog[open]");
    await dlg.getByLabel("Memory (MiB)", { exact: true }).fill("320");
    await dlg.locator('button[type="submit"]').click();
    await page.locator(".tab-body td", { hasText: "320 MiB" }).waitFor();
    await page.locator(".tab-body tr", { hasText: "Processors" }).click();
    await page.click('.tab-body [data-action="edit"]');
    dlg = page.locator("dialog[open]");
    await dlg.getByLabel("Cores", { exact: true }).fill("0");
    await dlg.locator('button[type="submit"]').click();
    check(await dlg.getByLabel("Cores", { exact: true }).evaluate((el) => !el.validity.valid), "0 cores refused");
    await dlg.getByLabel("Cores", { exact: true }).fill("1");
    await dlg.getByLabel("Type", { exact: true }).selectOption("qemu64");
    await dlg.locator('button[type="submit"]').click();
    await page.locator(".tab-body td", { hasText: "[qemu64]" }).waitFor();
    await shot(page, "vm-hardware");
    await page.locator(".tab-body tr", { hasText: "Hard Disk (scsi0)" }).click();
    await page.click('.tab-body [data-action="remove"]');
    await page.locator("dialog[open] button[type=submit]").click();
    await page.locator(".tab-body td", { hasText: "Unused Disk 0" }).waitFor();
    await page.locator(".tab-body tr", { hasText: "CD/DVD Drive (ide2)" }).click();
    await page.click('.tab-body [data-action="edit"]');
    dlg = page.locator("dialog[open]");
    await dlg.getByLabel("ISO image", { exact: true }).selectOption("none");
    await dlg.locator('button[type="submit"]').click();
    await page.locator(".tab-body td", { hasText: "none,media=cdrom" }).waitFor();
    await page.click('.tab-body [data-action="add-net"]');
    dlg = page.locator("dialog[open]");
    await dlg.getByLabel("Model", { exact: true }).selectOption("e1000");
    await dlg.getByLabel("MAC address", { exact: true }).fill("zz:00");
    await dlg.locator('button[type="submit"]').click();
    check(await dlg.getByLabel("MAC address", { exact: true }).evaluate((el) => !el.validity.valid), "a bad MAC is refused");
    await dlg.getByLabel("MAC address", { exact: true }).fill("BC:24:11:00:00:42");
    await dlg.locator('button[type="submit"]').click();
    await page.locator(".tab-body td", { hasText: "e1000=BC:24:11:00:00:42" }).waitFor();
    await page.locator(".tab-body tr", { hasText: "Network Device (net1)" }).click();
    await page.click('.tab-body [data-action="remove"]');
    await page.locator("dialog[open] button[type=submit]").click();
    await page.locator(".tab-body td", { hasText: "Network Device (net1)" }).waitFor({ state: "detached" });
  });

  await step("start with the serial console open: the guest's boot marker in the terminal", async () => {
    await go(page, `${vmHash}/console`);
    await page.locator(".tab-body", { hasText: "The VM is not running." }).waitFor();
    await page.locator('.panel-head [data-action="start"]:not([disabled])').click();
    // The start task ends once QEMU runs; the guest is still in its firmware.
    await page.locator("#tasks-body tr:not(.task-running)", { hasText: `VM ${VMID} - Start` }).first().waitFor({ timeout: 60000 });
    await page.click('.tab-body [data-action="console-serial"]');
    const term = page.frameLocator(".console-frame iframe.console-serial");
    await term.locator("body", { hasText: "CORRAL-GUEST-READY" }).waitFor({ timeout: BOOT_TIMEOUT });
    await waitVmStatus(page, "running", 30000);
    check(await page.locator('.panel-head [data-action="start"]').isDisabled(), "Start disabled while running");
    await page.locator('.panel-head [data-action="shutdown"]:not([disabled])').waitFor();
    await shot(page, "vm-console-serial");
  });

  await step("serial console: a command typed in the terminal runs in the guest's shell", async () => {
    const term = page.frameLocator(".console-frame iframe.console-serial");
    await term.locator("#console-screen").click();
    await page.keyboard.press("Enter");
    await page.keyboard.type("echo sum=$((40+2))");
    await page.keyboard.press("Enter");
    await term.locator("body", { hasText: "sum=42" }).waitFor({ timeout: 30000 });
  });

  await step("VNC console: noVNC draws the guest's screen (non-blank canvas)", async () => {
    await page.click('.tab-body [data-action="console-vnc"]');
    const frame = page.frameLocator(".console-frame iframe.console-vnc");
    await frame.locator("canvas").first().waitFor({ timeout: 30000 });
    const el = await page.locator(".console-frame iframe.console-vnc").elementHandle();
    const f = await el.contentFrame();
    await f.waitForFunction(() => {
      const c = document.querySelector("canvas");
      if (!c || !c.width || !c.height) return false;
      const px = c.getContext("2d").getImageData(0, 0, c.width, c.height).data;
      let lit = 0;
      for (let i = 0; i < px.length; i += 4) if (px[i] + px[i + 1] + px[i + 2] > 60) lit++;
      return lit > 100;
    }, null, { timeout: 60000, polling: 500 });
    await shot(page, "vm-console-vnc");
    await go(page, `${vmHash}/summary`);
    await page.locator('.tab-body [data-charts="ready"]').waitFor({ timeout: 20000 });
    await shot(page, "vm-summary-running");
  });

  await step("pause and resume: the buttons follow the VM's state", async () => {
    await page.locator('.panel-head [data-action="suspend"]:not([disabled])').click();
    await page.locator('.panel-head [data-action="resume"]:not([disabled])').waitFor({ timeout: 30000 });
    check(await page.locator('.panel-head [data-action="suspend"]').isDisabled(), "Pause disabled while paused");
    await page.locator(".tab-body .vm-status td", { hasText: "running (paused)" }).waitFor();
    await page.locator('.panel-head [data-action="resume"]').click();
    await page.locator('.panel-head [data-action="suspend"]:not([disabled])').waitFor({ timeout: 30000 });
    check(await page.locator('.panel-head [data-action="resume"]').isDisabled(), "Resume disabled while running");
  });

  await step("summary: the guest agent's addresses of the running VM", async () => {
    await go(page, `${vmHash}/summary`);
    // the guest's eth0 has at least its IPv6 link-local address
    await page.locator(".vm-status tr", { hasText: "IPs" }).locator("td", { hasText: /fe80::/ }).waitFor({ timeout: 60000 });
    await shot(page, "vm-summary-ips");
  });

  await step("options: renaming the VM shows in the tree", async () => {
    await go(page, `${vmHash}/options`);
    await page.locator(".tab-body tr", { hasText: "e2e-guest" }).click();
    await page.click('.tab-body [data-action="edit"]');
    const dlg = page.locator("dialog[open]");
    await dlg.getByLabel("Name", { exact: true }).fill("e2e-renamed");
    await dlg.locator("button[type=submit]").click();
    await treeItem(page, vmHash).filter({ hasText: "e2e-renamed" }).waitFor({ timeout: 15000 });
    await shot(page, "vm-options");
  });

  await step("datacenter pools: create one, put the VM and local in it, empty and remove it", async () => {
    await go(page, "#/dc/pools");
    await page.locator(".tab-body table.grid").waitFor();
    await page.click('.tab-body [data-action="add"]');
    let dlg = page.locator("dialog[open]");
    await dlg.getByLabel("Name", { exact: true }).fill("e2e-pool");
    await dlg.getByLabel("Comment", { exact: true }).fill("made in the browser");
    await dlg.locator("button[type=submit]").click();
    const row = page.locator(".tab-body tr", { hasText: "e2e-pool" });
    await row.locator("td", { hasText: "made in the browser" }).waitFor();
    await row.click();
    await page.click('.tab-body [data-action="edit"]');
    dlg = page.locator("dialog[open]");
    await dlg.getByLabel("VMs", { exact: true }).fill(VMID);
    await dlg.getByLabel("Storage", { exact: true }).fill("local");
    await dlg.locator("button[type=submit]").click();
    await row.locator("td", { hasText: new RegExp(`^${VMID}$`) }).waitFor();
    await row.locator("td", { hasText: /^local$/ }).waitFor();
    await shot(page, "datacenter-pools");
    await row.click();
    await page.click('.tab-body [data-action="remove"]');
    await page.locator("dialog[open] button[type=submit]").click();
    await page.locator(".notice", { hasText: "is not empty" }).waitFor();
    await row.click();
    await page.click('.tab-body [data-action="edit"]');
    dlg = page.locator("dialog[open]");
    await dlg.getByLabel("VMs", { exact: true }).fill("");
    await dlg.getByLabel("Storage", { exact: true }).fill("");
    await dlg.locator("button[type=submit]").click();
    await row.locator("td", { hasText: new RegExp(`^${VMID}$`) }).waitFor({ state: "detached" });
    await row.click();
    await page.click('.tab-body [data-action="remove"]');
    await page.locator("dialog[open] button[type=submit]").click();
    await row.waitFor({ state: "detached" });
  });

  await step("snapshots: take one of the running VM, see it in the tree", async () => {
    await go(page, `${vmHash}/snapshots`);
    await page.locator(".tab-body td", { hasText: "NOW" }).waitFor();
    await page.click('.tab-body [data-action="snapshot"]');
    const dlg = page.locator("dialog[open]");
    await dlg.getByLabel("Name", { exact: true }).fill("1bad");
    await dlg.locator("button[type=submit]").click();
    check(await dlg.getByLabel("Name", { exact: true }).evaluate((el) => !el.validity.valid), "a name starting with a digit is refused");
    await dlg.getByLabel("Name", { exact: true }).fill("before_shutdown");
    await dlg.getByLabel("Include RAM", { exact: true }).uncheck();
    await dlg.getByLabel("Description", { exact: true }).fill("taken by the browser test");
    await dlg.locator("button[type=submit]").click();
    await page.locator(".tab-body td", { hasText: "before_shutdown" }).waitFor({ timeout: 60000 });
    await page.locator(".tab-body td", { hasText: "taken by the browser test" }).waitFor();
    await shot(page, "vm-snapshots");
    await go(page, `${vmHash}/summary`);
  });

  await step("shut down from the UI: the tree shows it stopped", async () => {
    await page.locator('.panel-head [data-action="shutdown"]').click();
    await waitVmStatus(page, "stopped", 150000);
    await page.locator('.panel-head [data-action="start"]:not([disabled])').waitFor();
    // The task holds the VM's lock a moment longer than QEMU lives.
    await page.locator("#tasks-body tr:not(.task-running)", { hasText: `VM ${VMID} - Shutdown` }).first().waitFor({ timeout: 30000 });
  });

  await step("snapshots: roll back to the snapshot, then remove it", async () => {
    await go(page, `${vmHash}/snapshots`);
    await page.locator(".tab-body tr", { hasText: "before_shutdown" }).click();
    await page.click('.tab-body [data-action="rollback"]');
    await page.locator("dialog[open] button[type=submit]").click();
    await page.locator("#tasks-body tr:not(.task-running)", { hasText: `VM ${VMID} - Rollback` }).first().waitFor({ timeout: 60000 });
    await page.locator(".tab-body tr", { hasText: "before_shutdown" }).click();
    await page.click('.tab-body [data-action="remove"]');
    await page.locator("dialog[open] button[type=submit]").click();
    await page.locator(".tab-body td", { hasText: "before_shutdown" }).waitFor({ state: "detached", timeout: 60000 });
    await page.locator("#tasks-body tr:not(.task-running)", { hasText: `VM ${VMID} - Delete Snapshot` }).first().waitFor({ timeout: 30000 });
  });

  await step("resize the disk by 1 GiB from the Hardware tab", async () => {
    await go(page, `${vmHash}/hardware`);
    await page.locator(".tab-body tr", { hasText: "Hard Disk (virtio0)" }).click();
    await page.click('.tab-body [data-action="resize"]');
    const dlg = page.locator("dialog[open]");
    await dlg.getByLabel("Size Increment (GiB)", { exact: true }).fill("1");
    await dlg.locator("button[type=submit]").click();
    await page.locator(".tab-body td", { hasText: "size=1088M" }).waitFor({ timeout: 60000 });
  });

  await step("full clone to the next free VM ID, then convert the clone to a template", async () => {
    const cloneId = String(Number(VMID) + 1);
    await go(page, `${vmHash}/summary`);
    await page.locator('.panel-head [data-action="clone"]').click();
    const dlg = page.locator("dialog[open]");
    check((await dlg.getByLabel("VM ID", { exact: true }).inputValue()) === cloneId, "the next free VM ID");
    await dlg.getByLabel("Name", { exact: true }).fill("e2e-clone");
    await dlg.locator("button[type=submit]").click();
    const cloneHash = `#/qemu/${NODE}/${cloneId}`;
    await page.locator(`#tree a.tree-item[href="${cloneHash}"]`).waitFor({ timeout: 60000 });
    await page.locator("#tasks-body tr:not(.task-running)", { hasText: `VM ${VMID} - Clone` }).first().waitFor({ timeout: 120000 });
    await go(page, cloneHash);
    await page.locator('.panel-head [data-action="template"]:not([disabled])').click();
    await page.locator("dialog[open] button[type=submit]").click();
    await page.locator(`#tree a.tree-item[href="${cloneHash}"][data-status="template"]`).waitFor({ timeout: 60000 });
    await page.locator('.panel-head [data-action="start"][disabled]').waitFor();
    await shot(page, "vm-template");
    await page.locator('.panel-head [data-action="remove"]:not([disabled])').click();
    const del = page.locator("dialog[open]");
    await del.getByLabel(`Please enter the ID to confirm (${cloneId})`, { exact: true }).fill(cloneId);
    await del.locator("button[type=submit]").click();
    await page.locator(`#tree a.tree-item[href="${cloneHash}"]`).waitFor({ state: "detached", timeout: 60000 });
    await page.waitForFunction((n) => location.hash === `#/node/${n}`, NODE);
  });

  await step("node task history and network, the VM's task history; views fit 1280x720", async () => {
    await go(page, `#/node/${NODE}/tasks`);
    await page.locator(".tab-body td", { hasText: `VM ${VMID} - Shutdown` }).first().waitFor();
    await checkFits(page);
    await shot(page, "node-tasks");
    await go(page, `${vmHash}/tasks`);
    await page.locator(".tab-body td", { hasText: `VM ${VMID} - Snapshot` }).first().waitFor();
    await checkFits(page);
    await go(page, `#/node/${NODE}/storage`);
    await page.locator(".tab-body td", { hasText: "local" }).first().waitFor();
    await checkFits(page);
    await checkLabelled(page);
    // Other programs may add or remove interfaces meanwhile: the rows are
    // those listed before or after, and include those listed both times.
    const ifaces = async () => (await apiCall(page, "get", `/nodes/${NODE}/network`)).map((i) => i.iface);
    const before = await ifaces();
    await go(page, `#/node/${NODE}/network`);
    await page.locator('.tab-body table[aria-label="Network"]').waitFor();
    const shown = await page.locator('.tab-body table[aria-label="Network"] tbody tr').evaluateAll((trs) => trs.map((tr) => tr.cells[0].textContent));
    const after = await ifaces();
    const names = shown[0] === "No bridges, bonds, VLANs or NICs" ? [] : shown;
    check(names.every((n) => before.includes(n) || after.includes(n)) && before.filter((n) => after.includes(n)).every((n) => names.includes(n)),
      `network rows ${names} vs ${before} / ${after}`);
    await shot(page, "node-network");
  });

  await step("the task panel opens a task's log", async () => {
    await page.locator("#tasks-body tr", { hasText: `VM ${VMID} - Start` }).first().click();
    const log = page.locator("dialog[open] pre.tasklog");
    await page.waitForFunction(() => (document.querySelector("dialog[open] pre.tasklog") || {}).textContent?.includes("TASK OK"), null, { timeout: 15000 });
    check((await log.innerText()).length > 0, "log text");
    await shot(page, "task-log");
    await page.locator("dialog[open] button[type=submit]").click();
  });

  await step("delete the VM: confirmation by VM ID, gone from the tree", async () => {
    await go(page, `${vmHash}/summary`);
    await page.locator('.panel-head [data-action="remove"]:not([disabled])').click();
    const dlg = page.locator("dialog[open]");
    await dlg.locator("button[type=submit]").click();
    check(await dlg.isVisible(), "not deleted without the ID");
    await dlg.getByLabel(`Please enter the ID to confirm (${VMID})`, { exact: true }).fill(VMID);
    await dlg.locator("button[type=submit]").click();
    await treeItem(page, vmHash).waitFor({ state: "detached", timeout: 60000 });
    await page.waitForFunction((n) => location.hash === `#/node/${n}`, NODE);
  });

  await step("session renewal: the ticket is renewed with itself as the password", async () => {
    const session = () => page.evaluate(() => JSON.parse(sessionStorage.getItem("corral-session")));
    const cookie = async () => (await context.cookies()).find((c) => c.name === "PVEAuthCookie").value;
    const before = await session();
    const oldTicket = await cookie();
    await page.waitForTimeout(1100); // tickets carry whole seconds
    await page.evaluate(async () => { const api = await import("/js/api.js"); await api.renew(); });
    const after = await session();
    check(after.at > before.at && after.username === USER, "session renewed");
    check((await cookie()) !== oldTicket, "a new ticket in the cookie");
    await go(page, "#/dc/summary");
    await page.locator(".tab-body .card h2", { hasText: "Guests" }).waitFor();
  });

  await step("datacenter cluster: create a cluster, its join information names this node", async () => {
    await go(page, "#/dc/cluster");
    await page.locator(".tab-body td", { hasText: "Standalone node - no cluster defined" }).waitFor();
    check(await page.locator('.tab-body [data-action="cluster-joininfo"]').isDisabled(), "no join information without a cluster");
    await page.click('.tab-body [data-action="cluster-create"]');
    const dlg = page.locator("dialog[open]");
    await dlg.getByLabel("Cluster Name", { exact: true }).fill("e2e-lab");
    await dlg.locator("button[type=submit]").click();
    await page.locator(".tab-body td", { hasText: "e2e-lab" }).waitFor({ timeout: 30000 });
    await page.click('.tab-body [data-action="cluster-joininfo"]');
    const info = page.locator("dialog[open]");
    const text = await info.getByLabel("Join Information", { exact: true }).inputValue();
    const decoded = JSON.parse(Buffer.from(text, "base64").toString());
    check(decoded.totem.cluster_name === "e2e-lab" && /^([0-9A-F]{2}:){31}[0-9A-F]{2}$/.test(decoded.fingerprint), `join information: ${JSON.stringify(decoded)}`);
    await shot(page, "datacenter-cluster");
    await info.locator("button[type=button]").click();
    joinInfo = text;
  });

  await step("join a second node through its own UI with the join information", async () => {
    check(joinInfo, "join information from the previous step");
    const context2 = await browser.newContext({ ignoreHTTPSErrors: true, viewport: { width: 1280, height: 720 } });
    const page2 = await context2.newPage();
    page2.setDefaultTimeout(30000);
    watch(page2);
    try {
      await page2.goto(`${process.env.CORRAL_URL2}/`);
      await page2.fill("#login-user", USER);
      await page2.fill("#login-password", PASSWORD);
      await page2.click("#login-submit");
      await page2.locator("body[data-tree-ready]").waitFor();
      await go(page2, "#/dc/cluster");
      await page2.click('.tab-body [data-action="cluster-join"]');
      const dlg = page2.locator("dialog[open]");
      await dlg.getByLabel("Information", { exact: true }).fill(joinInfo);
      check((await dlg.getByLabel("Peer Address", { exact: true }).inputValue()) === new URL(BASE).host, "peer address from the join information");
      await dlg.getByLabel("Password", { exact: true }).fill(PASSWORD);
      await dlg.locator("button[type=submit]").click();
      await page2.locator(".tab-body td", { hasText: "e2e-lab" }).waitFor({ timeout: 60000 });
      await shot(page2, "datacenter-cluster-joined");
    } finally {
      await context2.close();
    }
    await treeItem(page, `#/node/${process.env.CORRAL_NODE2}`).waitFor({ timeout: 60000 });
    await go(page, "#/dc/summary");
    await page.locator(".tab-body td", { hasText: "2 of 2" }).waitFor({ timeout: 30000 });
    await shot(page, "datacenter-summary-cluster");
  });

  const SMALL = 190; // a VM with a 16 MiB disk for the edit dialogs and the migration
  const smallHash = `#/qemu/${NODE}/${SMALL}`;
  await step("hardware: BIOS, display, machine and SCSI controller edit dialogs; add an EFI disk", async () => {
    const upid = await apiCall(page, "post", `/nodes/${NODE}/qemu`, { vmid: SMALL, name: "e2e-small", memory: 64, scsi0: "local:0.015625" });
    await apiCall(page, "waitTask", upid);
    await go(page, `${smallHash}/hardware`);
    await page.locator(".tab-body td", { hasText: "Hard Disk (scsi0)" }).waitFor();
    const edit = async (row, value, shown) => {
      await page.locator(".tab-body tr", { hasText: row }).first().click();
      await page.click('.tab-body [data-action="edit"]');
      const dlg = page.locator("dialog[open]");
      await dlg.getByLabel(row, { exact: true }).selectOption(value);
      await dlg.locator("button[type=submit]").click();
      await dlg.waitFor({ state: "detached" });
      await page.locator(".tab-body tr", { hasText: row }).locator("td", { hasText: shown }).waitFor();
    };
    await edit("BIOS", "ovmf", "ovmf");
    await page.click('.tab-body [data-action="add-efi"]');
    const efi = page.locator("dialog[open]");
    await efi.getByLabel("Storage", { exact: true }).selectOption("local");
    await efi.locator("button[type=submit]").click();
    await page.locator(".tab-body tr", { hasText: "EFI Disk" }).locator("td", { hasText: "efitype=4m" }).waitFor();
    check(await page.locator('.tab-body [data-action="add-efi"]').isDisabled(), "one EFI disk at most");
    await edit("Display", "virtio", "virtio");
    await edit("Machine", "q35", "q35");
    await edit("SCSI Controller", "virtio-scsi-single", "virtio-scsi-single");
    const conf = await apiCall(page, "get", `/nodes/${NODE}/qemu/${SMALL}/config`);
    check(conf.bios === "ovmf" && conf.vga === "virtio" && conf.machine === "q35" && conf.scsihw === "virtio-scsi-single", `config: ${JSON.stringify(conf)}`);
    await shot(page, "vm-hardware-system");
  });

  await step("migrate a stopped VM to the other node: the dialog's checks, the task, the tree", async () => {
    const node2 = process.env.CORRAL_NODE2;
    await go(page, smallHash);
    await page.locator('.panel-head [data-action="migrate"]:not([disabled])').waitFor({ timeout: 30000 });
    await page.click('.panel-head [data-action="migrate"]');
    const dlg = page.locator("dialog[open]");
    check((await dlg.getByLabel("Target node", { exact: true }).inputValue()) === node2, "the other node is the target");
    const info = await dlg.locator(".migrate-info").innerText();
    check(info.includes("Offline") && info.includes(`scsi0: local:${SMALL}/`) && info.includes("efidisk0: "), `offline, the local disks listed: ${info}`);
    await shot(page, "vm-migrate");
    await dlg.locator("button[type=submit]").click();
    await treeItem(page, `#/qemu/${node2}/${SMALL}`).waitFor({ timeout: 90000 });
    await page.locator("#tasks-body td", { hasText: `VM ${SMALL} - Migrate` }).first().waitFor();
    await page.waitForFunction((h) => location.hash.startsWith(h), `#/qemu/${node2}/${SMALL}`, { timeout: 30000 });
    check(await treeItem(page, smallHash).count() === 0, "gone from the source node");
    await apiCall(page, "waitTask", await apiCall(page, "del", `/nodes/${node2}/qemu/${SMALL}`));
  });

  await step("dark mode renders with the dark palette", async () => {
    await page.emulateMedia({ colorScheme: "dark" });
    const bg = await page.evaluate(() => getComputedStyle(document.body).backgroundColor);
    check(bg === "rgb(22, 25, 29)", `dark background, got ${bg}`);
    await shot(page, "dark-mode");
    await page.emulateMedia({ colorScheme: "light" });
  });

  await step("logout returns to the login page", async () => {
    await page.click("#logout");
    await page.locator("#login-form").waitFor();
    check(await page.locator("#app").isHidden(), "app hidden");
  });

  await step("no uncaught JavaScript errors during the run", async () => {
    check(errors.length === 0, errors.join("\n"));
  });

  await browser.close();
  console.log(`${passed} passed, ${failed} failed`);
  process.exitCode = failed ? 1 : 0;
}

main().catch((e) => {
  console.log(`not ok - browser run: ${e.stack || e}`);
  console.log(`${passed} passed, ${failed + 1} failed`);
  process.exitCode = 1;
});
