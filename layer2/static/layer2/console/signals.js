// What the operator did with an answer, sent as implicit feedback to /api/layer2/signals/: how long each widget
// was on screen (at least half of it, in a visible tab), expansions, chart hovers, and the time until the next
// question. Each post carries the totals so far: the server keeps the newest, so a retry never counts twice.

import { api } from "./api.js";

export class AnswerSignals {
  constructor({ answer, url }) {
    this.answer = answer;
    this.url = url;
    this.arrived = performance.now();
    this.nextQuestionAfter = null;
    this.widgets = answer.widgets.map((w, i) => ({ widget_index: i, widget_type: w.type, visible_ms: 0, expansions: 0, hovers: 0 }));
    this.visibleSince = new Map();  // index -> when it came into view
    this.observer = new IntersectionObserver((entries) => this.seen(entries), { threshold: 0.5 });
  }

  watch(card, index) {
    card.dataset.signalIndex = index;
    this.observer.observe(card);
  }

  seen(entries) {
    const now = performance.now();
    for (const entry of entries) {
      const index = Number(entry.target.dataset.signalIndex);
      if (entry.isIntersecting && document.visibilityState === "visible") this.visibleSince.set(index, now);
      else this.stopTiming(index, now);
    }
  }

  stopTiming(index, now) {
    if (!this.visibleSince.has(index)) return;
    this.widgets[index].visible_ms += now - this.visibleSince.get(index);
    this.visibleSince.delete(index);
  }

  // The tab was hidden: nothing counts as seen until it is shown again (then the observer reports afresh).
  pause() {
    const now = performance.now();
    for (const index of [...this.visibleSince.keys()]) this.stopTiming(index, now);
    this.observer.takeRecords();
  }

  resume(cards) {
    this.observer.disconnect();
    cards.forEach((card) => this.observer.observe(card));
  }

  expanded(index) { this.widgets[index].expansions += 1; }

  hovered(index) { this.widgets[index].hovers += 1; }

  snapshot() {
    const now = performance.now();
    return {
      query_id: this.answer.query_id,
      widgets: this.widgets.map((w) => ({
        ...w, visible_ms: Math.round(w.visible_ms + (this.visibleSince.has(w.widget_index) ? now - this.visibleSince.get(w.widget_index) : 0)),
      })),
      next_question_after_ms: this.nextQuestionAfter,
    };
  }

  // The next question was asked: this answer's reading time is over.
  finish() {
    if (this.nextQuestionAfter === null) this.nextQuestionAfter = Math.round(performance.now() - this.arrived);
    const body = this.snapshot();
    this.pause();
    this.observer.disconnect();
    return this.post(body);
  }

  // keepalive: the post outlives the page when it is being closed.
  post(body = this.snapshot(), keepalive = false) {
    return api(this.url, { method: "POST", body, keepalive }).catch(() => {});  // implicit: never bother the operator
  }
}
