// The answer as a CSV file, and the page's requests as curl commands and as calls of
// the Python client (app.client) that anyone can copy and run against the same server.

import { queryString } from "./analysis.js";

const csvField = (v) => (/[",\n]/.test(String(v)) ? `"${String(v).replace(/"/g, '""')}"` : String(v));

/** Answer rows as CSV, with the server's columns in its order (unique_id, ds, mean, lo-/hi-). */
export function forecastCsv(rows) {
  const header = Object.keys(rows[0]);
  const lines = [header, ...rows.map((r) => header.map((k) => r[k]))];
  return lines.map((line) => line.map(csvField).join(",")).join("\n") + "\n";
}

const shellQuote = (text) => `'${text.replace(/'/g, "'\\''")}'`;
const ORDER = ["forecast", "backtest", "anomalies"];

/** curl for each request: the rows written once to rows.json, then one POST per
 * endpoint with its options in the query string; the key, if any, from $RNNCAST_API_KEY. */
export function curlCommands(base, requests, body, withKey) {
  const rows = body.rows.map((r) => JSON.stringify(r)).join(",\n");
  const file = `cat > rows.json <<'EOF'\n{"rows": [\n${rows}\n]}\nEOF`;
  const posts = ORDER.filter((name) => requests[name]).map((name) => {
    const { path, query } = requests[name];
    const lines = [`curl -s -w '\\n' ${shellQuote(`${base}${path}?${queryString(query)}`)}`];
    lines.push("-H 'Content-Type: application/json'");
    if (withKey) lines.push('-H "Authorization: Bearer $RNNCAST_API_KEY"');
    lines.push("--data-binary @rows.json");
    return lines.join(" \\\n  ");
  });
  return [file, ...posts].join("\n");
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

/** Keyword arguments of a client call: the query's options, except those given positionally. */
function keywords(query, positional) {
  return Object.entries(query)
    .filter(([k, v]) => !positional.includes(k) && v !== null && v !== undefined && v !== "")
    .map(([k, v]) => `, ${k}=${pythonLiteral(v)}`)
    .join("");
}

/** The same requests through the Python client: the rows as a DataFrame, one call each. */
export function clientCall(base, requests, body, withKey) {
  const dated = typeof body.rows[0]?.ds === "string";
  const rows = body.rows.map((r) => `    (${[r.unique_id, r.ds, r.y].map(pythonLiteral).join(", ")}),`);
  const key = withKey ? ', api_key=os.environ["RNNCAST_API_KEY"]' : "";
  const { forecast, backtest, anomalies } = requests;
  const calls = [
    `    forecast = client.forecast(df, h=${forecast.query.horizon}${keywords(forecast.query, ["horizon"])})`,
    ...(backtest ? [`    backtest = client.backtest(df${keywords(backtest.query, [])})`] : []),
    `    anomalies = client.detect_anomalies(df${keywords(anomalies.query, [])})`,
  ];
  return [
    ...(withKey ? ["import os", ""] : []),
    "import pandas as pd",
    "",
    "from app.client import Client  # rnncast's client extra",
    "",
    "rows = [",
    ...rows,
    "]",
    'df = pd.DataFrame(rows, columns=["unique_id", "ds", "y"])',
    ...(dated ? ['df["ds"] = pd.to_datetime(df["ds"])'] : []),
    `with Client(${pythonLiteral(base.replace(/\/$/, ""))}${key}) as client:`,
    ...calls,
    'print(forecast["mean"].tolist())',
    ...(backtest ? ["print(backtest.overall)"] : []),
    'print(anomalies[anomalies["anomaly"]])',
  ].join("\n");
}
