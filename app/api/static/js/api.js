// The page's only door to the server: the same /v1 API every client uses, the API key
// (kept in this tab's session storage, never in the page's URL or local storage),
// and the server's problem details turned into errors the page can show.

const KEY_STORAGE = "rnncast.apiKey";

/** A refusal from the server (RFC 9457 problem details), or the network failing. */
export class ApiProblem extends Error {
  constructor(status, problem) {
    super(problem.detail || problem.title || `HTTP ${status}`);
    this.status = status;
    this.title = problem.title || `HTTP ${status}`;
    this.detail = problem.detail || "";
    this.errors = Array.isArray(problem.errors) ? problem.errors : [];
  }
}

export function apiKey() {
  return sessionStorage.getItem(KEY_STORAGE) || "";
}

export function setApiKey(key) {
  if (key) sessionStorage.setItem(KEY_STORAGE, key);
  else sessionStorage.removeItem(KEY_STORAGE);
}

async function problemOf(response) {
  const type = response.headers.get("content-type") || "";
  if (type.includes("json")) {
    try {
      return await response.json();
    } catch {
      // fall through: a broken body still gets a readable message
    }
  }
  return { title: `HTTP ${response.status}`, detail: response.statusText };
}

/** Fetch a path relative to the page (so a proxy prefix keeps working). */
async function send(path, { body, accept = "application/json" } = {}) {
  const headers = { Accept: accept };
  if (body !== undefined) headers["Content-Type"] = "application/json";
  if (apiKey()) headers.Authorization = `Bearer ${apiKey()}`;
  let response;
  try {
    response = await fetch(path, {
      method: body === undefined ? "GET" : "POST",
      headers,
      body: body === undefined ? undefined : JSON.stringify(body),
    });
  } catch (error) {
    throw new ApiProblem(0, { title: "Server unreachable", detail: `the request to ${path} failed: ${error.message}` });
  }
  if (!response.ok) throw new ApiProblem(response.status, await problemOf(response));
  return response;
}

/** GET or POST JSON; resolves to the decoded answer, rejects with ApiProblem. */
export async function getJson(path, body) {
  return (await send(path, { body })).json();
}

/** An image behind the API key, as a blob: URL for an <img>. */
export async function imageUrl(path) {
  return URL.createObjectURL(await (await send(path, { accept: "image/png" })).blob());
}

/** Whether the server is ready, and why not (GET /health/ready needs no key). */
export async function readiness() {
  const response = await fetch("health/ready", { headers: { Accept: "application/json" } });
  const body = await response.json();
  return { ready: response.ok, reasons: body.reasons || [] };
}
