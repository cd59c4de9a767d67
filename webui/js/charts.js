// Live graphs with Chart.js (Debian's libjs-chart.js, loaded on first use).
// Data comes from the rrddata endpoints; where a server has none yet, the
// view samples status/current itself and graphs those samples.
import * as api from "./api.js";
import { h, bytes, field } from "./dom.js";

const CHART_JS = "/chartjs/chart.min.js";
const LIVE_POINTS = 120;
let chartPromise = null;

export function loadChartJs() {
  if (window.Chart) return Promise.resolve(window.Chart);
  if (!chartPromise) {
    chartPromise = new Promise((resolve, reject) => {
      const s = h("script", { src: CHART_JS });
      s.addEventListener("load", () => resolve(window.Chart));
      s.addEventListener("error", () => { chartPromise = null; reject(new Error("cannot load Chart.js")); });
      document.head.append(s);
    });
  }
  return chartPromise;
}

const FORMAT = {
  percent: (v) => `${(v * 100).toFixed(1)}%`,
  bytes: (v) => bytes(v),
  rate: (v) => `${bytes(v)}/s`,
  number: (v) => (Math.round(v * 100) / 100).toString(),
};

function cssVar(name) {
  return getComputedStyle(document.documentElement).getPropertyValue(name).trim();
}

function makeChart(Chart, canvas, def) {
  const colors = [cssVar("--chart-1"), cssVar("--chart-2"), cssVar("--chart-3")];
  const grid = cssVar("--border");
  const text = cssVar("--fg-muted");
  const fmt = FORMAT[def.unit];
  return new Chart(canvas, {
    type: "line",
    data: {
      labels: [],
      datasets: def.series.map((s, i) => ({
        label: s.label, data: [], borderColor: colors[i % 3], backgroundColor: colors[i % 3],
        pointRadius: 0, borderWidth: 1.5, fill: false, tension: 0.2, spanGaps: true,
      })),
    },
    options: {
      animation: false, responsive: true, maintainAspectRatio: false, normalized: true,
      interaction: { mode: "index", intersect: false },
      scales: {
        x: { ticks: { color: text, maxTicksLimit: 6, maxRotation: 0 }, grid: { color: grid } },
        y: { beginAtZero: true, ticks: { color: text, callback: fmt }, grid: { color: grid },
          suggestedMax: def.unit === "percent" ? 1 : undefined },
      },
      plugins: {
        legend: { labels: { color: text, boxWidth: 12 } },
        tooltip: { callbacks: { label: (c) => `${c.dataset.label}: ${fmt(c.parsed.y)}` } },
      },
    },
  });
}

function timeLabel(t) {
  const d = new Date(t * 1000);
  return `${String(d.getHours()).padStart(2, "0")}:${String(d.getMinutes()).padStart(2, "0")}:${String(d.getSeconds()).padStart(2, "0")}`;
}

function fill(chart, def, points) {
  chart.data.labels = points.map((p) => timeLabel(p.time));
  def.series.forEach((s, i) => {
    chart.data.datasets[i].data = points.map((p) => {
      const v = typeof s.key === "function" ? s.key(p) : p[s.key];
      return v === undefined || v === null ? null : Number(v);
    });
  });
  chart.update("none");
}

// A sampler for servers without rrddata: FETCH() returns the current
// status; counters named in RATES become per-second rates.
export function liveSource(fetch, rates) {
  const points = [];
  let prev = null;
  return async () => {
    const st = await fetch();
    const now = Date.now() / 1000;
    const p = { ...st, time: Math.floor(now) };
    for (const k of rates) p[k] = prev && st[k] >= prev.st[k] ? (st[k] - prev.st[k]) / Math.max(now - prev.t, 0.001) : null;
    prev = { st, t: now };
    points.push(p);
    if (points.length > LIVE_POINTS) points.shift();
    return points;
  };
}

// Graph panel: DEFS [{title, unit, series: [{key, label}]}]; RRDPATH is the
// API path of rrddata; LIVE is the fallback source.  Returns a stopper.
export function graphs(el, defs, rrdPath, live) {
  let stopped = false;
  let timer = 0;
  let useLive = false;
  const tf = field({ name: "timeframe", label: "Timeframe", type: "select", value: "hour",
    options: [["hour", "Hour"], ["day", "Day"], ["week", "Week"], ["month", "Month"], ["year", "Year"]] });
  const cf = field({ name: "cf", label: "Consolidation", type: "select", value: "AVERAGE",
    options: [["AVERAGE", "Average"], ["MAX", "Maximum"]] });
  const note = h("span", { class: "graph-note", role: "status" });
  const boxes = defs.map((d) => h("figure", { class: "graph" }, h("figcaption", { text: d.title }),
    h("div", { class: "graph-canvas" }, h("canvas", { role: "img", "aria-label": `${d.title} graph` }))));
  el.append(h("div", { class: "graph-head" }, tf.wrap, cf.wrap, note), h("div", { class: "graphs" }, boxes));
  let charts = null;

  async function tick() {
    let points;
    if (!useLive) {
      try {
        points = await api.get(rrdPath, { timeframe: tf.input.value, cf: cf.input.value });
      } catch (e) {
        if (e.status !== 501 && e.status !== 404) throw e;
        useLive = true;
        tf.wrap.hidden = cf.wrap.hidden = true;
        note.textContent = "Live samples (this server keeps no history)";
      }
    }
    if (useLive) points = await live();
    if (stopped) return;
    if (!charts) {
      const Chart = await loadChartJs();
      if (stopped) return;
      if (!charts) charts = defs.map((d, i) => makeChart(Chart, boxes[i].querySelector("canvas"), d));
      el.dataset.charts = "ready";
    }
    points = points.filter((p) => p && p.time);
    defs.forEach((d, i) => fill(charts[i], d, points));
  }

  let generation = 0; // a restarted loop (new timeframe) retires the old one
  async function loop() {
    const mine = ++generation;
    try {
      await tick();
    } catch (e) {
      note.textContent = `Graphs unavailable: ${e.message}`;
    }
    if (!stopped && mine === generation) timer = setTimeout(loop, useLive ? 3000 : 10000);
  }
  // Colours come from the CSS palette: rebuild the charts when it flips.
  const scheme = matchMedia("(prefers-color-scheme: dark)");
  const onScheme = () => {
    if (charts) charts.forEach((c) => c.destroy());
    charts = null;
    clearTimeout(timer);
    loop();
  };
  scheme.addEventListener("change", onScheme);
  tf.input.addEventListener("change", () => { clearTimeout(timer); loop(); });
  cf.input.addEventListener("change", () => { clearTimeout(timer); loop(); });
  loop();
  return () => {
    stopped = true;
    clearTimeout(timer);
    scheme.removeEventListener("change", onScheme);
    if (charts) charts.forEach((c) => c.destroy());
  };
}
