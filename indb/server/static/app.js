// The web page of `indb serve`: every request goes to the HTTP API with the session's token
// (Authorization: Bearer), so the page can do exactly what the signed-in user may do in SQL.

const ROWS_SHOWN = 200;      // rows of a run's output table shown under the form
const PAGE_ROWS = 100;       // rows a page when browsing a table
const CHART_CATEGORIES = 30; // bars at most in a chart by category
const CHART_SERIES = 3;      // numeric columns at most in a chart over time
const CHART_LINES = 10;      // lines at most in a chart over time, one per category
// the columns of SHOW FUNCTION STATUS the runs' views show (the rest are in SQL)
const RUN_COLUMNS = ["FUNCTION_NAME", "RUN_ID", "status", "user", "started", "seconds", "rows_in",
                     "rows_out", "message"];

const state = {
  token: sessionStorage.getItem("indb.token"),
  fromPassword: sessionStorage.getItem("indb.kind") === "password",
  session: null,
  tables: [],
  table: null,  // the table open in the tables view
  charts: new Map(),
};

const $ = (id) => document.getElementById(id);

function el(tag, attributes = {}, ...children) {
  const node = document.createElement(tag);
  for (const [key, value] of Object.entries(attributes)) {
    if (value === undefined || value === null || value === false) continue;
    if (key === "class") node.className = value;
    else if (key.startsWith("on")) node.addEventListener(key.slice(2), value);
    else if (key in node && typeof value !== "string") node[key] = value;
    else node.setAttribute(key, value === true ? "" : value);
  }
  node.append(...children.flat().filter((c) => c !== null && c !== undefined));
  return node;
}

// -- the API -----------------------------------------------------------------------------------

async function api(method, path, body, { raw = false } = {}) {
  const headers = {};
  if (state.token) headers.Authorization = `Bearer ${state.token}`;
  if (body !== undefined) headers["Content-Type"] = "application/json";
  const response = await fetch(path, {
    method, headers, body: body === undefined ? undefined : JSON.stringify(body),
  });
  if (!response.ok) {
    let detail = { class: "Error", message: `${response.status} ${response.statusText}` };
    try { detail = (await response.json()).error || detail; } catch { /* not JSON */ }
    if (response.status === 401 && state.session) {  // the token expired or was revoked meanwhile
      setToken(null, false);
      showSignIn();
      $("sign-in-error").textContent = `Signed out: ${detail.message}`;
    }
    throw Object.assign(new Error(detail.message), { status: response.status, detail });
  }
  if (raw) return response;
  const answer = await response.json();
  if (answer && answer.error) throw Object.assign(new Error(answer.error.message), { detail: answer.error });
  return answer;
}

const sql = (text) => api("POST", "/v1/sql", { sql: text });
const tablePath = (name, what) => `/v1/tables/${encodeURIComponent(name)}/${what}`;

function rowsOf(result) {  // a /v1/sql result's rows as objects by column name
  const names = result.columns.map((c) => (typeof c === "string" ? c : c.name));
  return result.rows.map((row) => Object.fromEntries(names.map((n, i) => [n, row[i]])));
}

// -- signing in and out ------------------------------------------------------------------------

function setToken(token, fromPassword) {
  state.token = token;
  state.fromPassword = fromPassword;
  if (token) {
    sessionStorage.setItem("indb.token", token);
    sessionStorage.setItem("indb.kind", fromPassword ? "password" : "token");
  } else {
    sessionStorage.removeItem("indb.token");
    sessionStorage.removeItem("indb.kind");
  }
}

async function begin() {
  try {
    await start(await api("GET", "/v1/session"));
  } catch (error) {
    if (state.token) $("sign-in-error").textContent = `Signed out: ${error.message}`;
    setToken(null, false);
    showSignIn();
  }
}

function showSignIn() {
  state.session = null;
  state.table = null;
  for (const old of state.charts.values()) old.destroy();
  state.charts.clear();
  // nothing of the last user's stays in the page for the next one
  for (const id of ["function-list", "table-list", "runs", "admin-users", "admin-grants", "admin-runs"]) {
    $(id).replaceChildren();
  }
  $("function-detail").replaceChildren(el("p", { class: "hint" }, "Choose a function."));
  $("table-detail").replaceChildren(el("p", { class: "hint" }, "Choose a table."));
  $("nav").hidden = true;
  $("sign-out").hidden = true;
  $("who").textContent = "";
  show("sign-in");
  $("user").focus();
}

