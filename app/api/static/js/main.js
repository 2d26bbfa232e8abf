// The forecast page: loads the models, asks for an API key when the server wants one,
// asks the server for the forecast, backtest and anomaly check, and shows problems as
// readable messages.

import { ApiProblem, apiKey, getJson, readiness, setApiKey } from "./api.js";
import {
  anomaliesOf,
  backtestForecasts,
  bandsOf,
  plannedRequests,
  positionOf,
  queryString,
  seriesRows,
} from "./analysis.js";
import { el } from "./dom.js";
import { readOptions, readSeries, setUpForm } from "./form.js";
import { renderModels, seasonOf } from "./models.js";
import { axisLabels, resizeChart, showResult } from "./result.js";

const $ = (id) => document.getElementById(id);
const SHOWN_ANOMALIES = 8;
let models = [];

/** Show a server problem (or the page's own complaint) in the alert region. */
function showProblem(problem) {
  const box = $("problem");
  const items = (problem.errors || []).map((e) => el("li", {}, e.field ? `${e.field}: ${e.message}` : e.message));
  const status = problem.status ? ` (HTTP ${problem.status})` : "";
  box.replaceChildren(
    el("p", { class: "problem-title" }, `${problem.title || "Something went wrong"}${status}`),
    el("p", {}, problem.detail || problem.message),
    ...(items.length > 1 ? [el("ul", {}, ...items)] : []),
  );
  box.hidden = false;
  box.focus(); // brings it into view, and screen readers to it, wherever the person was
  if (!(problem instanceof ApiProblem || problem.title)) console.error(problem);
}

function clearProblem() {
  $("problem").hidden = true;
  $("problem").replaceChildren();
}

async function showReadiness() {
  const { ready, reasons } = await readiness();
  $("server-status").textContent = ready ? "Server ready" : `Server not ready: ${reasons.join("; ")}`;
  $("server-status").className = ready ? "ok" : "bad";
}

async function loadModels() {
  try {
    ({ models } = await getJson("v1/models"));
  } catch (problem) {
    if (problem.status !== 401) throw problem;
    $("auth").hidden = false;
    $("models").replaceChildren(el("p", {}, "Enter the API key to see the models."));
    throw problem;
  }
  $("auth").hidden = true;
  renderModels($("models"), models);
  $("models").setAttribute("aria-busy", "false");
  const select = $("model");
  const chosen = select.value || (models.some((m) => m.name === "default") ? "default" : models[0]?.name);
  select.replaceChildren(
    ...models.map((m) => el("option", { value: m.name }, `${m.name}${m.ready ? "" : ` (${m.status})`}`)),
  );
  if (chosen) select.value = chosen;
}

/** Send one planned request with the series' rows. A backtest or anomaly check the
 * server refuses (422: too short a history for it, say) leaves its part of the page
 * empty with the server's reason; the forecast itself must succeed. */
async function ask(request, body, optional = false) {
  try {
    return { answer: await getJson(`${request.path}?${queryString(request.query)}`, body) };
  } catch (problem) {
    if (!optional || problem.status !== 422) throw problem;
    return { refused: problem.detail };
  }
}

function backtestPart(outcome, at, options) {
  if (!outcome) return { backtest: [], scores: null, note: "No backtest (set backtest windows above 0)." };
  if (outcome.refused) return { backtest: [], scores: null, note: `No backtest: ${outcome.refused}` };
  const { rows, metrics } = outcome.answer;
  const backtest = backtestForecasts(rows, at);
  const note = `Backtest: ${backtest.length} cut-offs × ${options.horizon} steps (${metrics.overall.points} points)`;
  return { backtest, scores: metrics.overall, note };
}

function anomalyPart(outcome, at, series, level) {
  if (outcome.refused) return { anomalies: [], note: `No anomaly check: ${outcome.refused}` };
  const anomalies = anomaliesOf(outcome.answer.rows, at);
  const flagged = anomalies.filter((a) => a.anomaly).map((a) => series.labels?.[a.index] ?? `step ${a.index}`);
  const note =
    `${flagged.length} of ${anomalies.length} in-sample points lie outside ` +
    `the ${level}% interval of their one-step forecast`;
  const listed = flagged.slice(0, SHOWN_ANOMALIES).join(", ") + (flagged.length > SHOWN_ANOMALIES ? ", …" : "");
  return { anomalies, note: flagged.length ? `${note}: ${listed}.` : `${note}.` };
}

async function forecast() {
  const series = readSeries();
  const options = readOptions();
  const model = models.find((m) => m.name === options.model);
  const requests = plannedRequests(options, model?.metadata ? (seasonOf(model.metadata) ?? 1) : 1);
  const body = { rows: seriesRows(series) };
  const { answer } = await ask(requests.forecast, body);
  const [backtested, checked] = await Promise.all([
    requests.backtest ? ask(requests.backtest, body, true) : null,
    ask(requests.anomalies, body, true),
  ]);
  const at = positionOf(series);
  const { backtest, scores, note: backtestNote } = backtestPart(backtested, at, options);
  const { anomalies, note } = anomalyPart(checked, at, series, options.anomalyLevel);
  const result = {
    seriesId: series.id,
    values: series.values,
    horizon: options.horizon,
    model: answer.model,
    labels: axisLabels(series, answer.rows, options.horizon),
    forecast: { rows: answer.rows, mean: answer.rows.map((r) => r.mean), bands: bandsOf(answer.rows, options.levels) },
    backtest,
    scores,
    backtestNote,
    anomalies,
    anomalyLevel: options.anomalyLevel,
    anomalyNote: note,
  };
  showResult(result, requests, body, Boolean(apiKey()));
  $("result-title").focus(); // the answer is below the form: take the reader there
}

async function onSubmit(event) {
  event.preventDefault();
  clearProblem();
  $("run").disabled = true;
  $("forecast-form").setAttribute("aria-busy", "true");
  try {
    await forecast();
  } catch (problem) {
    showProblem(problem);
  } finally {
    $("run").disabled = false;
    $("forecast-form").setAttribute("aria-busy", "false");
  }
}

async function onApiKey(event) {
  event.preventDefault();
  setApiKey($("api-key").value.trim());
  clearProblem();
  await loadModels().catch(showProblem);
}

function setUpCopyButtons() {
  for (const button of document.querySelectorAll("button[data-copy]")) {
    button.addEventListener("click", async () => {
      const code = $(button.dataset.copy);
      try {
        await navigator.clipboard.writeText(code.textContent);
        button.textContent = "Copied";
      } catch {
        // No clipboard access (an insecure origin, a denied permission): select the text instead.
        getSelection().selectAllChildren(code);
        button.textContent = "Selected: press Ctrl+C";
      }
      setTimeout(() => {
        button.textContent = button.dataset.label;
      }, 2000);
    });
    button.dataset.label = button.textContent;
  }
}

setUpForm(showProblem);
setUpCopyButtons();
$("forecast-form").addEventListener("submit", onSubmit);
$("auth-form").addEventListener("submit", onApiKey);
window.addEventListener("resize", resizeChart);
showReadiness().catch(showProblem);
loadModels().catch(showProblem);
