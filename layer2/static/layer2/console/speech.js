// The browser's own speech services: recognition for push-to-talk (Chrome, Edge; Safari under its prefix) and
// synthesis for the spoken answer. Where a browser has no recognition, the microphone button stays hidden.

const Recognition = window.SpeechRecognition ?? window.webkitSpeechRecognition;

const RECOGNITION_ERRORS = {
  "not-allowed": "The microphone is blocked: allow it for this site, or type the question.",
  "service-not-allowed": "Speech recognition is not allowed here: type the question instead.",
  network: "The speech recognition service cannot be reached: type the question instead.",
  "no-speech": "Nothing was heard: hold the button while you speak.",
  "audio-capture": "No microphone was found: type the question instead.",
};

// Hold `button` (pointer, or Space / Enter on it) to talk; the transcript goes into `field` to be checked.
export function pushToTalk({ button, field, onListening, onError }) {
  if (!Recognition) return null;
  button.hidden = false;
  let recognition = null;
  let before = "";

  const start = () => {
    if (recognition) return;
    recognition = new Recognition();
    recognition.lang = document.documentElement.lang || "en";
    recognition.interimResults = true;
    recognition.continuous = true;
    before = field.value.trim();
    recognition.onresult = (event) => {
      const heard = Array.from(event.results, (r) => r[0].transcript).join("").trim();
      field.value = [before, heard].filter(Boolean).join(" ");
      field.dispatchEvent(new Event("input"));
    };
    recognition.onerror = (event) => onError(RECOGNITION_ERRORS[event.error] ?? `Speech recognition failed (${event.error}).`);
    recognition.onend = () => {
      recognition = null;
      onListening(false);
      field.focus();
    };
    try {
      recognition.start();
      onListening(true);
    } catch (error) {
      recognition = null;
      onError(`Speech recognition could not start: ${error.message}`);
    }
  };
  const stop = () => recognition?.stop();

  button.addEventListener("pointerdown", (event) => { event.preventDefault(); start(); });
  for (const name of ["pointerup", "pointerleave", "pointercancel"]) button.addEventListener(name, stop);
  button.addEventListener("keydown", (event) => {
    if ((event.key === " " || event.key === "Enter") && !event.repeat) { event.preventDefault(); start(); }
  });
  button.addEventListener("keyup", (event) => { if (event.key === " " || event.key === "Enter") stop(); });
  return { start, stop };
}

// Reads answers aloud unless muted; the mute switch is remembered in this browser.
export class Voice {
  static KEY = "command-center.muted";

  constructor(toggle) {
    this.toggle = toggle;
    toggle.checked = localStorage.getItem(Voice.KEY) === "1";
    toggle.addEventListener("change", () => {
      localStorage.setItem(Voice.KEY, toggle.checked ? "1" : "0");
      if (toggle.checked) window.speechSynthesis?.cancel();
    });
    if (!("speechSynthesis" in window)) toggle.closest("label").hidden = true;
  }

  speak(text) {
    if (this.toggle.checked || !("speechSynthesis" in window) || !text) return;
    window.speechSynthesis.cancel();  // a new answer interrupts the previous one
    const utterance = new SpeechSynthesisUtterance(text);
    utterance.lang = document.documentElement.lang || "en";
    window.speechSynthesis.speak(utterance);
  }
}