async function start(session) {
  state.session = session;
  $("who").textContent = `${session.user} · ${session.roles.join(", ") || "no role"}`;
  $("nav").hidden = false;
  $("admin-tab").hidden = !session.admin;
  $("sign-out").hidden = !state.token;
  $("sign-in-error").textContent = "";
  $("token-error").textContent = "";
  show("functions");
  await Promise.all([loadFunctions(), loadTables()]);
}

$("sign-in-form").addEventListener("submit", async (event) => {
  event.preventDefault();
  $("sign-in-error").textContent = "";
  try {
    const session = await api("POST", "/v1/session",
                              { user: $("user").value, password: $("password").value });
    setToken(session.token, true);
    $("password").value = "";
    await start(session);
  } catch (error) {
    $("sign-in-error").textContent = error.message;
  }
});

$("token-form").addEventListener("submit", async (event) => {
  event.preventDefault();
  $("token-error").textContent = "";
  setToken($("token").value.trim(), false);
  try {
    await start(await api("GET", "/v1/session"));
    $("token").value = "";
  } catch (error) {
    setToken(null, false);
    $("token-error").textContent = error.message;
  }
});

$("sign-out").addEventListener("click", async () => {
  // a session made by signing in is revoked; a pasted API token stays valid elsewhere
  if (state.fromPassword) {
    try { await api("DELETE", "/v1/session"); } catch { /* revoked or expired already */ }
  }
  setToken(null, false);
  showSignIn();
});

// -- views -------------------------------------------------------------------------------------

const loaders = { runs: loadRuns, admin: loadAdmin, tables: loadTables };

function show(view) {
  for (const section of document.querySelectorAll("main > section")) {
    section.hidden = section.id !== `${view}-view`;
  }
  for (const button of document.querySelectorAll("#nav button")) {
    button.classList.toggle("active", button.dataset.view === view);
  }
}

for (const button of document.querySelectorAll("#nav button")) {
  button.addEventListener("click", async () => {
    show(button.dataset.view);
    const load = loaders[button.dataset.view];
    if (load) await load();
  });
}

function failure(container, error) {
  container.replaceChildren(el("p", { class: "error", role: "alert" }, error.message));
}

// -- tables of rows ----------------------------------------------------------------------------

const NUMERIC = /^(TINYINT|SMALLINT|INTEGER|INT|BIGINT|HUGEINT|UTINYINT|USMALLINT|UINTEGER|UBIGINT|FLOAT|REAL|DOUBLE|DECIMAL|NUMERIC)/;
const TEMPORAL = /^(DATE|TIMESTAMP)/;

function grid(columns, rows, { badge = "status" } = {}) {
  const head = el("tr", {}, columns.map((c) => el("th", {}, c.name,
    c.type ? el("span", { class: "type" }, c.type) : null)));
  const body = rows.map((row) => el("tr", {}, row.map((value, i) => {
    if (value === null || value === undefined) return el("td", { class: "null" }, "NULL");
    if (columns[i].name === badge) return el("td", {}, el("span", { class: `badge ${value}` }, String(value)));
    const numeric = NUMERIC.test(columns[i].type || "") || typeof value === "number";
    let text = typeof value === "object" ? JSON.stringify(value) : String(value);
    if (/^TIMESTAMP/.test(columns[i].type || "")) text = text.replace("T", " ").replace(/\.\d+/, "");
    return el("td", { class: numeric ? "number" : text.length > 40 ? "long" : null }, text);
  })));
  return el("div", { class: "table-wrap" }, el("table", {}, el("thead", {}, head), el("tbody", {}, body)));
}

function columnsOf(result) {
  return result.columns.map((c) => (typeof c === "string" ? { name: c } : c));
}

function runsGrid(result) {  // SHOW FUNCTION STATUS's rows, RUN_COLUMNS of them
  const columns = columnsOf(result);
  const kept = RUN_COLUMNS.map((name) => columns.findIndex((c) => c.name === name)).filter((i) => i >= 0);
  return grid(kept.map((i) => columns[i]), result.rows.map((row) => kept.map((i) => row[i])));
}

