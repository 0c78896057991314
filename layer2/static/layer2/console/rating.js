// Ratings of one answer: thumbs on the answer and on each widget, "too big" / "too small", and widgets that were
// missing. Every change posts the whole verdict to /api/layer2/feedback/ as the signed-in user; the newest one
// stands (so a rating can be changed). A size verdict is sent as size_appropriate false with its size_direction
// ("smaller" for too big), which Tier 1 learns as "the next size that way". Without a thumb on the answer, its
// rating follows the widgets' verdicts: down if any widget is rated down, too big or small, or something is
// missing; otherwise up.

import { api } from "./api.js";

export class AnswerRating {
  constructor({ answer, url, onSaved, onError }) {
    this.answer = answer;
    this.url = url;
    this.onSaved = onSaved;
    this.onError = onError;
    this.thumb = null;  // "up" | "down" | null
    this.widgets = new Map();  // widget index -> {thumb, size: null | "smaller" | "larger"}
    this.missing = [];
    this.sent = Promise.resolve();
  }

  widget(index) {
    if (!this.widgets.has(index)) this.widgets.set(index, { thumb: null, size: null });
    return this.widgets.get(index);
  }

  rating() {
    if (this.thumb) return this.thumb;
    const verdicts = [...this.widgets.values()];
    const doubt = verdicts.some((v) => v.thumb === "down" || v.size) || this.missing.length > 0;
    return doubt ? "down" : "up";
  }

  body() {
    const perWidget = [...this.widgets.entries()]
      .filter(([, v]) => v.thumb || v.size)
      .map(([index, v]) => ({
        widget_index: index,
        widget_type: this.answer.widgets[index].type,
        appropriateness_score: v.thumb === null ? null : v.thumb === "up" ? 1 : 0,
        size_appropriate: v.size ? false : null,
        size_direction: v.size,
      }));
    return {
      query_id: this.answer.query_id, rating: this.rating(),
      per_widget_feedback: perWidget, missing_widgets: this.missing,
    };
  }

  // Posts the current verdict; posts are made one after another, so the server keeps the newest. Each post has
  // its own feedback_id, so one the network delivers twice counts once (crypto.randomUUID needs https).
  save() {
    const body = { ...this.body(), feedback_id: randomId() };
    this.sent = this.sent.then(() => api(this.url, { method: "POST", body }))
      .then((result) => this.onSaved?.(result), (error) => this.onError?.(error));
    return this.sent;
  }
}

function randomId() {
  return Array.from(crypto.getRandomValues(new Uint8Array(16)), (b) => b.toString(16).padStart(2, "0")).join("");
}
