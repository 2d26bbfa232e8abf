// The forecast chart (uPlot, vendored): history, in-sample one-step forecasts, backtest
// forecasts after their cut-offs, the forecast mean with its interval bands, and
// anomalies as marked points. Drag to zoom, double-click (or the buttons) to reset;
// the legend shows every value and the timestamp under the cursor.

import { formatNumber } from "./dom.js";

export const COLORS = {
  history: "#1f4e79",
  oneStep: "#8a8a8a",
  backtest: "#6a3d9a",
  mean: "#c4161c",
  band: [196, 22, 28],
  anomaly: "#e08000",
  cutoff: "#6a3d9a",
};
/** Opacity of each interval band, widest level first; narrower bands draw over wider ones. */
export const BAND_ALPHA = 0.16;

const rgba = ([r, g, b], a) => `rgba(${r}, ${g}, ${b}, ${a})`;
const column = (length) => new Array(length).fill(null);

function placed(length, start, values) {
  const out = column(length);
  values.forEach((v, i) => {
    out[start + i] = v;
  });
  return out;
}

/** The backtest forecasts in one column, each after its cut-off. */
function backtestColumn(result, total) {
  const out = column(total);
  for (const { start, mean } of result.backtest) {
    mean.forEach((v, j) => {
      out[start + j] = v;
    });
  }
  return out;
}

/** The in-sample one-step forecasts the anomaly check made, at their positions. */
function oneStepColumn(result, total) {
  const out = column(total);
  for (const a of result.anomalies) out[a.index] = a.forecast;
  return out;
}

/** Each interval level's upper and lower bound, starting from the last actual value. */
function bandColumns(result, total) {
  const n = result.values.length;
  const edge = (b, bound, side) => [
    `${b.level}% ${side}`,
    rgba(COLORS.band, 0.6),
    placed(total, n - 1, [result.values[n - 1], ...bound]),
  ];
  return [...result.forecast.bands]
    .sort((a, b) => b.level - a.level)
    .flatMap((b) => [edge(b, b.hi, "upper"), edge(b, b.lo, "lower")]);
}

/** uPlot's columns (label, colour, values) and bands for a result. The bands come before
 * the mean, so that the mean line is drawn over their fill. */
export function chartColumns(result) {
  const n = result.values.length;
  const total = n + result.horizon;
  const x = Array.from({ length: total }, (_, i) => i);
  const columns = [
    ["History", COLORS.history, placed(total, 0, result.values)],
    ["One-step forecast (in-sample)", COLORS.oneStep, oneStepColumn(result, total)],
    ["Backtest forecast", COLORS.backtest, backtestColumn(result, total)],
  ];
  // Series 0 is x: the band edges of level k are series first + 2k and first + 2k + 1.
  const first = columns.length + 1;
  const edges = bandColumns(result, total);
  const bands = result.forecast.bands.map((_, k) => ({
    series: [first + 2 * k, first + 2 * k + 1],
    fill: rgba(COLORS.band, BAND_ALPHA),
  }));
  const flagged = column(total);
  result.anomalies.filter((a) => a.anomaly).forEach((a) => (flagged[a.index] = result.values[a.index]));
  columns.push(
    ...edges,
    ["Forecast mean", COLORS.mean, placed(total, n - 1, [result.values[n - 1], ...result.forecast.mean])],
    ["Anomaly", COLORS.anomaly, flagged],
  );
  return { x, columns, bands };
}

function seriesOptions([label, stroke], index, count, format) {
  const common = { label, stroke, value: (u, v) => (v === null ? "–" : format(v)) };
  if (index === count - 1) {
    return { ...common, paths: () => null, points: { show: true, size: 11, width: 2, stroke, fill: "#fff" } };
  }
  const dash = label.startsWith("One-step") ? [4, 3] : label.includes("%") ? [2, 2] : undefined;
  return { ...common, width: label.includes("%") ? 1 : 2, dash, points: { show: false } };
}

function drawMarkers(u, result) {
  const { ctx } = u;
  const top = u.bbox.top;
  const bottom = top + u.bbox.height;
  ctx.save();
  ctx.setLineDash([5, 4]);
  ctx.lineWidth = Math.max(1, devicePixelRatio);
  for (const [at, color] of [
    ...result.backtest.map((b) => [b.start, COLORS.cutoff]),
    [result.values.length, "#444"],
  ]) {
    const x = Math.round(u.valToPos(at - 0.5, "x", true));
    if (x < u.bbox.left || x > u.bbox.left + u.bbox.width) continue;
    ctx.strokeStyle = color;
    ctx.beginPath();
    ctx.moveTo(x, top);
    ctx.lineTo(x, bottom);
    ctx.stroke();
  }
  ctx.restore();
}

/** Legend entries show and hide their series on click; let the keyboard do the same. */
function keyboardLegend(chart) {
  chart.root.querySelectorAll(".u-legend .u-series").forEach((row, i) => {
    const label = row.querySelector("th");
    if (i === 0 || !label) return;
    label.tabIndex = 0;
    label.setAttribute("role", "button");
    const sync = () => label.setAttribute("aria-pressed", String(chart.series[i].show));
    sync();
    label.addEventListener("click", sync);
    label.addEventListener("keydown", (event) => {
      if (event.key !== "Enter" && event.key !== " ") return;
      event.preventDefault();
      label.click();
    });
  });
}

/** Draw the result into `container`; returns the uPlot instance. */
export function drawChart(container, result, width) {
  const { x, columns, bands } = chartColumns(result);
  const label = (v) =>
    Number.isInteger(v) && result.labels && result.labels[v] !== undefined
      ? result.labels[v]
      : Number.isInteger(v)
        ? `step ${v}`
        : "";
  const options = {
    width,
    height: width < 600 ? 280 : 380,
    scales: { x: { time: false } },
    series: [
      { label: "Time", value: (u, v) => (v === null ? "–" : label(v)) },
      ...columns.map((c, i) => seriesOptions(c, i, columns.length, formatNumber)),
    ],
    bands,
    axes: [{ space: 90, values: (u, splits) => splits.map(label) }, { size: 56 }],
    cursor: { drag: { x: true, y: false } },
    legend: { live: true },
    hooks: { draw: [(u) => drawMarkers(u, result)] },
  };
  const chart = new window.uPlot(options, [x, ...columns.map((c) => c[2])], container);
  keyboardLegend(chart);
  return chart;
}

/** Show the last stretch: the forecast and as much history again as it has steps (at least 3x). */
export function zoomToForecast(chart, result) {
  const end = result.values.length + result.horizon - 1;
  const span = Math.max(3 * result.horizon, (result.backtest.length + 1) * result.horizon + result.horizon);
  chart.setScale("x", { min: Math.max(0, end - span), max: end });
}

export function zoomToAll(chart, result) {
  chart.setScale("x", { min: 0, max: result.values.length + result.horizon - 1 });
}
