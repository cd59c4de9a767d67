// The console page in Debian's chromium (headless, through playwright-core
// from tests/e2e): run by test_console_page.py with BASE, TICKET, NODE and
// VMID set.  Prints ok / not ok lines; CSP violations and page errors fail.
import { chromium } from "../e2e/node_modules/playwright-core/index.mjs";

const { BASE, TICKET, NODE, VMID } = process.env;
const problems = [];
let passed = 0;
let failed = 0;

async function check(name, fn) {
  problems.length = 0;
  try {
    await fn();
    if (problems.length) throw new Error(problems.join("\n"));
    console.log(`ok - ${name}`);
    passed++;
  } catch (e) {
    console.log(`not ok - ${name}\n    ${String(e.stack || e).split("\n").join("\n    ")}`);
    failed++;
  }
}

async function connected(page) {
  await page.waitForFunction(() => document.getElementById("console-status").textContent === "connected", null, { timeout: 30000 });
}

const browser = await chromium.launch({ executablePath: "/usr/bin/chromium", headless: true, args: ["--no-sandbox"] });
try {
  const context = await browser.newContext({ ignoreHTTPSErrors: true, viewport: { width: 1024, height: 700 } });
  await context.addCookies([{ name: "PVEAuthCookie", value: encodeURIComponent(TICKET), url: BASE, secure: true, sameSite: "Lax" }]);
  const page = await context.newPage();
  page.on("pageerror", (e) => problems.push(`page error: ${e.message}`));
  page.on("console", (m) => { if (m.type() === "error") problems.push(`console error: ${m.text()}`); });
  const url = (q) => `${BASE}/console.html?${new URLSearchParams({ vmid: VMID, node: NODE, vmname: "page", ...q })}`;

  await check("serial console (?console=kvm&xtermjs=1): connects and runs a command", async () => {
    await page.goto(url({ console: "kvm", xtermjs: "1" }));
    await connected(page);
    await page.focus(".plain-term, .xterm-helper-textarea");
    await page.keyboard.type("echo $((6*7))");
    await page.keyboard.press("Enter");
    await page.waitForFunction(() => /\n42\s/.test(document.getElementById("console-screen").textContent), null, { timeout: 30000 });
  });
  await check("VNC console (?console=kvm&novnc=1): noVNC connects and draws the screen", async () => {
    await page.goto(url({ console: "kvm", novnc: "1" }));
    await connected(page);
    const size = await page.$eval("#console-screen canvas", (c) => [c.width, c.height]);
    if (!(size[0] > 0 && size[1] > 0)) throw new Error(`canvas ${size}`);
  });
  await check("a missing vmid is reported on the page", async () => {
    await page.goto(`${BASE}/console.html?console=kvm&novnc=1&node=${NODE}`);
    await page.waitForFunction(() => document.getElementById("console-status").classList.contains("error"));
  });
} finally {
  await browser.close();
}
console.log(`${passed} passed, ${failed} failed`);
process.exit(failed ? 1 : 0);
