// The main panel frame shared by all views: a title bar with actions and a
// vertical tab list whose entries are links (#/.../tab), each tab rendered on
// demand and torn down (timers, charts) when left.
import { h, clear } from "./dom.js";

// SPEC: {title, base (hash without tab), actions: [Node], tabs: [{id, label,
// render(el) -> cleanup fn or undefined}]}.  Returns {setTab, destroy, header}.
export function panel(main, spec, tab) {
  const body = h("section", { class: "tab-body", role: "tabpanel", tabindex: -1 });
  const links = new Map();
  const nav = h("nav", { class: "tabs", "aria-label": `${spec.title} views` },
    h("ul", { role: "tablist" }, spec.tabs.map((t) => {
      const a = h("a", { href: `${spec.base}/${t.id}`, role: "tab", id: `tab-${t.id}`, text: t.label });
      links.set(t.id, a);
      return h("li", { role: "none" }, a);
    })));
  const header = h("header", { class: "panel-head" },
    h("h1", { text: spec.title }), h("div", { class: "actions", role: "toolbar", "aria-label": "Actions" }, spec.actions || []));
  main.append(header, h("div", { class: "panel-main" }, nav, body));
  let current = null;
  let teardown = null;

  function setTab(id) {
    const t = spec.tabs.find((x) => x.id === id) || spec.tabs[0];
    if (current === t.id) return;
    if (typeof teardown === "function") teardown();
    teardown = null;
    current = t.id;
    for (const [tid, a] of links) {
      a.setAttribute("aria-selected", String(tid === t.id));
      a.classList.toggle("active", tid === t.id);
    }
    body.setAttribute("aria-labelledby", `tab-${t.id}`);
    body.dataset.tab = t.id;
    // Each visit renders into its own box: a late reload of a tab left
    // behind lands in its detached box, never over the tab now shown.
    const box = h("div", { class: "tab-content" });
    clear(body).append(box);
    try {
      teardown = t.render(box);
    } catch (e) {
      box.append(h("p", { class: "error", role: "alert", text: e.message }));
    }
  }

  setTab(tab);
  return {
    header,
    setTab,
    rerender() { const c = current; current = null; setTab(c); },
    destroy() { if (typeof teardown === "function") teardown(); teardown = null; },
  };
}

// Runs LOAD(), then RENDER(data) into EL; shows an error in place on failure.
export async function loadInto(el, load, render) {
  const wait = h("p", { class: "loading", text: "Loading..." });
  el.append(wait);
  try {
    const data = await load();
    wait.remove();
    render(data);
  } catch (e) {
    wait.remove();
    el.append(h("p", { class: "error", role: "alert", text: e.status === 501 ? "Not available on this server." : (e.detail ? e.detail() : e.message) }));
  }
}

// Calls FN now and every MS while the returned stopper has not been called.
export function every(ms, fn) {
  let stopped = false;
  let timer = 0;
  const tick = async () => {
    try {
      await fn();
    } catch {
      // shown by FN itself; keep polling
    }
    if (!stopped) timer = setTimeout(tick, document.hidden ? ms * 3 : ms);
  };
  tick();
  return () => { stopped = true; clearTimeout(timer); };
}
