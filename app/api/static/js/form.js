// The forecast form: where the series comes from (example, CSV file, pasted numbers)
// and the options of the forecast. Choosing an example or a file's series fills the
// values, start and frequency fields, which stay the one source of what is sent.

import { formatTime, FREQ_CODES, parseTime, stepTimes } from "./calendar.js";
import { el } from "./dom.js";
import { EXAMPLES, exampleSeries, FileFormatError, parseNumbers, seriesFromCsv } from "./series.js";

/** A form value the page cannot turn into a request; shown like a server problem. */
export class InputError extends Error {
  constructor(title, detail) {
    super(detail);
    this.title = title;
    this.detail = detail;
    this.errors = [];
  }
}

const $ = (id) => document.getElementById(id);
let fileSeries = [];
let labels = null; // the history's time labels when a file gave them (ds column)
let seriesId = "series";

function fill(series) {
  $("values").value = series.values.join(", ");
  $("start").value = series.start;
  $("freq").value = FREQ_CODES.includes(series.freq) ? series.freq : "";
  labels = series.labels ?? null;
  seriesId = series.id;
  countValues();
}

function countValues() {
  const count = parseNumbers($("values").value).length;
  $("values-count").textContent = count === 0 ? "" : `${count} values`;
}

async function onFile() {
  const file = $("csv-file").files[0];
  const select = $("file-series");
  fileSeries = [];
  select.replaceChildren();
  select.disabled = true;
  if (!file) return;
  try {
    fileSeries = seriesFromCsv(await file.text(), file.name);
  } catch (error) {
    if (!(error instanceof FileFormatError)) throw error;
    throw new InputError("Unreadable CSV file", error.message);
  }
  select.append(...fileSeries.map((s, i) => el("option", { value: String(i) }, `${s.id} (${s.values.length} values)`)));
  select.disabled = fileSeries.length < 2;
  fill(fileSeries[0]);
}

/** Wire the series inputs; `onError` shows a problem with a chosen file. */
export function setUpForm(onError) {
  $("example").append(...Object.entries(EXAMPLES).map(([key, e]) => el("option", { value: key }, e.label)));
  $("freq").append(...FREQ_CODES.map((code) => el("option", { value: code }, code)));
  $("example").addEventListener("change", () => {
    if ($("example").value) fill(exampleSeries($("example").value));
  });
  $("csv-file").addEventListener("change", () => onFile().catch(onError));
  $("file-series").addEventListener("change", () => fill(fileSeries[Number($("file-series").value)]));
  for (const id of ["values", "start", "freq"]) {
    $(id).addEventListener("input", () => {
      labels = null;
      countValues();
    });
  }
}

/** The series as the form describes it: id, values, start, freq, the times of the
 * values (Dates, when a file's ds or the start and frequency give them) and labels. */
export function readSeries() {
  const values = parseNumbers($("values").value);
  const start = $("start").value.trim();
  const freq = $("freq").value;
  const parsed = labels ? labels.map(parseTime) : stepTimes(start, freq, values.length);
  const times = parsed && parsed.every((t) => t !== null) ? parsed : null;
  return { id: seriesId, values, start, freq, times, labels: labels ?? times?.map(formatTime) ?? null };
}

function number(id, label, { min, max, integer = false }) {
  const value = Number($(id).value);
  const ok =
    $(id).value.trim() !== "" &&
    Number.isFinite(value) &&
    value >= min &&
    value <= max &&
    (!integer || Number.isInteger(value));
  if (!ok)
    throw new InputError(
      `Invalid ${label}`,
      `${label} must be ${integer ? "a whole number" : "a number"} from ${min} to ${max}`,
    );
  return value;
}

function levels() {
  const text = $("levels").value.trim();
  const parsed = text === "" ? [] : text.split(/[\s,;]+/).map(Number);
  if (parsed.some((l) => !(l > 0 && l < 100))) {
    throw new InputError(
      "Invalid interval levels",
      `interval levels are percentages between 0 and 100, such as 80, 95 (got ${text})`,
    );
  }
  return [...new Set(parsed)];
}

/** The forecast options. Horizon, samples and seed go to the server as typed (it
 * names what is wrong with them); levels, windows and the anomaly level are the page's. */
export function readOptions() {
  return {
    model: $("model").value,
    horizon: $("horizon").value.trim() === "" ? null : Number($("horizon").value),
    levels: levels(),
    windows: number("windows", "Backtest windows", { min: 0, max: 20, integer: true }),
    anomalyLevel: number("anomaly-level", "Anomaly level", { min: 50, max: 99.9 }),
    numSamples: $("samples").value.trim() === "" ? null : Number($("samples").value),
    seed: $("seed").value.trim() === "" ? null : Number($("seed").value),
  };
}