// The chart rule (docs/server.md): with a DATE or TIMESTAMP column and a numeric one, a line
// chart over the first such time column: one line per value of the first text column if there
// is one (CHART_LINES at most), else one line per numeric column (CHART_SERIES at most); without
// a time column, a bar chart of the first numeric column summed by the first text column
// (CHART_CATEGORIES bars at most); else none. It needs two rows or more.
export function chartConfig(columns, rows) {
  if (rows.length < 2) return null;
  const index = (test) => columns.findIndex((c) => test.test(c.type || ""));
  const numeric = columns.map((c, i) => i).filter((i) => NUMERIC.test(columns[i].type || ""));
  const time = index(TEMPORAL);
  const text = index(/^VARCHAR/);
  if (time >= 0 && numeric.length) {
    const labels = [...new Set(rows.map((r) => String(r[time])))].sort();
    const at = new Map(labels.map((label, i) => [label, i]));
    const series = new Map();  // name -> values by label
    const put = (name, row, value) => {
      if (!series.has(name)) {
        if (series.size >= (text >= 0 ? CHART_LINES : CHART_SERIES)) return;
        series.set(name, labels.map(() => null));
      }
      series.get(name)[at.get(String(row[time]))] = row[value];
    };
    for (const row of rows) {
      if (text >= 0) put(String(row[text]), row, numeric[0]);
      else for (const i of numeric) put(columns[i].name, row, i);
    }
    return {
      type: "line",
      data: {
        labels,
        datasets: [...series].map(([label, data]) => ({ label, data, pointRadius: 2, spanGaps: true })),
      },
      title: text >= 0 ? `${columns[numeric[0]].name} by ${columns[time].name}, a line per ${columns[text].name}`
        : `${[...series.keys()].join(", ")} by ${columns[time].name}`,
    };
  }
  if (text >= 0 && numeric.length) {
    const value = numeric[0];
    const sums = new Map();
    for (const row of rows) {
      const key = String(row[text]);
      if (!sums.has(key) && sums.size >= CHART_CATEGORIES) continue;
      sums.set(key, (sums.get(key) || 0) + Number(row[value] || 0));
    }
    return {
      type: "bar",
      data: { labels: [...sums.keys()], datasets: [{ label: `sum of ${columns[value].name}`, data: [...sums.values()] }] },
      title: `sum of ${columns[value].name} by ${columns[text].name}`,
    };
  }
  return null;
}

function chart(key, columns, rows) {
  const old = state.charts.get(key);
  if (old) old.destroy();
  state.charts.delete(key);
  const config = chartConfig(columns, rows);
  if (!config || !window.Chart) return null;
  const canvas = el("canvas", { "aria-label": config.title, role: "img" });
  const holder = el("div", { class: "chart", "data-chart": config.type }, canvas);
  requestAnimationFrame(() => {
    state.charts.set(key, new window.Chart(canvas, {
      type: config.type, data: config.data,
      options: {
        animation: false, responsive: true, maintainAspectRatio: false,
        plugins: { title: { display: true, text: config.title }, legend: { display: config.type === "line" } },
      },
    }));
  });
  return holder;
}

// -- functions and their forms -----------------------------------------------------------------

async function loadFunctions() {
  const list = $("function-list");
  try {
    const functions = new Map();
    for (const row of rowsOf(await sql("SHOW FUNCTIONS"))) {
      if (!functions.has(row.name)) {
        functions.set(row.name, { name: row.name, mode: row.mode, comment: row.comment, params: [] });
      }
      if (row.parameter !== null) {
        functions.get(row.name).params.push({
          name: row.parameter, type: row.type, default: row.default, comment: row.parameter_comment,
        });
      }
    }
    list.replaceChildren(...[...functions.values()].map((f) => el("li", {},
      el("button", { type: "button", "data-function": f.name, onclick: () => openFunction(f) },
         el("span", { class: "name" }, f.name),
         el("span", { class: "comment" }, f.comment || "")))));
    if (!functions.size) list.replaceChildren(el("li", { class: "hint" }, "No function is granted to you."));
  } catch (error) {
    failure(list, error);
  }
}

