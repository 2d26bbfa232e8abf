// The answer on the page: chart, the backtest's metrics beside it, the values as a
// table, the CSV download, and the requests as curl and Python client calls.

import { drawChart, zoomToAll, zoomToForecast } from "./chart.js";
import { el, formatNumber } from "./dom.js";
import { clientCall, curlCommands, forecastCsv } from "./export.js";
import { formatTime, parseTime } from "./calendar.js";

const $ = (id) => document.getElementById(id);
let chart = null;
let downloadUrl = null;

/** Time labels for every point of the chart: the history's, then the forecast rows'. */
export function axisLabels(series, forecastRows, horizon) {
  const history = series.labels ?? series.values.map((_, i) => `step ${i}`);
  const ahead = series.times
    ? forecastRows.map((r) => (parseTime(r.ds) ? formatTime(parseTime(r.ds)) : String(r.ds)))
    : Array.from({ length: horizon }, (_, i) => `+${i + 1}`);
  return [...history, ...ahead];
}

/** The backtest's overall scores as the server computed them. */
function metricsTable(result) {
  const scores = result.scores;
  const rows = scores
    ? [
        ["MAE", scores.mae],
        ["RMSE", scores.rmse],
        ["sMAPE (%)", scores.smape],
        ["MASE", scores.mase],
        ...result.forecast.bands.map((b) => [`Coverage of the ${b.level}% interval`, scores[`coverage-${b.level}`]]),
      ]
    : [];
  const cell = (name, v) =>
    v === null || v === undefined ? "n/a" : name.startsWith("Coverage") ? `${v.toFixed(1)}%` : formatNumber(v);
  $("metrics").replaceChildren(
    el("caption", {}, result.backtestNote),
    el(
      "tbody",
      {},
      ...rows.map(([k, v]) => el("tr", {}, el("th", { scope: "row" }, k), el("td", {}, cell(k, v)))),
    ),
  );
}

function forecastTable(result) {
  const bands = [...result.forecast.bands].sort((a, b) => a.level - b.level);
  const head = ["Time", "Mean", ...bands.flatMap((b) => [`${b.level}% low`, `${b.level}% high`])];
  const n = result.values.length;
  const rows = result.forecast.mean.map((mean, i) => [
    result.labels[n + i],
    mean,
    ...bands.flatMap((b) => [b.lo[i], b.hi[i]]),
  ]);
  $("forecast-table").replaceChildren(
    el("thead", {}, el("tr", {}, ...head.map((h) => el("th", { scope: "col" }, h)))),
    el("tbody", {}, ...rows.map((r) => el("tr", {}, ...r.map((v) => el("td", {}, formatNumber(v)))))),
  );
}

function summary(result, flagged) {
  const bands = result.forecast.bands.map((b) => `${b.level}%`).join(" and ");
  return (
    `${result.values.length} values of ${result.seriesId}, forecast ${result.horizon} steps ahead by model ` +
    `${result.model.name} (version ${result.model.version})${bands ? ` with ${bands} intervals` : ""}; ` +
    `${result.backtest.length} backtest cut-offs; ${flagged} anomalies at the ${result.anomalyLevel}% level.`
  );
}

function download(result) {
  if (downloadUrl) URL.revokeObjectURL(downloadUrl);
  downloadUrl = URL.createObjectURL(new Blob([forecastCsv(result.forecast.rows)], { type: "text/csv" }));
  $("download").href = downloadUrl;
  $("download").download = `forecast-${result.seriesId}.csv`;
}

/** Show a result; `requests` and `body` are what was sent (shown as curl and Python). */
export function showResult(result, requests, body, withKey) {
  $("result").hidden = false;
  const flagged = result.anomalies.filter((a) => a.anomaly).length;
  const text = summary(result, flagged);
  $("summary").textContent = text;
  if (chart) chart.destroy();
  const box = $("chart");
  chart = drawChart(box, result, box.clientWidth);
  chart.root.querySelector(".u-wrap").setAttribute("role", "img");
  chart.root.querySelector(".u-wrap").setAttribute("aria-label", `Chart: ${text}`);
  $("zoom-forecast").onclick = () => zoomToForecast(chart, result);
  $("zoom-all").onclick = () => zoomToAll(chart, result);
  metricsTable(result);
  $("anomaly-note").textContent = result.anomalyNote;
  forecastTable(result);
  download(result);
  const base = new URL(".", document.baseURI).href;
  $("curl").textContent = curlCommands(base, requests, body, withKey);
  $("python").textContent = clientCall(base, requests, body, withKey);
}

/** Follow the width of the chart's box (phone rotation, window resizing). */
export function resizeChart() {
  if (chart) chart.setSize({ width: $("chart").clientWidth, height: chart.height });
}
