// The served models: readiness, what each was trained on, its test scores beside the
// baselines, and its training plots.

import { imageUrl } from "./api.js";
import { el, formatNumber as fmt } from "./dom.js";

/** The model's season (period), wherever its training recorded one; null when none did. */
export function seasonOf(metadata) {
  const places = [metadata, metadata.training_data, metadata.training, metadata.metrics, metadata.extra];
  for (const place of places) {
    for (const key of ["season", "period", "season_length"]) {
      if (place && typeof place[key] === "number") return place[key];
    }
  }
  return null;
}

function facts(model) {
  const meta = model.metadata;
  const rows = [
    ["Status", model.ready ? "ready" : `${model.status}${model.reason ? `: ${model.reason}` : ""}`],
    ["Version", model.version],
    ["Device", model.device],
    ["Window", model.window],
    ["Season", meta ? (seasonOf(meta) ?? "none recorded") : null],
    ["Layout", meta?.layout],
    ["Hidden size", meta?.hidden_size],
    ["Created", meta?.created_at],
    [
      "Training data",
      meta
        ? Object.entries(meta.training_data)
            .map(([k, v]) => `${k}: ${fmt(v)}`)
            .join("; ")
        : null,
    ],
  ];
  return el(
    "dl",
    {},
    ...rows
      .filter(([, v]) => v !== null && v !== undefined)
      .flatMap(([k, v]) => [el("dt", {}, k), el("dd", {}, fmt(v))]),
  );
}

/** Test scores of the model beside each baseline on the same held-out points. */
function scores(model) {
  const metrics = model.metadata?.metrics;
  if (!metrics?.test) return el("p", {}, "No test scores recorded.");
  const rows = [["model", metrics.test], ...Object.entries(metrics.baselines || {})];
  const names = [...new Set(rows.flatMap(([, s]) => Object.keys(s)))].filter((k) => k !== "mse");
  const head = el(
    "tr",
    {},
    el("th", { scope: "col" }, "Forecaster"),
    ...names.map((n) => el("th", { scope: "col" }, n.toUpperCase())),
  );
  const body = rows.map(([name, s]) =>
    el(
      "tr",
      {},
      el("th", { scope: "row" }, name.replace(/_/g, " ")),
      ...names.map((n) => el("td", {}, s[n] === undefined ? "–" : fmt(s[n]))),
    ),
  );
  const points = metrics.test_points ? ` (${metrics.test_points} held-out points)` : "";
  return el(
    "table",
    { class: "scores" },
    el("caption", {}, `Test scores${points}`),
    el("thead", {}, head),
    el("tbody", {}, ...body),
  );
}

/** The training plots, fetched (with the API key) the first time they are opened. */
function plots(model) {
  const details = el("details", {}, el("summary", {}, "Training plots"));
  details.addEventListener("toggle", () => {
    if (details.querySelector("figure, .note")) return;
    for (const file of model.plots) {
      const img = el("img", { alt: `${model.name}: training plot ${file.replace(/\.png$/, "")}` });
      const figure = el("figure", {}, img, el("figcaption", {}, file));
      details.append(figure);
      imageUrl(`v1/models/${encodeURIComponent(model.name)}/plots/${encodeURIComponent(file)}`)
        .then((url) => {
          img.src = url;
        })
        .catch((problem) => figure.replaceWith(el("p", { class: "note" }, `${file}: ${problem.message}`)));
    }
  });
  return details;
}

/** One card per model, in the order the server lists them. */
export function renderModels(container, models) {
  container.replaceChildren(
    ...models.map((model) => {
      const title = el(
        "h3",
        { id: `model-${model.name}` },
        model.name,
        " ",
        el("span", { class: `badge ${model.ready ? "ok" : "bad"}` }, model.ready ? "ready" : model.status),
      );
      const parts = [title, facts(model)];
      if (model.metadata) parts.push(scores(model));
      if (model.plots.length > 0) parts.push(plots(model));
      return el("article", { class: "model", "aria-labelledby": `model-${model.name}` }, ...parts);
    }),
  );
}
