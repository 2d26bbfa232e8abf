// What the page asks the server, and how it reads the answers. The series goes as
// long-format rows (`unique_id, ds, y`: the form the Python client sends too) to three
// endpoints: the forecast with its intervals, the backtest with its scores, and the
// anomaly check. The options go in the query string, so the curl and Python the page
// shows send the very same requests; every number shown is the server's.

import { parseTime } from "./calendar.js";

/** The series as rows: `ds` is each value's time (ISO 8601, UTC) when the series has
 * times, else its position 0, 1, ... */
export function seriesRows(series) {
  const ds = series.times
    ? series.times.map((t) => t.toISOString().replace(/\.000Z$/, ""))
    : series.values.map((_, i) => i);
  return series.values.map((y, i) => ({ unique_id: series.id, ds: ds[i], y }));
}

function withModel(options, query) {
  return options.model ? { ...query, model: options.model } : query;
}

function intervalQuery(options) {
  return options.levels.length ? { level: options.levels, num_samples: options.numSamples, seed: options.seed } : {};
}

/** The three requests, each a path and its query options; all carry the same rows.
 * No backtest when no window is asked for. */
export function plannedRequests(options, season) {
  const requests = {
    forecast: {
      path: "v1/forecast/rolling",
      query: withModel(options, { horizon: options.horizon, ...intervalQuery(options) }),
    },
    // Judged by the model's calibration residuals: checking every point against the
    // series' own errors (conformal) calibrates on the anomalies too, and at 99% flags
    // at most the few largest errors of a few hundred points.
    anomalies: {
      path: "v1/anomalies",
      query: withModel(options, { level: options.anomalyLevel, interval_method: "paths" }),
    },
  };
  if (options.windows > 0) {
    requests.backtest = {
      path: "v1/forecast/backtest",
      query: withModel(options, {
        h: options.horizon,
        n_windows: options.windows,
        season_length: season,
        ...intervalQuery(options),
      }),
    };
  }
  return requests;
}

/** A request's query string: lists as comma-separated values, as the server reads them. */
export function queryString(query) {
  return Object.entries(query)
    .filter(([, v]) => v !== null && v !== undefined && v !== "")
    .map(([k, v]) => `${encodeURIComponent(k)}=${Array.isArray(v) ? v.join(",") : encodeURIComponent(v)}`)
    .join("&");
}

/** A function from an answer row's `ds` to its position in the history (undefined for
 * a time the history does not hold, such as one the server filled in). */
export function positionOf(series) {
  if (!series.times) return (ds) => Number(ds);
  const index = new Map(series.times.map((t, i) => [t.getTime(), i]));
  return (ds) => index.get(parseTime(ds)?.getTime());
}

/** The interval bands of answer rows: per level, the lower and upper bound of each row. */
export function bandsOf(rows, levels) {
  return levels.map((level) => ({
    level,
    lo: rows.map((r) => r[`lo-${level}`]),
    hi: rows.map((r) => r[`hi-${level}`]),
  }));
}

/** The backtest's forecasts grouped by cut-off, oldest first: each cut-off's position
 * (the first forecast step) and the forecast means. */
export function backtestForecasts(rows, at) {
  const groups = new Map();
  for (const row of rows) {
    if (!groups.has(row.cutoff)) groups.set(row.cutoff, { start: at(row.ds), mean: [] });
    groups.get(row.cutoff).mean.push(row.mean);
  }
  return [...groups.values()].filter((g) => g.start !== undefined);
}

/** Each checked point of the anomaly answer: its position, one-step forecast and flag. */
export function anomaliesOf(rows, at) {
  return rows
    .map((r) => ({ index: at(r.ds), forecast: r.mean, anomaly: r.anomaly }))
    .filter((a) => a.index !== undefined);
}
