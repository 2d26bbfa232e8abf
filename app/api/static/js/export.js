// The answer as a CSV file, and the request as a curl command and a Python call
// that anyone can copy and run against the same server.

import { quantileValues } from "./analysis.js";

const csvField = (v) => (/[",\n]/.test(String(v)) ? `"${String(v).replace(/"/g, '""')}"` : String(v));

/** The forecast in long format: unique_id, ds, step, mean and lo-/hi- per level. */
export function forecastCsv(result) {
  const levels = [...result.bands].sort((a, b) => a.level - b.level);
  const header = ["unique_id", "ds", "step", "mean", ...levels.flatMap((b) => [`lo-${b.level}`, `hi-${b.level}`])];
  const rows = result.forecast.mean.map((mean, i) => [
    result.seriesId,
    result.forecast.timestamps ? result.forecast.timestamps[i] : "",
    i + 1,
    mean,
    ...levels.flatMap((b) => [
      quantileValues(result.forecast.quantiles, b.lo)[i],
      quantileValues(result.forecast.quantiles, b.hi)[i],
    ]),
  ]);
  return [header, ...rows].map((row) => row.map(csvField).join(",")).join("\n") + "\n";
}

const shellQuote = (text) => `'${text.replace(/'/g, "'\\''")}'`;

/** curl for the same request; the key, if any, comes from $RNNCAST_API_KEY. */
export function curlCommand(url, body, withKey) {
  const lines = [`curl -s ${url}`, "-H 'Content-Type: application/json'"];
  if (withKey) lines.push('-H "Authorization: Bearer $RNNCAST_API_KEY"');
  lines.push(`-d ${shellQuote(JSON.stringify(body))}`);
  return lines.join(" \\\n  ");
}

/** A JSON value as a Python literal (True/False/None; strings in JSON's escaping, which Python reads too). */
export function pythonLiteral(value) {
  if (value === null) return "None";
  if (value === true || value === false) return value ? "True" : "False";
  if (Array.isArray(value)) return `[${value.map(pythonLiteral).join(", ")}]`;
  if (typeof value === "object") {
    return `{${Object.entries(value)
      .map(([k, v]) => `${JSON.stringify(k)}: ${pythonLiteral(v)}`)
      .join(", ")}}`;
  }
  return JSON.stringify(value);
}

/** The same request from Python with httpx (what the README's examples use). */
export function pythonCall(url, body, withKey) {
  const headers = withKey ? ', headers={"Authorization": f"Bearer {os.environ[\'RNNCAST_API_KEY\']}"}' : "";
  return [
    withKey ? "import os\n\nimport httpx" : "import httpx",
    "",
    `body = ${pythonLiteral(body)}`,
    `response = httpx.post("${url}", json=body${headers}, timeout=60)`,
    'response.raise_for_status()  # errors are problem+json: response.json()["detail"]',
    'forecast = response.json()["forecasts"][0]',
    'print(forecast["mean"])',
  ].join("\n");
}
