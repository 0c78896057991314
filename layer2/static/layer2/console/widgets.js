// One renderer per widget type of the catalog (layer2/planning/widgets.py). Each returns the widget's body and,
// for charts, a `mount` to call once the body is in the page (uPlot measures its container).

import { el } from "./dom.js";
import { eventChart, lineChart } from "./charts.js";

const words = (name) => String(name ?? "").replaceAll("_", " ");

function when(data, format) {
  if (data.start && data.end) return `${format.time(data.start)} – ${format.time(data.end)}`;
  return data.timestamp ? `at ${format.time(data.timestamp)}` : "";
}

function severityCounts(counts) {
  return el("ul", { class: "severities", "aria-label": "Alerts by severity" },
    Object.entries(counts).map(([severity, n]) => el("li", { class: `sev sev-${severity}` }, `${n} ${severity}`)));
}

function kpi(widget, { format }) {
  const d = widget.data;
  const metric = d.aggregation === "count" ? null : widget.metric;  // a count is said whole: "25 of 48 running"
  return el("div", { class: "kpi" },
    el("p", { class: "figure" },
      el("span", { class: "value", "data-value": "" }, format.number(metric, d.value)),
      d.unit ? el("span", { class: "unit" }, ` ${d.unit}`) : null),
    el("p", { class: "label" }, [d.aggregation !== "latest" ? d.aggregation : null, d.label].filter(Boolean).join(" · ")),
    el("p", { class: "when" }, when(d, format)),
    d.counts_by_severity ? severityCounts(d.counts_by_severity) : null);
}

function gauge(widget, { format }) {
  const d = widget.data;
  const high = d.limits?.high;
  const low = d.limits?.low;
  const max = d.max ?? (Math.max(d.value ?? 0, low ?? 0, high ?? 0) * 1.25 || 1);
  const min = d.min ?? 0;
  const share = (v) => Math.min(1, Math.max(0, (v - min) / (max - min || 1)));
  // A half circle from the left (min) to the right (max); the limits are marked on it.
  const point = (s, r = 80) => [100 - r * Math.cos(Math.PI * s), 100 - r * Math.sin(Math.PI * s)];
  const arc = (from, to, cls) => {
    const [x1, y1] = point(from);
    const [x2, y2] = point(to);
    return `<path class="${cls}" d="M${x1} ${y1} A80 80 0 0 1 ${x2} ${y2}"/>`;
  };
  const bands = [arc(0, 1, "track")];
  if (low !== null && low !== undefined) bands.push(arc(0, share(low), "band-low"));
  if (high !== null && high !== undefined) bands.push(arc(share(high), 1, "band-high"));
  if (d.value !== null) bands.push(arc(0, Math.max(share(d.value), 0.005), "needle"));
  const outside = d.value !== null && ((high != null && d.value > high) || (low != null && d.value < low));
  const svg = el("div", { class: "dial", role: "img",
    "aria-label": `${format.value(widget.metric, d.value, d.unit)} on a scale of ${format.number(widget.metric, min)} to ${format.number(widget.metric, max)}` });
  svg.innerHTML = `<svg viewBox="0 0 200 110" aria-hidden="true">${bands.join("")}</svg>`;
  return el("div", { class: `gauge${outside ? " outside" : ""}` }, svg,
    el("p", { class: "figure" }, el("span", { class: "value", "data-value": "" }, format.number(widget.metric, d.value)),
      d.unit ? el("span", { class: "unit" }, ` ${d.unit}`) : null),
    el("p", { class: "label" }, [low != null ? `low limit ${format.value(widget.metric, low, d.unit)}` : null,
      high != null ? `high limit ${format.value(widget.metric, high, d.unit)}` : null].filter(Boolean).join(" · ") || "no limits"),
    el("p", { class: "when" }, when(d, format)));
}

function trend(widget, ctx) {
  const d = widget.data;
  const comparing = widget.type === "comparison";
  const series = d.series.map((s) => ({ ...s, label: comparing || s.metric !== widget.metric ? `${s.display_name} ${s.label}` : s.label }));
  const points = series.reduce((n, s) => n + s.points.length, 0);
  const chart = el("div", { class: "chart", "data-points": points, role: "img",
    "aria-label": `${widget.title}: ${d.window.label}, ${d.aggregation} per ${d.bucket}` });
  const body = el("div", {}, chart, el("p", { class: "when" }, `${d.window.label} · ${d.aggregation} per ${d.bucket}`));
  if (!points) chart.replaceWith(el("p", { class: "nodata" }, `No readings in ${d.window.label}.`));
  return { body, mount: () => points && lineChart(chart, { series, format: ctx.format, timeZone: ctx.timeZone, onHover: ctx.onHover }) };
}

