// Numbers as the voice says them (industrial/timeseries/rag.py format_number: the metric's decimals, ties to
// even, no "-0.0") and times on the plant's clock.

// The exact decimal expansion of a double needs at most ~70 digits after the point for the magnitudes a plant
// reports (|x| >= 1e-3 has at most 62 fractional bits), so rounding that string is exact, as Python's is.
export function roundHalfEven(value, decimals) {
  if (Math.abs(value) >= 1e21) return String(value);
  const [whole, fraction] = Math.abs(value).toFixed(Math.min(100, decimals + 70)).split(".");
  const rest = fraction.slice(decimals);
  let digits = BigInt(whole + fraction.slice(0, decimals));
  const aboveHalf = rest[0] > "5" || (rest[0] === "5" && /[1-9]/.test(rest.slice(1)));
  const tie = rest[0] === "5" && !/[1-9]/.test(rest.slice(1));
  if (aboveHalf || (tie && digits % 2n === 1n)) digits += 1n;
  let text = digits.toString().padStart(decimals + 1, "0");
  if (decimals > 0) text = `${text.slice(0, -decimals)}.${text.slice(-decimals)}`;
  return value < 0 && /[1-9]/.test(text) ? `-${text}` : text;
}

export class Formatter {
  constructor({ decimals, time_zone: timeZone }) {
    this.decimals = decimals;
    this.timeZone = timeZone;
    this.clock = new Intl.DateTimeFormat("en-GB", {
      timeZone, day: "numeric", month: "short", hour: "2-digit", minute: "2-digit",
    });
  }

  // A figure of `metric` (null: a count, shown whole when it is one).
  number(metric, value) {
    if (value === null || value === undefined) return "n/a";
    const decimals = metric in this.decimals ? this.decimals[metric] : Number.isInteger(value) ? 0 : 1;
    return roundHalfEven(value, decimals);
  }

  value(metric, value, unit) {
    const text = this.number(metric, value);
    return unit && text !== "n/a" ? `${text} ${unit}` : text;
  }

  time(iso) {
    return iso ? this.clock.format(new Date(iso)) : "n/a";
  }
}