function parameterInput(p) {
  const type = (p.type || "").toUpperCase();
  const attributes = { name: p.name, "data-param": p.name, "data-type": type };
  if (type === "BOOLEAN") {
    return el("input", { ...attributes, type: "checkbox", checked: p.default === "true" });
  }
  if (/^U?(TINYINT|SMALLINT|INTEGER|INT|BIGINT|HUGEINT)/.test(type)) {
    return el("input", { ...attributes, type: "number", step: "1", value: p.default ?? "" });
  }
  if (NUMERIC.test(type)) {
    return el("input", { ...attributes, type: "number", step: "any", value: p.default ?? "" });
  }
  if (type === "DATE") return el("input", { ...attributes, type: "date", value: p.default ?? "" });
  if (type.startsWith("TIMESTAMP")) {
    return el("input", { ...attributes, type: "datetime-local", step: "1",
                         value: (p.default ?? "").replace(" ", "T") });
  }
  return el("input", { ...attributes, type: "text", value: p.default ?? "" });
}

function parameterValue(input) {
  if (input.type === "checkbox") return input.checked;
  if (input.value === "") return null;  // the default, or the server says it is required
  return input.type === "datetime-local" ? input.value.replace("T", " ") : input.value;
}

function openFunction(f) {
  for (const b of document.querySelectorAll("#function-list button")) {
    b.classList.toggle("active", b.dataset.function === f.name);
  }
  const inputs = f.params.map(parameterInput);
  const source = el("select", { id: "input-table", onchange: () => { source.dataset.chosen = "yes"; } });
  fillSources(source);
  const target = el("input", { id: "output-table", value: `${f.name}_out`, required: true });
  const error = el("p", { class: "error", id: "run-error", role: "alert" });
  const progress = el("div", { id: "run-progress" });
  const output = el("div", { id: "run-output" });
  const button = el("button", { type: "submit", class: "primary", id: "run" }, "Run");
  const form = el("form", { id: "function-form", novalidate: true },
    el("h2", {}, f.name),
    el("p", { class: "comment", id: "function-comment" }, f.comment || "No description."),
    el("div", { class: "params" },
       el("label", {}, "Input table", source),
       el("label", {}, "Output table", target)),
    f.params.length ? el("fieldset", {}, el("legend", {}, "Parameters"),
      el("div", { class: "params" }, f.params.map((p, i) => el("label", {},
        p.name, " ", el("span", { class: "type" }, `(${p.type})`),
        p.default === null ? el("span", { class: "required", title: "required" }, " *") : null,
        inputs[i], p.comment ? el("small", {}, p.comment) : null)))) : null,
    el("div", { class: "buttons" }, button),
    error);
  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    error.textContent = "";
    for (const input of inputs) input.removeAttribute("aria-invalid");
    output.replaceChildren();
    progress.replaceChildren();
    button.disabled = true;
    const params = Object.fromEntries(inputs.map((i) => [i.dataset.param, parameterValue(i)]));
    try {
      const run = await api("POST", `/v1/functions/${encodeURIComponent(f.name)}/run`, {
        input_table: source.value || null, output_table: target.value.trim() || null, params,
      });
      await follow(run.run_id, progress);
      await showOutput(target.value.trim(), output);
      loadTables();
    } catch (failed) {
      error.textContent = failed.message;
      const named = /parameter (\w+)/.exec(failed.message);  // the planner names a bad one so
      const input = named && inputs.find((i) => i.dataset.param === named[1]);
      if (input) input.setAttribute("aria-invalid", "true");
    } finally {
      button.disabled = false;
    }
  });
  $("function-detail").replaceChildren(form, progress, output);
}

// The input table choices: the tables granted, the first chosen until the user picks one (the
// list may arrive after the form is opened: loadTables fills an open form's choices again).
function fillSources(select) {
  const picked = select.dataset.chosen ? select.value : null;
  select.replaceChildren(el("option", { value: "" }, "(none)"),
    ...state.tables.map((t) => el("option", { value: t.name }, t.name)));
  if (picked !== null && (picked === "" || state.tables.some((t) => t.name === picked))) select.value = picked;
  else select.value = state.tables.length ? state.tables[0].name : "";
}