function ranking(widget, { format }) {
  const d = widget.data;
  const top = Math.max(...d.items.map((i) => Math.abs(i.value ?? 0)), 1e-9);
  return el("div", {},
    el("ol", { class: "ranking" }, d.items.map((item) => el("li", { class: item.abnormal ? "abnormal" : "" },
      el("span", { class: "name" }, item.display_name),
      el("span", { class: "bar", style: `--share: ${Math.abs(item.value ?? 0) / top}`, "aria-hidden": "true" }),
      el("span", { class: "value" }, format.value(d.metric, item.value, item.unit))))),
    d.total > d.items.length ? el("p", { class: "when" }, `top ${d.items.length} of ${d.total}`) : null);
}

function alerts(widget, { format }) {
  const d = widget.data;
  return el("div", {}, severityCounts(d.counts_by_severity),
    d.alerts.length
      ? el("ul", { class: "alerts" }, d.alerts.map((a) => el("li", { class: `sev-${a.severity}` },
        el("span", { class: `badge sev sev-${a.severity}` }, a.severity),
        el("span", { class: "message" }, a.message),
        el("span", { class: "when" }, `${format.time(a.raised_at)}${a.cleared_at ? ` · cleared ${format.time(a.cleared_at)}` : " · active"}${a.acknowledged ? " · acknowledged" : ""}`))))
      : el("p", { class: "nodata" }, "No alerts."));
}

function statusGrid(widget, { format }) {
  const d = widget.data;
  return el("div", {},
    el("p", { class: "when" }, `${d.running} running · ${d.abnormal} abnormal of ${d.items.length}`),
    el("ul", { class: "tiles" }, d.items.map((item) => el("li", {
      class: `tile${item.running ? " running" : item.running === false ? " stopped" : ""}${item.abnormal ? " abnormal" : ""}`,
      title: item.reason ?? "",
    }, el("span", { class: "name" }, item.display_name),
    el("span", { class: "value" }, d.metric === "running_status" ? (item.running ? "running" : "stopped") : format.value(d.metric, item.value, item.unit)),
    item.abnormal ? el("span", { class: "reason" }, item.reason ?? "abnormal") : null))));
}

function table(widget, { format }) {
  const d = widget.data;
  const perMetric = d.columns[0] === "metric";
  const head = perMetric ? ["Metric", "Value"] : ["Equipment", "Value"];
  return el("div", { class: "scroll" }, el("table", { class: "data" },
    el("thead", {}, el("tr", {}, head.map((h) => el("th", { scope: "col" }, h)))),
    el("tbody", {}, d.rows.map((row) => el("tr", {},
      el("th", { scope: "row" }, perMetric ? row.label ?? words(row.metric) : row.display_name),
      el("td", { class: "num" }, format.value(perMetric ? row.metric : d.metric, row.value, row.unit)))))),
  d.timestamp ? el("p", { class: "when" }, when(d, format)) : null);
}

function anomalyTimeline(widget, ctx) {
  const d = widget.data;
  const { format } = ctx;
  const events = [
    ...d.anomalies.map((a) => ({ at: a.detected_at, severity: a.severity, text: `${a.equipment_id} ${words(a.metric)}: ${a.kind} at ${format.value(a.metric, a.value, a.unit)}` })),
    ...d.alerts.map((a) => ({ at: a.raised_at, severity: a.severity, text: a.message })),
  ].sort((a, b) => Date.parse(b.at) - Date.parse(a.at));
  if (!events.length) return el("p", { class: "nodata" }, `No anomalies or alerts over ${d.window.label}.`);
  const chart = el("div", { class: "chart", role: "img", "aria-label": `${events.length} anomalies and alerts over ${d.window.label}` });
  const body = el("div", {}, chart, el("ul", { class: "alerts" }, events.slice(0, 8).map((e) => el("li", {},
    el("span", { class: `badge sev sev-${e.severity}` }, e.severity), el("span", { class: "message" }, e.text),
    el("span", { class: "when" }, format.time(e.at))))));
  return { body, mount: () => eventChart(chart, { anomalies: d.anomalies, alerts: d.alerts, format, timeZone: ctx.timeZone, onHover: ctx.onHover }) };
}

function textSummary(widget) {
  const body = el("div", { class: "summary" });
  let list = null;
  for (const line of widget.data.text.split("\n")) {
    if (line.startsWith("- ")) {
      list ??= body.appendChild(el("ul"));
      list.append(el("li", {}, line.slice(2)));
      continue;
    }
    list = null;
    if (line.startsWith("#")) body.append(el("h4", {}, line.replace(/^#+\s*/, "")));
    else if (line.trim()) body.append(el("p", {}, line));
  }
  return body;
}

const RENDERERS = {
  kpi, gauge, trend_line: trend, comparison: trend, bar_ranking: ranking, alerts_list: alerts,
  status_grid: statusGrid, table, anomaly_timeline: anomalyTimeline, text_summary: textSummary,
};

// {body, mount}: the rendered widget; an unknown type (a newer server) is shown as its data, not dropped.
export function renderWidget(widget, ctx) {
  const render = RENDERERS[widget.type];
  const result = render ? render(widget, ctx) : el("pre", {}, JSON.stringify(widget.data, null, 2));
  return result instanceof Node ? { body: result, mount: () => {} } : result;
}
