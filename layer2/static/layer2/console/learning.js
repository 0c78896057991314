// The learning view for staff: feedback and rewards over time, Tier 1's loss, Tier 2's data and adapters, and
// the approval of a training run with its progress. It reads /api/layer2/rl-status/ and learning-history.

import { api } from "./api.js";
import { bucketChart, PALETTE, stepChart } from "./charts.js";
import { el } from "./dom.js";
import { Formatter } from "./format.js";

const config = JSON.parse(document.getElementById("console-config").textContent);
const format = new Formatter(config);
const $ = (id) => document.getElementById(id);
const urls = config.urls;
const ACTIVE = ["starting", "training", "evaluating", "collecting data"];
let charts = [];

function notify(message) {
  $("notice").textContent = message ?? "";
  $("notice").hidden = !message;
}

function rows(tbody, items) {
  $(tbody).querySelector("tbody").replaceChildren(...items.map((cells) => el("tr", {}, cells.map((c) => el("td", {}, c)))));
}

function replaceChart(id, draw) {
  const container = $(id);
  container.replaceChildren();
  charts.push(draw(container));
}

function showHistory(history) {
  charts.forEach((c) => c.destroy());
  charts = [];
  const b = history.buckets;
  const starts = b.map((x) => x.start);
  replaceChart("feedback-chart", (c) => bucketChart(c, {
    starts, timeZone: config.time_zone, series: [
      { label: "rated up", values: b.map((x) => x.ratings_up), bars: true, color: PALETTE[2] },
      { label: "rated down", values: b.map((x) => x.ratings_down), bars: true, color: PALETTE[1] },
      { label: "judge evaluations", values: b.map((x) => x.evaluations), color: PALETTE[3] },
      { label: "answers", values: b.map((x) => x.answers), color: "#868e96" },
    ],
  }));
  replaceChart("reward-chart", (c) => bucketChart(c, {
    starts, timeZone: config.time_zone, valueFormat: (v) => v.toFixed(2),
    series: [{ label: "mean reward", values: b.map((x) => x.mean_reward) }],
  }));
  const tier1 = history.tier1;
  $("tier1-detail").textContent = tier1.available ? "" : tier1.detail;
  if (tier1.available && tier1.loss_history.length) {
    const points = tier1.loss_history;
    replaceChart("loss-chart", (c) => stepChart(c, {
      xs: points.map((p) => p.step), ys: points.map((p) => p.loss), label: "mean loss", valueFormat: (v) => v.toFixed(3),
    }));
  } else {
    $("loss-chart").replaceChildren(el("p", { class: "nodata" }, tier1.available ? "No training steps yet." : ""));
  }
  rows("recent-feedback", history.recent_feedback.map((f) => [
    format.time(f.received_at), f.username ?? "—", f.transcript, f.rating === "up" ? "✓ up" : "✗ down", f.source,
  ]));
}

function showTier2(tier2) {
  const counts = Object.entries(tier2.data).filter(([k]) => k.startsWith("pairs"));
  rows("pair-counts", counts.map(([k, n]) => [k === "pairs" ? "all" : k.replace("pairs_", ""), String(n)]));
  $("pairs-needed").textContent = `Training needs at least ${tier2.min_pairs} pairs.${tier2.available ? "" : " No planner model is installed (bootstrap_planner)."}`;
  rows("adapters", [...tier2.adapters].reverse().map((a) => [
    a.version + (a.version === tier2.serving_adapter ? " (serving)" : ""), a.method, a.decision ?? "", format.time(a.created_at),
    a.version === tier2.serving_adapter ? "" : el("button", { type: "button", onclick: () => adapterAction("promote", { version: a.version }) }, `Promote ${a.version}`),
  ]));
  $("rollback").disabled = !tier2.serving_adapter;
  showTraining(tier2.training);
}

function showTraining(run) {
  const active = ACTIVE.includes(run.state);
  $("approve").disabled = active;
  $("train-progress").hidden = !active && run.state !== "done";
  const p = run.progress;
  if (p?.max_steps) $("train-progress").value = p.step / p.max_steps;
  else if (run.state === "done") $("train-progress").value = 1;
  else $("train-progress").removeAttribute("value");  // indeterminate until the first step
  const eta = p?.eta_s == null ? "" : `, about ${Math.ceil(p.eta_s)} s left`;
  const step = p?.max_steps ? `: step ${p.step} of ${p.max_steps}${eta}` : "";
  const outcome = run.state === "done" ? ` ${run.version}: ${run.promoted ? "promoted" : "not promoted"} (${run.decision})` : "";
  $("train-status").textContent = run.state === "idle" ? "No training run yet." : `${run.phase ?? run.state}${step}${outcome}${run.error ? `: ${run.error}` : ""}`;
  return active;
}

async function adapterAction(action, body) {
  try {
    await api(urls[`planner-adapters-${action}`], { method: "POST", body });
    notify(null);
  } catch (error) {
    notify(error.message);
  }
  document.body.dataset.ready = "true";
refresh();
}

async function refresh() {
  try {
    const [status, history] = await Promise.all([
      api(urls["rl-status"]),
      api(`${urls["learning-history"]}?hours=${$("history-hours").value}&bucket=${Number($("history-hours").value) > 72 ? "day" : "hour"}`),
    ]);
    showHistory(history);
    showTier2(status.tier2);
    if (ACTIVE.includes(status.tier2.training.state)) setTimeout(refresh, 2000);  // follow the run
  } catch (error) {
    notify(error.message);
  }
}

$("approve").addEventListener("click", async () => {
  try {
    const started = await api(urls["approve-training"], { method: "POST", body: { method: $("train-method").value } });
    notify(null);
    $("train-status").textContent = started.detail;
  } catch (error) {
    notify(`Training was not started: ${error.body?.detail ?? error.message}`);
  }
  document.body.dataset.ready = "true";
refresh();
});
$("rollback").addEventListener("click", () => adapterAction("rollback", {}));
$("history-hours").addEventListener("change", refresh);
document.body.dataset.ready = "true";
refresh();
