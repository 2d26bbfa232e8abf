// Timestamps of the history on the page's side. The server labels the forecast steps
// (`timestamps` in its answer); the chart also needs the history's times, for a pasted
// series with a start and a frequency, and the frequency of a file's `ds` column.
// The codes and the month arithmetic follow the server's (pandas' offset aliases).

const FIXED_MS = { S: 1e3, min: 60e3, H: 3600e3, D: 86400e3, W: 7 * 86400e3 };
const MONTHS = { MS: [1, false], ME: [1, true], QS: [3, false], QE: [3, true], YS: [12, false], YE: [12, true] };
export const FREQ_CODES = [...Object.keys(FIXED_MS), ...Object.keys(MONTHS)];

/** A time as the server reads it: ISO 8601, a date alone or without a zone is UTC. */
export function parseTime(text) {
  const trimmed = String(text).trim();
  if (!/^\d{4}-\d{2}-\d{2}([T ]\d{2}:\d{2}(:\d{2}(\.\d+)?)?)?(Z|[+-]\d{2}:?\d{2})?$/.test(trimmed)) return null;
  let iso = trimmed.replace(" ", "T");
  if (iso.length === 10) iso += "T00:00:00";
  if (!/(Z|[+-]\d{2}:?\d{2})$/.test(iso)) iso += "Z";
  const time = new Date(iso);
  return Number.isNaN(time.getTime()) ? null : time;
}

/** "15min" -> {multiple: 15, code: "min"}; null for a code the page does not know. */
export function parseFreq(freq) {
  const match = /^(\d*)([A-Za-z]+)$/.exec(String(freq).trim());
  if (!match || !FREQ_CODES.includes(match[2])) return null;
  const multiple = Number(match[1] || 1);
  return multiple >= 1 ? { multiple, code: match[2] } : null;
}

function lastDay(year, month) {
  return new Date(Date.UTC(year, month + 1, 0)).getUTCDate();
}

function addMonths(time, months, toEnd) {
  const total = time.getUTCMonth() + months;
  const year = time.getUTCFullYear() + Math.floor(total / 12);
  const month = ((total % 12) + 12) % 12;
  const day = toEnd ? lastDay(year, month) : Math.min(time.getUTCDate(), lastDay(year, month));
  const moved = new Date(time.getTime());
  moved.setUTCFullYear(year, month, day);
  return moved;
}

/** Roll the start onto its period's boundary, as the server does before counting steps. */
function anchor(start, months, toEnd) {
  const first = new Date(start.getTime());
  first.setUTCDate(1);
  let month = start.getUTCMonth() + 1;
  if (toEnd) {
    while (month % months) month += 1;
  } else {
    if (start.getUTCDate() !== 1) month += 1;
    while ((month - 1) % months) month += 1;
  }
  return addMonths(first, month - 1 - start.getUTCMonth(), toEnd);
}

/** The times of steps 0..count-1 from `start`, or null when start or freq is unusable. */
export function stepTimes(startText, freqText, count) {
  const start = parseTime(startText);
  const freq = parseFreq(freqText);
  if (start === null || freq === null) return null;
  if (freq.code in FIXED_MS) {
    const step = FIXED_MS[freq.code] * freq.multiple;
    return Array.from({ length: count }, (_, i) => new Date(start.getTime() + step * i));
  }
  const [months, toEnd] = MONTHS[freq.code];
  const base = anchor(start, months, toEnd);
  return Array.from({ length: count }, (_, i) => addMonths(base, months * freq.multiple * i, toEnd));
}

function monthIndex(time) {
  return time.getUTCFullYear() * 12 + time.getUTCMonth();
}

function calendarFreq(times) {
  const steps = new Set(times.slice(1).map((t, i) => monthIndex(t) - monthIndex(times[i])));
  if (steps.size !== 1) return null;
  const [step] = steps;
  const midnight = times.every((t) => t.getUTCHours() + t.getUTCMinutes() + t.getUTCSeconds() === 0);
  const starts = times.every((t) => t.getUTCDate() === 1);
  const ends = times.every((t) => t.getUTCDate() === lastDay(t.getUTCFullYear(), t.getUTCMonth()));
  if (!midnight || step < 1 || !(starts || ends)) return null;
  // Quarters and years only on their own boundaries (QS: Jan/Apr/Jul/Oct, YE: Dec, ...).
  const aligned = (size) => times.every((t) => (t.getUTCMonth() + (starts ? 0 : 1)) % size === 0);
  const size = [12, 3].find((months) => step % months === 0 && aligned(months)) ?? 1;
  const multiple = step / size;
  return `${multiple > 1 ? multiple : ""}${{ 12: "Y", 3: "Q", 1: "M" }[size]}${starts ? "S" : "E"}`;
}

/** The frequency code of evenly spaced times ("D", "15min", "MS", ...), or null. */
export function inferFreq(times) {
  if (times.length < 2) return null;
  const gaps = new Set(times.slice(1).map((t, i) => t.getTime() - times[i].getTime()));
  if (gaps.size === 1) {
    const [gap] = gaps;
    const unit = ["W", "D", "H", "min", "S"].find((code) => gap > 0 && gap % FIXED_MS[code] === 0);
    if (unit) return `${gap / FIXED_MS[unit] > 1 ? gap / FIXED_MS[unit] : ""}${unit}`;
  }
  return calendarFreq(times);
}

/** A short label: the date, plus the time of day when the series has one. */
export function formatTime(time) {
  const iso = time.toISOString();
  if (iso.endsWith("T00:00:00.000Z")) return iso.slice(0, 10);
  return iso.endsWith(":00.000Z")
    ? `${iso.slice(0, 10)} ${iso.slice(11, 16)}`
    : `${iso.slice(0, 10)} ${iso.slice(11, 19)}`;
}
