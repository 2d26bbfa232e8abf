// What the page asks the server and what it makes of the answers: the forecast with
// its intervals, a backtest over several cut-offs, and anomalies among the history.
// Everything is built on POST /v1/forecast/rolling, so it works on every server version.

import { coverage, mae, naiveScale, quantile, rmse, smape } from "./metrics.js";

/** Interval levels in percent -> the pair of quantile levels bounding each one. */
export function levelQuantiles(levels) {
  return levels.map((level) => {
    const tail = Number(((100 - level) / 200).toFixed(6));
    return { level, lo: tail, hi: Number((1 - tail).toFixed(6)) };
  });
}

function seriesBody(series, values, id) {
  const body = { id, values };
  if (series.start) body.start = series.start;
  if (series.freq) body.freq = series.freq;
  return body;
}

function rollingBody(options, series) {
  const body = { series, horizon: options.horizon, seed: options.seed };
  if (options.model) body.model = options.model;
  const quantiles = levelQuantiles(options.levels).flatMap((b) => [b.lo, b.hi]);
  if (quantiles.length > 0) {
    body.quantiles = [...new Set(quantiles)].sort((a, b) => a - b);
    body.num_samples = options.numSamples;
  }
  return body;
}

/** The request for the series itself: the forecast, its intervals, and the in-sample
 * one-step forecasts (walk-forward) that anomalies are judged by. */
export function forecastRequest(series, options) {
  return { ...rollingBody(options, [seriesBody(series, series.values, series.id)]), walk_forward: true };
}

/** Backtest cut-offs, oldest first: the last `windows` stretches of `horizon` values,
 * each forecast from the values before it. Cut-offs with fewer than `window` values
 * before them are left out. */
export function backtestCutoffs(length, window, horizon, windows) {
  const cutoffs = [];
  for (let k = windows; k >= 1; k -= 1) {
    const cutoff = length - k * horizon;
    if (cutoff >= window) cutoffs.push(cutoff);
  }
  return cutoffs;
}

/** One request forecasting from every cut-off, as one series each. */
export function backtestRequest(series, options, cutoffs) {
  return rollingBody(
    options,
    cutoffs.map((c) => seriesBody(series, series.values.slice(0, c), `cutoff-${c}`)),
  );
}

/** The values of the quantile level `q` in a rolling answer (its keys are the server's
 * text of each level, so they are matched by value). */
export function quantileValues(quantiles, q) {
  const key = Object.keys(quantiles || {}).find((k) => Math.abs(Number(k) - q) < 1e-9);
  return key === undefined ? null : quantiles[key];
}

/** MAE, RMSE, sMAPE, MASE and interval coverage of the backtest forecasts against
 * the actual values after each cut-off. */
export function scoreBacktest(values, cutoffs, forecasts, options, season) {
  const actual = [];
  const predicted = [];
  const bounds = levelQuantiles(options.levels).map((b) => ({ ...b, lower: [], upper: [] }));
  cutoffs.forEach((cutoff, k) => {
    const { mean, quantiles } = forecasts[k];
    actual.push(...values.slice(cutoff, cutoff + options.horizon));
    predicted.push(...mean);
    for (const b of bounds) {
      b.lower.push(...quantileValues(quantiles, b.lo));
      b.upper.push(...quantileValues(quantiles, b.hi));
    }
  });
  const scale = naiveScale(values.slice(0, cutoffs[0]), season);
  return {
    points: actual.length,
    mae: mae(actual, predicted),
    rmse: rmse(actual, predicted),
    smape: smape(actual, predicted),
    mase: mae(actual, predicted) / scale,
    coverage: bounds.map((b) => ({ level: b.level, share: coverage(actual, b.lower, b.upper) })),
  };
}

/** Each in-sample point's one-step forecast, its interval at `level` percent from the
 * model's calibration residuals (those the server's simulated paths draw from), and
 * whether the actual value falls outside it. */
export function findAnomalies(values, walkForward, residuals, level) {
  const tail = (100 - level) / 200;
  const below = quantile(residuals, tail);
  const above = quantile(residuals, 1 - tail);
  return walkForward.predictions.map((forecast, i) => {
    const index = walkForward.first_index + i;
    const lower = forecast + below;
    const upper = forecast + above;
    return { index, forecast, lower, upper, anomaly: values[index] < lower || values[index] > upper };
  });
}