// The run's progress, as /v1/runs/{id}/progress streams it (one JSON object a line).
async function follow(runId, container) {
  const summary = el("p", { class: "progress-summary", id: "run-summary" }, `Run ${runId}: starting`);
  const shards = el("tbody");
  container.replaceChildren(summary, el("div", { class: "table-wrap" }, el("table", { id: "shards" },
    el("thead", {}, el("tr", {}, ["shard", "status", "rows in", "rows out", "progress"].map((h) => el("th", {}, h)))),
    shards)));
  const response = await api("GET", `/v1/runs/${encodeURIComponent(runId)}/progress`, undefined, { raw: true });
  const reader = response.body.pipeThrough(new TextDecoderStream()).getReader();
  let buffer = "";
  for (;;) {
    const { value, done } = await reader.read();
    if (done) break;
    buffer += value;
    let end;
    while ((end = buffer.indexOf("\n")) >= 0) {
      const line = buffer.slice(0, end).trim();
      buffer = buffer.slice(end + 1);
      if (!line) continue;
      const event = JSON.parse(line);
      if (event.event === "progress") {
        summary.textContent = event.starting ? `Run ${runId}: starting the cluster`
          : `Run ${runId}: ${event.finished} of ${event.instances} shards finished`;
        shards.replaceChildren(...event.shards.map(shardRow));
      } else if (event.event === "end") {
        const status = rowsOf(event.result)[0]?.status ?? "completed";
        summary.replaceChildren(el("span", { class: `badge ${status}`, id: "run-status" }, status),
                                " ", event.result.message);
      } else if (event.event === "error") {
        summary.replaceChildren(`Run ${runId}: `, el("span", { class: "badge error", id: "run-status" }, event.error.status || "error"));
        throw Object.assign(new Error(event.error.message), { detail: event.error });
      }
    }
  }
}

function shardRow(shard) {
  const ended = ["completed", "error", "failed", "killed"].includes(shard.status);
  const fraction = ended ? 1 : shard.total ? shard.done / shard.total : 0;
  const indeterminate = shard.status === "running" && !shard.total;
  const fill = el("span");
  fill.style.width = `${Math.round(fraction * 100)}%`;  // CSSOM: the page's policy forbids style attributes
  const finish = !ended ? "" : shard.status === "completed" ? " done" : " failed";
  const bar = el("div", { class: `bar${indeterminate ? " indeterminate" : ""}${finish}` },
                 fill);
  return el("tr", { "data-shard": shard.shard },
    el("td", {}, String(shard.shard)),
    el("td", {}, el("span", { class: `badge ${shard.status}` }, shard.status)),
    el("td", { class: "number" }, shard.rows_in ?? "–"),
    el("td", { class: "number" }, shard.rows_out ?? "–"),
    el("td", {}, bar));
}

async function showOutput(table, container) {
  if (!table) return;
  const result = await api("POST", tablePath(table, "rows"), { limit: ROWS_SHOWN });
  const columns = columnsOf(result);
  container.replaceChildren(
    el("h3", {}, `Output: ${table}`),
    chart("output", columns, result.rows),
    el("div", { id: "output-rows" }, grid(columns, result.rows)),
    el("p", { class: "message" }, `${result.rows.length} rows shown${result.rows.length === ROWS_SHOWN ? " (the first ones)" : ""}`));
}

// -- tables: browse, filter, download ----------------------------------------------------------

async function loadTables() {
  const list = $("table-list");
  try {
    state.tables = (await api("GET", "/v1/tables")).tables;
    list.replaceChildren(...state.tables.map((t) => el("li", {},
      el("button", { type: "button", "data-table": t.name, class: t.name === state.table ? "active" : null,
                     onclick: () => openTable(t) },
         el("span", { class: "name" }, t.name),
         el("span", { class: "comment" }, `${t.kind}${t.rows === null ? "" : ` · ${t.rows} rows`}`)))));
    if (!state.tables.length) list.replaceChildren(el("li", { class: "hint" }, "No table is granted to you."));
    const source = document.getElementById("input-table");
    if (source) fillSources(source);
  } catch (error) {
    failure(list, error);
  }
}

const OPERATORS = ["=", "!=", "<", "<=", ">", ">=", "contains", "is null", "is not null"];

