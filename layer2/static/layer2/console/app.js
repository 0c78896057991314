// The operator console: ask (typed, or held push-to-talk), show the widget plan on the 12-column grid, read the
// answer aloud, rate it, and report how it was used. Follow-ups continue the conversation until "New topic".

import { api } from "./api.js";
import { el } from "./dom.js";
import { Formatter } from "./format.js";
import { AnswerRating } from "./rating.js";
import { AnswerSignals } from "./signals.js";
import { pushToTalk, Voice } from "./speech.js";
import { renderWidget } from "./widgets.js";

const config = JSON.parse(document.getElementById("console-config").textContent);
const format = new Formatter(config);
const $ = (id) => document.getElementById(id);
const thread = $("thread");
const question = $("question");
const voice = new Voice($("mute"));

let conversationId = null;
let current = null;  // {signals, cards} of the newest answer

function notify(message) {
  $("notice").textContent = message ?? "";
  $("notice").hidden = !message;
}

const nextFrame = () => new Promise((resolve) => requestAnimationFrame(() => resolve()));

// --------------------------------------------------------------------------- asking

async function ask(transcript) {
  current?.signals.finish();
  $("empty").hidden = true;
  thread.append(el("p", { class: "question" }, transcript));
  const card = thread.appendChild(el("article", { class: "answer pending", "aria-busy": "true" }, el("p", { class: "voice" }, "Thinking…")));
  card.scrollIntoView({ block: "end" });
  $("send").disabled = true;
  try {
    const answer = await api(config.urls.orchestrate, {
      method: "POST", body: { transcript, ...(conversationId ? { conversation_id: conversationId } : {}) },
    });
    notify(null);
    conversationId = answer.conversation_id;
    await show(answer, card);
    voice.speak(answer.voice_response);
  } catch (error) {
    if (error.status === 404 && conversationId) {  // the conversation timed out: ask afresh, say so
      conversationId = null;
      card.remove();
      thread.lastElementChild.remove();
      thread.append(el("p", { class: "topic" }, "The conversation had expired: a new one starts here."));
      return ask(transcript);
    }
    card.classList.add("failed");
    card.replaceChildren(el("p", { class: "voice" }, error.message));
    notify(error.message);
  } finally {
    card.removeAttribute("aria-busy");
    $("send").disabled = false;
  }
}

// Draws `answer` into `card` and records how long that took after the response arrived (data-render-ms).
async function show(answer, card) {
  const arrived = performance.getEntriesByType("resource").findLast((e) => e.name.endsWith(config.urls.orchestrate))?.responseEnd
    ?? performance.now();
  const signals = new AnswerSignals({ answer, url: config.urls.signals });
  const rating = new AnswerRating({
    answer, url: config.urls.feedback,
    onSaved: () => { card.querySelector(".saved").textContent = "Rating saved."; },
    onError: (error) => { card.querySelector(".saved").textContent = ""; notify(`The rating was not saved: ${error.message}`); },
  });
  const grid = el("div", { class: "grid" });
  const mounts = [];
  const cards = answer.widgets.map((widget, index) => {
    const { body, mount } = renderWidget(widget, {
      format, timeZone: config.time_zone, onHover: () => signals.hovered(index),
    });
    const widgetCard = widgetFrame(widget, index, body, { rating, signals });
    mounts.push(mount);
    return widgetCard;
  });
  grid.append(...cards);
  card.className = "answer";
  card.dataset.queryId = answer.query_id;
  card.replaceChildren(
    el("div", { class: "spoken" },
      el("p", { class: "voice" }, answer.voice_response),
      el("button", { type: "button", class: "icon", "aria-label": "Read the answer aloud again", title: "Read aloud again",
        onclick: () => voice.speak(answer.voice_response) }, "▶ Replay")),
    understood(answer),
    grid,
    answerRating(answer, rating),
  );
  mounts.forEach((mount) => mount());
  cards.forEach((c, i) => signals.watch(c, i));
  current = { signals, cards };
  await nextFrame();
  await nextFrame();  // the frame with the widgets has been painted
  card.dataset.renderMs = (performance.now() - arrived).toFixed(1);
  performance.measure("widgets drawn", { start: arrived, end: performance.now() });
}

function understood(answer) {
  const intent = answer.intent;
  const parts = [`turn ${answer.turn}`, intent.time_range?.label, intent.inherited?.length ? `from the conversation: ${intent.inherited.join(", ")}` : null];
  if (intent.not_understood?.length) parts.push(`not understood: ${intent.not_understood.join(", ")}`);
  return el("p", { class: "understood" }, parts.filter(Boolean).join(" · "));
}

// --------------------------------------------------------------------------- a widget and its controls

function toggle(label, text, { pressed = false, onclick }) {
  return el("button", { type: "button", class: "toggle-button", "aria-pressed": String(pressed), "aria-label": label, title: label, onclick }, text);
}

function press(group, button) {
  for (const other of group) if (other !== button) other.setAttribute("aria-pressed", "false");
  const on = button.getAttribute("aria-pressed") !== "true";
  button.setAttribute("aria-pressed", String(on));
  return on;
}

