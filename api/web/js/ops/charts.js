// The console's charts, drawn here as SVG: a kind's jobs finished per minute with its
// failures, and wait times by kind.

const SVG = "http://www.w3.org/2000/svg";

function svg(tag, attrs = {}, ...children) {
  const el = document.createElementNS(SVG, tag);
  for (const [key, value] of Object.entries(attrs)) el.setAttribute(key, String(value));
  for (const child of children) if (child) el.append(child);
  return el;
}

/**
 * Bars per minute over the last `minutes`, ending now: finished in the kind's colour,
 * failed over them in red. `points`: `{at, finished, failed}` of one kind.
 */
export function throughputChart(points, { minutes = 15, label }) {
  const width = 240;
  const height = 48;
  const now = Math.floor(Date.now() / 60000);
  const slots = Array.from({ length: minutes }, () => ({ finished: 0, failed: 0 }));
  for (const point of points) {
    const slot = minutes - 1 - (now - Math.floor(Date.parse(point.at) / 60000));
    if (slot >= 0 && slot < minutes) {
      slots[slot].finished += point.finished;
      slots[slot].failed += point.failed;
    }
  }
  const top = Math.max(1, ...slots.map((s) => s.finished));
  const bar = width / minutes;
  const chart = svg("svg", { viewBox: `0 0 ${width} ${height}`, class: "chart", role: "img", "aria-label": label });
  chart.append(svg("title", {}, document.createTextNode(label)));
  slots.forEach((slot, i) => {
    const ok = (slot.finished / top) * (height - 2);
    const bad = (slot.failed / top) * (height - 2);
    if (ok > 0) chart.append(svg("rect", { class: "bar", x: i * bar + 1, y: height - ok, width: bar - 2, height: ok }));
    if (bad > 0) chart.append(svg("rect", { class: "bar failed", x: i * bar + 1, y: height - bad, width: bar - 2, height: bad }));
  });
  chart.append(svg("line", { class: "axis", x1: 0, y1: height - 0.5, x2: width, y2: height - 0.5 }));
  return chart;
}

/** Horizontal bars of p50 and p95 wait (seconds) for each `{label, p50, p95}`. */
export function waitChart(rows, { label }) {
  const width = 480;
  const line = 20;
  const height = Math.max(line, rows.length * line);
  const top = Math.max(0.001, ...rows.map((r) => r.p95));
  const chart = svg("svg", { viewBox: `0 0 ${width} ${height}`, class: "chart", role: "img", "aria-label": label });
  chart.append(svg("title", {}, document.createTextNode(label)));
  rows.forEach((row, i) => {
    const y = i * line;
    const text = svg("text", { x: 0, y: y + 12, class: "chart-label" });
    text.textContent = row.label;
    chart.append(text,
      svg("rect", { class: "bar p95", x: 130, y: y + 3, width: Math.max(1, (row.p95 / top) * 270), height: 10 }),
      svg("rect", { class: "bar", x: 130, y: y + 5, width: Math.max(1, (row.p50 / top) * 270), height: 6 }));
    const value = svg("text", { x: 410, y: y + 12, class: "chart-label" });
    value.textContent = `${row.p95.toFixed(row.p95 < 10 ? 2 : 0)} s`;
    chart.append(value);
  });
  return chart;
}