function openTable(t) {
  state.table = t.name;
  for (const b of document.querySelectorAll("#table-list button")) {
    b.classList.toggle("active", b.dataset.table === t.name);
  }
  const filters = el("div", { class: "filters", id: "filters" });
  const order = el("select", { id: "order-by" }, el("option", { value: "" }, "(as stored)"),
                   t.columns.map((c) => el("option", { value: c.name }, c.name)));
  const descending = el("input", { type: "checkbox", id: "descending" });
  const error = el("p", { class: "error", id: "table-error", role: "alert" });
  const rows = el("div", { id: "table-rows" });
  const pager = el("span", { class: "message", id: "pager" });
  let offset = 0;

  const addFilter = () => {
    const column = el("select", { class: "filter-column" }, t.columns.map((c) => el("option", { value: c.name }, c.name)));
    const op = el("select", { class: "filter-op" }, OPERATORS.map((o) => el("option", { value: o }, o)));
    const value = el("input", { class: "filter-value", placeholder: "value" });
    const row = el("div", { class: "filter" }, column, op, value,
                   el("button", { type: "button", title: "remove", onclick: () => row.remove() }, "✕"));
    op.addEventListener("change", () => { value.disabled = op.value.startsWith("is "); });
    filters.append(row);
  };
  const query = () => ({
    filters: [...filters.querySelectorAll(".filter")].map((f) => ({
      column: f.querySelector(".filter-column").value,
      op: f.querySelector(".filter-op").value,
      value: f.querySelector(".filter-op").value.startsWith("is ") ? null : f.querySelector(".filter-value").value,
    })),
    order_by: order.value || null,
    descending: descending.checked,
  });
  const load = async () => {
    error.textContent = "";
    try {
      const result = await api("POST", tablePath(t.name, "rows"), { ...query(), limit: PAGE_ROWS, offset });
      rows.replaceChildren(grid(columnsOf(result), result.rows));
      pager.textContent = result.rows.length ? `rows ${offset + 1}–${offset + result.rows.length}` : "no rows";
      next.disabled = result.rows.length < PAGE_ROWS;
      previous.disabled = offset === 0;
    } catch (failed) {
      error.textContent = failed.message;
    }
  };
  const download = async (format) => {
    error.textContent = "";
    try {
      const response = await api("POST", tablePath(t.name, "export"), { ...query(), format }, { raw: true });
      const url = URL.createObjectURL(await response.blob());
      const link = el("a", { href: url, download: `${t.name}.${format}` });
      document.body.append(link);
      link.click();
      link.remove();
      setTimeout(() => URL.revokeObjectURL(url), 60_000);
    } catch (failed) {
      error.textContent = failed.message;
    }
  };
  const previous = el("button", { type: "button", id: "previous", onclick: () => { offset = Math.max(0, offset - PAGE_ROWS); load(); } }, "← Previous");
  const next = el("button", { type: "button", id: "next", onclick: () => { offset += PAGE_ROWS; load(); } }, "Next →");

  $("table-detail").replaceChildren(
    el("h2", {}, t.name),
    el("p", { class: "columns" }, t.columns.map((c) => `${c.name} ${c.type}`).join(" · ")),
    el("h3", {}, "Filters"), filters,
    el("div", { class: "buttons" },
       el("button", { type: "button", id: "add-filter", onclick: addFilter }, "Add filter"),
       el("label", { class: "row" }, "Sort by", order),
       el("label", { class: "row" }, descending, "descending"),
       el("button", { type: "button", class: "primary", id: "apply", onclick: () => { offset = 0; load(); } }, "Apply"),
       el("button", { type: "button", id: "download-csv", onclick: () => download("csv") }, "Download CSV"),
       el("button", { type: "button", id: "download-parquet", onclick: () => download("parquet") }, "Download Parquet")),
    error, rows,
    el("div", { class: "buttons" }, previous, next, pager));
  load();
}

// -- runs and the admin's view ----------------------------------------------------------------

async function loadRuns() {
  const container = $("runs");
  try {
    const result = await sql("SHOW FUNCTION STATUS");
    container.replaceChildren(result.rows.length ? runsGrid(result)
      : el("p", { class: "hint" }, "No runs yet."));
  } catch (error) {
    failure(container, error);
  }
}
$("runs-refresh").addEventListener("click", loadRuns);

async function loadAdmin() {
  const parts = [
    ["admin-users", () => sql("SHOW USERS"), (r) => grid(columnsOf(r), r.rows)],
    ["admin-grants", () => api("GET", "/v1/grants"), (r) => grid(columnsOf(r), r.rows)],
    ["admin-runs", () => sql("SHOW FUNCTION STATUS"), runsGrid],
  ];
  await Promise.all(parts.map(async ([id, fetchRows, show]) => {
    try {
      $(id).replaceChildren(show(await fetchRows()));
    } catch (error) {
      failure($(id), error);
    }
  }));
}

begin();
