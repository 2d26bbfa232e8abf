// Forecast accuracy from pairs of actual and forecast values (plain arrays of numbers).

const mean = (xs) => xs.reduce((a, b) => a + b, 0) / xs.length;

export function mae(actual, forecast) {
  return mean(actual.map((y, i) => Math.abs(y - forecast[i])));
}

export function rmse(actual, forecast) {
  return Math.sqrt(mean(actual.map((y, i) => (y - forecast[i]) ** 2)));
}

/** Symmetric MAPE in percent (0 to 200); pairs that are both zero count as exact. */
export function smape(actual, forecast) {
  return (
    100 *
    mean(
      actual.map((y, i) => {
        const scale = Math.abs(y) + Math.abs(forecast[i]);
        return scale === 0 ? 0 : (2 * Math.abs(y - forecast[i])) / scale;
      }),
    )
  );
}

/** MASE's denominator: the in-sample MAE of the seasonal naive forecast (lag `season`,
 * 1 without a season) on the history before the forecasts. NaN when it cannot be formed. */
export function naiveScale(history, season = 1) {
  const lag = season >= 1 && history.length > season ? season : 1;
  if (history.length <= lag) return NaN;
  return mean(history.slice(lag).map((y, i) => Math.abs(y - history[i])));
}

/** Share of actual values inside [lower, upper]. */
export function coverage(actual, lower, upper) {
  return mean(actual.map((y, i) => (y >= lower[i] && y <= upper[i] ? 1 : 0)));
}

/** The q-quantile of a sample (linear interpolation, as numpy's default). */
export function quantile(sample, q) {
  const sorted = [...sample].sort((a, b) => a - b);
  const position = (sorted.length - 1) * q;
  const below = Math.floor(position);
  const above = Math.min(below + 1, sorted.length - 1);
  return sorted[below] + (sorted[above] - sorted[below]) * (position - below);
}
