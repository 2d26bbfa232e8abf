// Where a series comes from: pasted numbers, a CSV file, or a built-in example.
// The page checks only what it must to build a request; the values themselves are
// validated by the server, whose problem details the page shows.

import { formatTime, inferFreq, parseTime } from "./calendar.js";

/** Numbers separated by commas, semicolons, spaces or new lines. A token that is not
 * a number is kept as text, so the server names it in its answer. */
export function parseNumbers(text) {
  return text
    .split(/[\s,;]+/)
    .filter(Boolean)
    .map((token) => (Number.isFinite(Number(token)) ? Number(token) : token));
}

/** Rows of a CSV text (RFC 4180 quoting), without blank lines. */
export function parseCsv(text) {
  const rows = [];
  let row = [];
  let field = "";
  let quoted = false;
  const endField = () => {
    row.push(field);
    field = "";
  };
  const endRow = () => {
    endField();
    if (row.some((f) => f.trim() !== "")) rows.push(row);
    row = [];
  };
  for (let i = 0; i < text.length; i += 1) {
    const ch = text[i];
    if (quoted) {
      if (ch === '"' && text[i + 1] === '"') {
        field += '"';
        i += 1;
      } else if (ch === '"') quoted = false;
      else field += ch;
    } else if (ch === '"') quoted = true;
    else if (ch === ",") endField();
    else if (ch === "\n") endRow();
    else if (ch !== "\r") field += ch;
  }
  endRow();
  return rows.map((r) => r.map((f) => f.trim()));
}

/** The page's error for a file it cannot read as a series (not a server answer). */
export class FileFormatError extends Error {}

function oneColumn(rows, name) {
  const header = rows.length > 0 && !Number.isFinite(Number(rows[0][0]));
  const values = rows
    .slice(header ? 1 : 0)
    .map(([cell]) => (Number.isFinite(Number(cell)) && cell !== "" ? Number(cell) : cell));
  return [{ id: header ? rows[0][0] : name, values, start: "", freq: "" }];
}

/** Group long-format rows by unique_id, each series in time order when ds parses. */
function longFormat(rows, columns) {
  const groups = new Map();
  for (const row of rows.slice(1)) {
    const id = columns.id === -1 ? "series" : row[columns.id];
    if (!groups.has(id)) groups.set(id, []);
    groups.get(id).push({ ds: row[columns.ds], time: parseTime(row[columns.ds]), y: row[columns.y] });
  }
  return [...groups].map(([id, points]) => {
    if (points.every((p) => p.time !== null)) points.sort((a, b) => a.time - b.time);
    const times = points.every((p) => p.time !== null) ? points.map((p) => p.time) : null;
    const values = points.map((p) => (p.y !== "" && Number.isFinite(Number(p.y)) ? Number(p.y) : p.y));
    const freq = times ? inferFreq(times) : null;
    const labels = times ? times.map(formatTime) : points.map((p) => p.ds);
    return { id, values, start: times ? formatTime(times[0]) : "", freq: freq ?? "", labels };
  });
}

/** Series in a CSV file: one column of numbers (a header is optional), or the long
 * format with columns `unique_id, ds, y` (`unique_id` may be left out for one series). */
export function seriesFromCsv(text, name) {
  const rows = parseCsv(text);
  if (rows.length === 0) throw new FileFormatError(`${name} is empty`);
  const header = rows[0].map((h) => h.toLowerCase());
  const columns = { id: header.indexOf("unique_id"), ds: header.indexOf("ds"), y: header.indexOf("y") };
  if (columns.ds !== -1 && columns.y !== -1) return longFormat(rows, columns);
  if (rows.every((r) => r.length === 1)) return oneColumn(rows, name);
  throw new FileFormatError(
    `${name} has the columns ${rows[0].join(", ")}; give one column of numbers, or the columns unique_id, ds, y`,
  );
}

/** A seeded uniform generator (mulberry32), so the examples are the same every time. */
function random(seed) {
  let state = seed >>> 0;
  return () => {
    state = (state + 0x6d2b79f5) >>> 0;
    let t = state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

const round = (x) => Math.round(x * 1000) / 1000;
const SPIKES = [150, 200, 260];

/** Built-in examples, each long enough for a model with a 128-value window plus backtests. */
export const EXAMPLES = {
  "noisy-sine": {
    label: "Daily, noisy sine (the shipped model's kind of data)",
    make: (u) => Array.from({ length: 400 }, (_, t) => round(Math.sin(0.02 * t) + 2 * u())),
    start: "2024-01-01",
    freq: "D",
  },
  "monthly-season": {
    label: "Monthly, trend and yearly season",
    make: (u) =>
      Array.from({ length: 240 }, (_, t) => round(1 + 0.004 * t + 0.5 * Math.sin((2 * Math.PI * t) / 12) + 0.2 * u())),
    start: "2005-01-01",
    freq: "MS",
  },
  "hourly-spikes": {
    label: "Hourly, noisy sine with three spikes (anomalies)",
    make: (u) =>
      Array.from({ length: 300 }, (_, t) => round(Math.sin(0.02 * t) + 2 * u() + (SPIKES.includes(t) ? 4 : 0))),
    start: "2025-03-01T00:00",
    freq: "H",
  },
};

/** The example as a series: id, values, start and freq. */
export function exampleSeries(key) {
  const example = EXAMPLES[key];
  return { id: key, values: example.make(random(7)), start: example.start, freq: example.freq };
}
