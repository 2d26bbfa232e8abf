// The answer on the page: chart, metrics beside it, the values as a table, the CSV
// download, and the request as curl and Python.

import { drawChart, zoomToAll, zoomToForecast } from "./chart.js";
import { el, formatNumber } from "./dom.js";
import { curlCommand, forecastCsv, pythonCall } from "./export.js";
import { quantileValues } from "./analysis.js";
import { formatTime, parseTime } from "./calendar.js";

const $ = (id) => document.getElementById(id);
let chart = null;
let downloadUrl = null;

/** Time labels for every point of the chart: the history's, then the forecast's. */
export function axisLabels(series, timestamps, horizon) {
  const history = series.labels ?? series.values.map((_, i) => `step ${i}`);
  const ahead = timestamps
    ? timestamps.map((t) => (parseTime(t) ? formatTime(parseTime(t)) : t))
    : Array.from({ length: horizon }, (_, i) => `+${i + 1}`);
  return [...history, ...ahead];
}

function metricsTable(scores, result) {
  const rows = [];
  if (scores) {
    rows.push(["MAE", scores.mae], ["RMSE", scores.rmse], ["sMAPE (%)", scores.smape], ["MASE", scores.mase]);
    rows.push(
      ...scores.coverage.map((c) => [`Coverage of the ${c.level}% interval`, `${(100 * c.share).toFixed(1)}%`]),
    );
  }
  const wf = result.walkForward;
  rows.push(["In-sample one-step MAE", wf.mae], ["In-sample one-step RMSE", wf.rmse]);
  const caption = scores
    ? `Backtest: ${result.backtest.cutoffs.length} cut-offs × ${result.horizon} steps (${scores.points} points)`
    : "No backtest (set backtest windows above 0, with enough history before each cut-off)";
  $("metrics").replaceChildren(
    el("caption", {}, caption),
    el(
      "tbody",
      {},
      ...rows.map(([k, v]) => el("tr", {}, el("th", { scope: "row" }, k), el("td", {}, formatNumber(v)))),
    ),
  );
}

function forecastTable(result) {
  const bands = [...result.bands].sort((a, b) => a.level - b.level);
  const head = ["Time", "Mean", ...bands.flatMap((b) => [`${b.level}% low`, `${b.level}% high`])];
  const n = result.values.length;
  const rows = result.forecast.mean.map((mean, i) => [
    result.labels[n + i],
    mean,
    ...bands.flatMap((b) => [
      quantileValues(result.forecast.quantiles, b.lo)[i],
      quantileValues(result.forecast.quantiles, b.hi)[i],
    ]),
  ]);
  $("forecast-table").replaceChildren(
    el("thead", {}, el("tr", {}, ...head.map((h) => el("th", { scope: "col" }, h)))),
    el("tbody", {}, ...rows.map((r) => el("tr", {}, ...r.map((v) => el("td", {}, formatNumber(v)))))),
  );
}

function summary(result, flagged) {
  const bands = result.bands.map((b) => `${b.level}%`).join(" and ");
  return (
    `${result.values.length} values of ${result.seriesId}, forecast ${result.horizon} steps ahead by model ` +
    `${result.model.name} (version ${result.model.version})${bands ? ` with ${bands} intervals` : ""}; ` +
    `${result.backtest.cutoffs.length} backtest cut-offs; ${flagged} anomalies at the ${result.anomalyLevel}% level.`
  );
}

function download(result) {
  if (downloadUrl) URL.revokeObjectURL(downloadUrl);
  downloadUrl = URL.createObjectURL(new Blob([forecastCsv(result)], { type: "text/csv" }));
  $("download").href = downloadUrl;
  $("download").download = `forecast-${result.seriesId}.csv`;
}

function snippets(request, withKey) {
  const url = new URL("v1/forecast/rolling", document.baseURI).href;
  $("curl").textContent = curlCommand(url, request, withKey);
  $("python").textContent = pythonCall(url, request, withKey);
}

/** Show a result; `request` is the forecast request as sent, `scores` the backtest's. */
export function showResult(result, request, scores, withKey) {
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
  metricsTable(scores, result);
  $("anomaly-note").textContent = result.anomalyNote;
  forecastTable(result);
  download(result);
  snippets(request, withKey);
}

/** Follow the width of the chart's box (phone rotation, window resizing). */
export function resizeChart() {
  if (chart) chart.setSize({ width: $("chart").clientWidth, height: chart.height });
}
