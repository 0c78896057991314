// Time-series charts with uPlot: one scale per unit (a diagnosis charts a driver in another unit on the right),
// the plant's clock on the time axis, figures rounded as the voice rounds them, and a hook for chart hovers.

import uPlot from "../../vendor/uplot/uPlot.esm.js";

export const PALETTE = ["#1f6feb", "#d9480f", "#2f9e44", "#9c36b5", "#e8590c", "#0c8599", "#c2255c", "#5c940d"];
const HEIGHT = 220;

const seconds = (iso) => Date.parse(iso) / 1000;

// A uPlot chart that follows its container's width. `onHover` is called once each time the cursor enters data.
function mount(container, options, data, onHover) {
  let hovering = false;
  const chart = new uPlot(
    {
      width: Math.max(container.clientWidth, 200),
      height: HEIGHT,
      ...options,
      hooks: {
        setCursor: [(u) => {
          const on = u.cursor.idx !== null && u.cursor.idx !== undefined;
          if (on && !hovering) onHover?.();
          hovering = on;
        }],
      },
    },
    data,
    container,
  );
  new ResizeObserver(() => chart.setSize({ width: Math.max(container.clientWidth, 200), height: HEIGHT }))
    .observe(container);
  return chart;
}

const clock = (timeZone) => (ts) => uPlot.tzDate(new Date(ts * 1000), timeZone);

// series: [{label, unit, metric, points: [[iso, value], ...]}]
export function lineChart(container, { series, format, timeZone, onHover }) {
  const tables = series.map((s) => [s.points.map((p) => seconds(p[0])), s.points.map((p) => p[1])]);
  const data = tables.length === 1 ? tables[0] : uPlot.join(tables);
  const units = [...new Set(series.map((s) => s.unit || "value"))];
  const axes = [{}];
  units.slice(0, 2).forEach((unit, i) => {
    const metric = series.find((s) => (s.unit || "value") === unit).metric;
    axes.push({
      scale: unit, side: i === 0 ? 3 : 1, grid: { show: i === 0 }, label: unit === "value" ? "" : unit, size: 60,
      values: (u, ticks) => ticks.map((t) => format.number(metric, t)),
    });
  });
  return mount(container, {
    tzDate: clock(timeZone),
    scales: { x: { time: true } },
    axes,
    series: [
      { value: (u, ts) => (ts === null ? "" : format.time(new Date(ts * 1000).toISOString())) },
      ...series.map((s, i) => ({
        label: s.label, scale: s.unit || "value", stroke: PALETTE[i % PALETTE.length], width: 2, spanGaps: true,
        value: (u, v) => (v === null ? "—" : format.value(s.metric, v, s.unit)),
      })),
    ],
  }, data, onHover);
}

const SEVERITY_RANK = { low: 1, medium: 2, high: 3, critical: 4 };

// Anomalies and alerts as points on a time axis, one row per severity.
export function eventChart(container, { anomalies, alerts, format, timeZone, onHover }) {
  const table = (events, at) => {
    const sorted = [...events].sort((a, b) => Date.parse(a[at]) - Date.parse(b[at]));
    return [sorted.map((e) => seconds(e[at])), sorted.map((e) => SEVERITY_RANK[e.severity] ?? 1)];
  };
  const data = uPlot.join([table(anomalies, "detected_at"), table(alerts, "raised_at")]);
  const names = Object.keys(SEVERITY_RANK);
  const points = (stroke) => ({ show: true, size: 10, stroke, fill: stroke });
  return mount(container, {
    tzDate: clock(timeZone),
    scales: { x: { time: true }, y: { range: [0.5, 4.5] } },
    axes: [{}, { values: (u, ticks) => ticks.map((t) => names[t - 1] ?? ""), splits: () => [1, 2, 3, 4], size: 70 }],
    series: [
      { value: (u, ts) => (ts === null ? "" : format.time(new Date(ts * 1000).toISOString())) },
      { label: "anomalies", stroke: PALETTE[1], paths: () => null, points: points(PALETTE[1]) },
      { label: "alerts", stroke: PALETTE[0], paths: () => null, points: points(PALETTE[0]) },
    ],
  }, data, onHover);
}

// Counts per bucket as bars, and optional lines, for the learning view. series: [{label, values, bars?}]
export function bucketChart(container, { starts, series, timeZone, valueFormat = (v) => String(v) }) {
  const bars = uPlot.paths.bars({ size: [0.6, 40] });
  return mount(container, {
    tzDate: clock(timeZone),
    scales: { x: { time: true } },
    axes: [{}, { values: (u, ticks) => ticks.map(valueFormat), size: 50 }],
    series: [
      {},
      ...series.map((s, i) => ({
        label: s.label, stroke: s.color ?? PALETTE[i % PALETTE.length], width: 2, spanGaps: true,
        fill: s.bars ? `${s.color ?? PALETTE[i % PALETTE.length]}99` : undefined,
        paths: s.bars ? bars : undefined, points: s.bars ? { show: false } : { show: true, size: 6 },
        value: (u, v) => (v === null ? "" : valueFormat(v)),
      })),
    ],
  }, [starts.map(seconds), ...series.map((s) => s.values)]);
}

// A line of (x, y) numbers that are not times (Tier 1's loss by step).
export function stepChart(container, { xs, ys, label, valueFormat }) {
  return mount(container, {
    scales: { x: { time: false } },
    axes: [{ label: "step" }, { values: (u, ticks) => ticks.map(valueFormat), size: 60 }],
    series: [{ label: "step" }, { label, stroke: PALETTE[0], width: 2, value: (u, v) => (v === null ? "" : valueFormat(v)) }],
  }, [xs, ys]);
}