function widgetFrame(widget, index, body, { rating, signals }) {
  const size = `size-${widget.size}`;
  const titleId = `w-${crypto.randomUUID()}`;
  const verdict = rating.widget(index);
  const thumbs = [];
  const thumb = (value, text) => toggle(`Rate “${widget.title}” ${value === "up" ? "useful" : "not useful"}`, text, {
    onclick: (event) => { verdict.thumb = press(thumbs, event.currentTarget) ? value : null; rating.save(); },
  });
  thumbs.push(thumb("up", "✓"), thumb("down", "✗"));
  const sizeButtons = sizeVerdicts(widget, verdict, rating);
  const card = el("section", {
    class: `widget ${size}`, "data-type": widget.type, "data-size": widget.size, "aria-labelledby": titleId,
  },
  el("header", {},
    el("h3", { id: titleId }, widget.title),
    el("button", {
      type: "button", class: "icon expand", "aria-expanded": "false", "aria-label": `Expand “${widget.title}”`, title: "Expand",
      onclick: (event) => {
        const open = card.classList.toggle("expanded");
        event.currentTarget.setAttribute("aria-expanded", String(open));
        if (open) signals.expanded(index);
      },
    }, "⤢")),
  el("div", { class: "body" }, body),
  el("footer", { class: "rate" }, ...thumbs, ...sizeButtons));
  return card;
}

// "Too big" / "Too small": which way the size is wrong (one at a time), offered only where the widget comes in a
// size that way (a small KPI cannot be smaller).
function sizeVerdicts(widget, verdict, rating) {
  const sizes = config.widgets.find((w) => w.type === widget.type)?.sizes ?? [];
  const at = sizes.indexOf(widget.size);
  const group = [];
  const sizeToggle = (direction, text, possible) => {
    if (!possible) return null;
    const button = toggle(`“${widget.title}” is ${text.toLowerCase()}`, text, {
      onclick: (event) => { verdict.size = press(group, event.currentTarget) ? direction : null; rating.save(); },
    });
    group.push(button);
    return button;
  };
  return [
    sizeToggle("smaller", "Too big", at > 0),
    sizeToggle("larger", "Too small", at >= 0 && at < sizes.length - 1),
  ].filter(Boolean);
}

function answerRating(answer, rating) {
  const thumbs = [];
  const thumb = (value, text) => toggle(value === "up" ? "The answer was right" : "The answer was wrong", text, {
    onclick: (event) => { rating.thumb = press(thumbs, event.currentTarget) ? value : null; rating.save(); },
  });
  thumbs.push(thumb("up", "✓ Right"), thumb("down", "✗ Wrong"));
  const chips = el("ul", { class: "chips", "aria-label": "Missing widgets" });
  const picker = el("select", { "aria-label": "A widget that was missing" },
    el("option", { value: "" }, "Missing: choose a widget…"),
    config.widgets.map((w) => el("option", { value: w.type, title: w.description }, w.type.replaceAll("_", " "))));
  picker.addEventListener("change", () => {
    const type = picker.value;
    picker.value = "";
    if (!type || rating.missing.includes(type)) return;
    rating.missing.push(type);
    const chip = el("li", {}, type.replaceAll("_", " "), el("button", {
      type: "button", class: "icon", "aria-label": `Remove missing ${type.replaceAll("_", " ")}`,
      onclick: () => { rating.missing.splice(rating.missing.indexOf(type), 1); chip.remove(); rating.save(); },
    }, "×"));
    chips.append(chip);
    rating.save();
  });
  return el("footer", { class: "answer-rating" },
    el("span", {}, "Was this answer right?"), ...thumbs, picker, chips,
    el("span", { class: "saved", role: "status" }));
}

// --------------------------------------------------------------------------- wiring

$("ask").addEventListener("submit", (event) => {
  event.preventDefault();
  const transcript = question.value.trim();
  if (!transcript) return;
  question.value = "";
  ask(transcript);
});
question.addEventListener("keydown", (event) => {
  if (event.key === "Enter" && !event.shiftKey) {
    event.preventDefault();
    $("ask").requestSubmit();
  }
});
$("new-topic").addEventListener("click", () => {
  current?.signals.finish();
  current = null;
  conversationId = null;
  thread.append(el("p", { class: "topic" }, "New topic"));
  $("send").disabled = false;  // the form works from here on (it is disabled in the page until the script runs)
document.body.dataset.ready = "true";
question.focus();
});
pushToTalk({
  button: $("talk"), field: question,
  onListening: (on) => { $("listening").hidden = !on; $("talk").classList.toggle("on", on); },
  onError: notify,
});
document.addEventListener("visibilitychange", () => {
  if (!current) return;
  if (document.visibilityState === "hidden") {
    current.signals.pause();
    current.signals.post(undefined, true);
  } else {
    current.signals.resume(current.cards);
  }
});
$("send").disabled = false;  // the form works from here on (it is disabled in the page until the script runs)
document.body.dataset.ready = "true";
question.focus();
