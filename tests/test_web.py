"""The web page of ``indb serve`` (indb/server/web.py, indb/server/static/), end to end in a real
headless Chromium (Debian's package, driven by Playwright): sign-in, the functions granted and
their forms, a run with live progress, its output as a table and a chart, browsing, filtering and
downloading tables, past runs, the admin's view, signing out. Screenshots of the key steps go to
$INDB_WEB_SCREENSHOTS (or a temporary directory)."""

from __future__ import annotations

import datetime
import os
import shutil
from pathlib import Path

import httpx
import pyarrow as pa
import pyarrow.csv as pa_csv
import pyarrow.parquet as pq
import pytest

import indb
from serving import GATED_FUNCTION, Served

playwright = pytest.importorskip("playwright.sync_api")
CHROMIUM = shutil.which("chromium")
pytestmark = pytest.mark.skipif(CHROMIUM is None, reason="needs Debian's chromium (.ci/run installs it)")

SYMBOLS, DAYS = ("AAA", "BBB", "CCC"), 10
WAIT_MS = 120_000  # the longest a step of the page may take (a run on a loaded machine included)

SCALED = GATED_FUNCTION + """
def scaled(ctx, prices):
    gated(ctx, prices)  # returns once the test has seen the run going and opened the gate
    factor = float(ctx.params["factor"])
    if factor < 0:
        raise ValueError("factor must not be negative")
    return {"sym": prices["sym"].to_pylist(), "day": prices["day"].to_pylist(),
            "px": [px * factor for px in prices["px"].to_pylist()]}
"""


@pytest.fixture(scope="module")
def served(tmp_path_factory):
    """prices (3 symbols x 10 days, 2 shards) and salaries; scaled (exposed, granted to ann) and
    hidden (not granted); ann an analyst, boss an admin, both with passwords."""
    path = tmp_path_factory.mktemp("web") / "db"
    with indb.connect(path) as conn:
        conn.sql("CREATE TABLE prices (sym VARCHAR, day DATE, px DOUBLE, SHARD KEY (sym)) "
                 "WITH (SHARDS = 2)")
        conn.cursor().executemany("INSERT INTO prices VALUES (?, ?, ?)", [
            (sym, datetime.date(2024, 1, 1 + d), 10.0 * (i + 1) + d)
            for i, sym in enumerate(SYMBOLS) for d in range(DAYS)])
        conn.sql("CREATE TABLE salaries AS SELECT 'ann' AS who, 100 AS pay")
        conn.sql("CREATE FUNCTION scaled LANGUAGE PYTHON "
                 "PARAMETERS (factor DOUBLE DEFAULT 2 COMMENT 'what prices are multiplied by', "
                 "gate VARCHAR COMMENT 'a file that must exist', flag BOOLEAN DEFAULT true, "
                 "since DATE DEFAULT '2024-01-02', n INTEGER DEFAULT 3) "
                 f"COMMENT 'scales the prices of each symbol' AS $$\n{SCALED}\n$$")
        conn.sql("CREATE FUNCTION hidden LANGUAGE PYTHON COMMENT 'not for analysts' AS $$\n"
                 "def hidden(ctx, t):\n    return t\n$$")
        for user, role in (("ann", "analyst"), ("boss", "admin")):
            conn.sql(f"CREATE USER {user} PASSWORD '{user}-secret'")
            conn.sql(f"GRANT {role} TO {user}")
        conn.sql("GRANT SELECT ON TABLE prices TO analyst")
        conn.sql("GRANT EXECUTE ON FUNCTION scaled TO ann")
        admin = conn.sql("CREATE TOKEN FOR boss").arrow()["token"][0].as_py()
    server = Served(path)
    server.admin_token = admin
    yield server
    server.stop()


@pytest.fixture(scope="module")
def admin(served):
    """boss's connection to the served database: what the page shows is checked against it."""
    with indb.connect(served.url, token=served.admin_token) as conn:
        yield conn


@pytest.fixture(scope="module")
def browser():
    with playwright.sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM)
        yield browser
        browser.close()


@pytest.fixture(scope="module")
def shots(tmp_path_factory) -> Path:
    where = os.environ.get("INDB_WEB_SCREENSHOTS")
    path = Path(where) if where else tmp_path_factory.mktemp("screenshots")
    path.mkdir(parents=True, exist_ok=True)
    return path


@pytest.fixture
def page(browser, served):
    context = browser.new_context(accept_downloads=True, viewport={"width": 1280, "height": 900})
    context.set_default_timeout(WAIT_MS)
    page = context.new_page()
    page.goto(served.url)
    yield page
    context.close()


@pytest.fixture(scope="module")
def gate(tmp_path_factory) -> Path:
    return tmp_path_factory.mktemp("gate") / "open"


@pytest.fixture(scope="module")
def finished_run(served, gate, tmp_path_factory) -> str:
    """A run of scaled by ann through the API, ended: its id."""
    opened = tmp_path_factory.mktemp("gate") / "opened"
    opened.touch()
    token = _token(served, "ann")
    answer = httpx.post(f"{served.url}/v1/functions/scaled/run", headers=_bearer(token),
                        json={"input_table": "prices", "output_table": "api_out",
                              "params": {"gate": str(opened)}})
    assert answer.status_code == 202, answer.text
    run_id = answer.json()["run_id"]
    ended = httpx.get(f"{served.url}/v1/runs/{run_id}", params={"wait": "true"},
                      headers=_bearer(token), timeout=120)
    assert ended.json()["rows"][0][ended.json()["columns"].index("status")] == "completed"
    return run_id


def _token(served, user: str) -> str:
    answer = httpx.post(f"{served.url}/v1/session", json={"user": user, "password": f"{user}-secret"})
    assert answer.status_code == 200, answer.text
    return answer.json()["token"]


def _bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def sign_in(page, user: str) -> None:
    page.fill("#user", user)
    page.fill("#password", f"{user}-secret")
    page.click("#sign-in-form button[type=submit]")
    page.wait_for_selector(f"#who:has-text('{user}')")
    page.wait_for_selector("#function-list li")


def cells(page, selector: str) -> list[list[str]]:
    """The body cells of the table under ``selector``, as text."""
    return page.eval_on_selector_all(f"{selector} tbody tr",
                                     "rows => rows.map(r => [...r.cells].map(c => c.textContent))")


def headers(page, selector: str) -> list[str]:
    return page.eval_on_selector_all(f"{selector} thead th",
                                     "hs => hs.map(h => h.firstChild.textContent)")


def test_a_wrong_password_is_refused_on_the_page_and_by_the_api(page, served, shots):
    page.fill("#user", "ann")
    page.fill("#password", "not the password")
    page.click("#sign-in-form button[type=submit]")
    page.wait_for_selector("#sign-in-error:has-text('wrong user name or password')")
    page.screenshot(path=shots / "01-sign-in-refused.png")
    assert page.is_hidden("#nav")
    answer = httpx.post(f"{served.url}/v1/session", json={"user": "ann", "password": "nope"})
    assert answer.status_code == 401
    assert answer.json()["error"]["class"] == "AuthenticationError"


def test_an_analyst_sees_only_the_functions_granted_with_their_descriptions(page, served, shots):
    sign_in(page, "ann")
    functions = page.eval_on_selector_all("#function-list button", "bs => bs.map(b => b.dataset.function)")
    assert functions == ["scaled"]  # not hidden
    assert "scales the prices of each symbol" in page.inner_text("#function-list")
    assert page.is_hidden("#admin-tab")
    page.screenshot(path=shots / "02-functions.png")


def test_the_form_is_made_from_the_declared_parameters_with_defaults(page, served, shots):
    sign_in(page, "ann")
    page.click("[data-function=scaled]")
    kinds = {name: page.get_attribute(f"[data-param={name}]", "type")
             for name in ("factor", "gate", "flag", "since", "n")}
    assert kinds == {"factor": "number", "gate": "text", "flag": "checkbox", "since": "date",
                     "n": "number"}
    assert page.input_value("[data-param=factor]") == "2"
    assert page.input_value("[data-param=since]") == "2024-01-02"
    assert page.input_value("[data-param=n]") == "3"
    assert page.input_value("[data-param=gate]") == ""
    assert page.is_checked("[data-param=flag]")
    assert "what prices are multiplied by" in page.inner_text("#function-form")
    # the tables ann may read are offered as the input; salaries (not granted) is not
    options = page.eval_on_selector_all("#input-table option", "os => os.map(o => o.value)")
    assert "prices" in options and "salaries" not in options
    page.screenshot(path=shots / "03-form.png")


def test_a_bad_value_is_refused_naming_the_parameter(page, served, admin, gate, shots):
    sign_in(page, "ann")
    page.click("[data-function=scaled]")
    page.fill("[data-param=gate]", str(gate))
    page.fill("[data-param=n]", "2.5")
    page.fill("#output-table", "refused_out")
    page.click("#run")
    page.wait_for_selector("#run-error:has-text('parameter n')")
    message = page.inner_text("#run-error")
    assert "parameter n is INTEGER" in message and "'2.5'" in message, message
    page.screenshot(path=shots / "04-bad-value.png")
    assert "refused_out" not in [row[0] for row in admin.sql("SHOW TABLES").fetchall()]


def test_a_run_shows_live_progress_then_its_output_as_a_table_and_a_chart(page, served, admin,
                                                                          gate, shots):
    sign_in(page, "ann")
    page.click("[data-function=scaled]")
    page.fill("[data-param=gate]", str(gate))
    page.fill("[data-param=factor]", "3")
    page.fill("#output-table", "scaled_out")
    page.click("#run")
    # the gate is shut: the page shows shards running, from the run's records, as they go
    page.wait_for_selector("#shards tr[data-shard] .badge.running")
    assert page.locator("#shards tr[data-shard]").count() == 2
    assert "completed" not in page.inner_text("#run-summary")
    page.screenshot(path=shots / "05-run-in-progress.png")
    gate.touch()
    page.wait_for_selector("#run-status:has-text('completed')")
    page.wait_for_selector("#output-rows table")
    page.wait_for_selector(".chart[data-chart=line] canvas")
    page.screenshot(path=shots / "06-run-done.png", full_page=True)
    assert cells(page, "#shards").__len__() == 2
    assert all(row[1] == "completed" for row in cells(page, "#shards"))
    shown = cells(page, "#output-rows")
    expected = admin.sql("SELECT sym, day, px FROM scaled_out").fetchall()
    assert len(shown) == len(expected) == len(SYMBOLS) * DAYS
    assert sorted((s, d, float(p)) for s, d, p in shown) == sorted(
        (s, d.isoformat(), p) for s, d, p in expected)
    assert {p for _, _, p in expected} == {3 * px for (px,) in admin.sql("SELECT px FROM prices").fetchall()}
    # the chart drew (Chart.js on the canvas): px by day, a line per symbol, as scaled_out has it
    drawn = page.eval_on_selector(".chart canvas", """c => { const chart = Chart.getChart(c);
        return {type: chart.config.type, labels: chart.data.labels,
                lines: Object.fromEntries(chart.data.datasets.map(d => [d.label, d.data]))}; }""")
    assert drawn["type"] == "line"
    assert drawn["labels"] == sorted({d.isoformat() for _, d, _ in expected})
    assert drawn["lines"] == {sym: [p for s, _, p in sorted(expected, key=lambda r: r[1]) if s == sym]
                              for sym in SYMBOLS}


CHART_CASES = """async () => {
    const { chartConfig } = await import("/web/app.js");  // the page's own module, loaded already
    const drawn = (columns, rows) => {
        const config = chartConfig(columns.map(([name, type]) => ({ name, type })), rows);
        return config && { type: config.type, labels: config.data.labels,
                           series: Object.fromEntries(config.data.datasets.map(d => [d.label, d.data])) };
    };
    return {
        over_time_by_text: drawn([["sym", "VARCHAR"], ["day", "DATE"], ["px", "DOUBLE"]],
                                 [["a", "2024-01-02", 1], ["b", "2024-01-01", 2], ["a", "2024-01-01", 3]]),
        over_time: drawn([["ts", "TIMESTAMP"], ["x", "BIGINT"], ["y", "DECIMAL(9,2)"], ["z", "INTEGER"], ["w", "FLOAT"]],
                         [["2024-01-01 10:00:00", 1, 2.5, 0, 0], ["2024-01-01 09:00:00", 3, 4.5, 0, 0]]),
        by_text: drawn([["sym", "VARCHAR"], ["n", "INTEGER"], ["m", "DOUBLE"]],
                       [["a", 1, 9], ["b", 2, 9], ["a", 3, 9]]),
        no_number: drawn([["sym", "VARCHAR"], ["day", "DATE"]], [["a", "2024-01-01"], ["b", "2024-01-02"]]),
        numbers_alone: drawn([["x", "BIGINT"], ["y", "DOUBLE"]], [[1, 2], [3, 4]]),
        one_row: drawn([["sym", "VARCHAR"], ["n", "INTEGER"]], [["a", 1]]),
    };
}"""


def test_the_chart_rule(page):
    """docs/server.md's rule, on the page's own code: lines over time (a line per category, or
    per numeric column), else bars summed by category, else no chart."""
    charts = page.evaluate(CHART_CASES)
    assert charts["over_time_by_text"] == {"type": "line", "labels": ["2024-01-01", "2024-01-02"],
                                           "series": {"a": [3, 1], "b": [2, None]}}
    assert charts["over_time"] == {"type": "line",
                                   "labels": ["2024-01-01 09:00:00", "2024-01-01 10:00:00"],
                                   "series": {"x": [3, 1], "y": [4.5, 2.5], "z": [0, 0]}}
    assert charts["by_text"] == {"type": "bar", "labels": ["a", "b"], "series": {"sum of n": [4, 2]}}
    assert charts["no_number"] is None and charts["numbers_alone"] is None
    assert charts["one_row"] is None


def test_a_failed_run_shows_its_error_and_writes_nothing(page, served, admin, tmp_path, shots):
    opened = tmp_path / "opened"
    opened.touch()
    sign_in(page, "ann")
    page.click("[data-function=scaled]")
    page.fill("[data-param=gate]", str(opened))
    page.fill("[data-param=factor]", "-1")
    page.fill("#output-table", "failed_out")
    page.click("#run")
    page.wait_for_selector("#run-status.error")
    page.wait_for_selector("#run-error:not(:empty)")
    assert "factor must not be negative" in page.inner_text("#run-error")
    page.screenshot(path=shots / "06b-run-failed.png")
    assert page.is_hidden("#output-rows")
    assert "failed_out" not in [row[0] for row in admin.sql("SHOW TABLES").fetchall()]


def test_the_input_table_choices_follow_a_table_list_that_arrives_late(page, served):
    """A form opened before the table list has come gets its choices (and the first table)
    when it comes; a table the user picked meanwhile stays picked."""
    held: list = []
    page.route("**/v1/tables", lambda route: held.append(route))  # held back until let go
    with page.expect_request("**/v1/tables"):
        sign_in(page, "ann")
    page.click("[data-function=scaled]")
    options = "os => os.map(o => o.value)"
    assert page.eval_on_selector_all("#input-table option", options) == [""]
    held.pop().continue_()
    page.wait_for_selector("#input-table option[value=prices]", state="attached")
    assert page.input_value("#input-table") == "prices"
    page.select_option("#input-table", "")  # picked: (none), which a later list leaves alone
    page.eval_on_selector_all("#table-list button", "bs => bs.forEach(b => b.dataset.old = 'yes')")
    with page.expect_request("**/v1/tables"):
        page.click("#nav [data-view=tables]")  # the tables view loads the list again
    held.pop().continue_()
    page.wait_for_selector("#table-list [data-table=prices]:not([data-old])", state="attached")
    assert page.input_value("#input-table") == ""


def test_tables_are_browsed_filtered_and_downloaded_as_csv_and_parquet(page, served, admin, shots):
    sign_in(page, "ann")
    page.click("#nav [data-view=tables]")
    page.wait_for_selector("[data-table=prices]")
    listed = page.eval_on_selector_all("#table-list button", "bs => bs.map(b => b.dataset.table)")
    assert "prices" in listed and "salaries" not in listed
    page.click("[data-table=prices]")
    page.wait_for_selector("#table-rows table")
    assert len(cells(page, "#table-rows")) == len(SYMBOLS) * DAYS
    page.click("#add-filter")
    page.select_option(".filter-column", "sym")
    page.select_option(".filter-op", "=")
    page.fill(".filter-value", "BBB")
    page.click("#add-filter")
    page.locator(".filter-column").nth(1).select_option("px")
    page.locator(".filter-op").nth(1).select_option(">=")
    page.locator(".filter-value").nth(1).fill("23")
    page.select_option("#order-by", "day")
    page.click("#apply")
    page.wait_for_selector("#pager:has-text('rows 1–7')")
    page.screenshot(path=shots / "07-table-filtered.png")
    expected = admin.sql("SELECT * FROM prices WHERE sym = 'BBB' AND px >= 23 ORDER BY day").arrow()
    assert expected.num_rows == 7
    shown = cells(page, "#table-rows")
    assert headers(page, "#table-rows") == ["sym", "day", "px"]
    assert [(s, d, float(p)) for s, d, p in shown] == [
        (r["sym"], r["day"].isoformat(), r["px"]) for r in expected.to_pylist()]

    with page.expect_download() as csv_download:
        page.click("#download-csv")
    assert csv_download.value.suggested_filename == "prices.csv"
    csv = pa_csv.read_csv(csv_download.value.path(), convert_options=pa_csv.ConvertOptions(
        column_types=expected.schema))
    assert csv.equals(expected)
    with page.expect_download() as parquet_download:
        page.click("#download-parquet")
    assert parquet_download.value.suggested_filename == "prices.parquet"
    parquet = pq.read_table(parquet_download.value.path())
    assert parquet.equals(expected)


def test_downloads_and_rows_go_through_the_privilege_check(served):
    token = _token(served, "ann")
    for path, body in (("rows", {}), ("export", {"format": "parquet"})):
        answer = httpx.post(f"{served.url}/v1/tables/salaries/{path}", json=body,
                            headers=_bearer(token))
        assert answer.status_code == 403 and "salaries" in answer.json()["error"]["message"]
    # a filter's column is one quoted name, and its value a bound parameter, whatever they hold
    answer = httpx.post(f"{served.url}/v1/tables/prices/rows", headers=_bearer(token), json={
        "filters": [{"column": "sym", "op": "=", "value": "x' OR '1'='1"}]})
    assert answer.status_code == 200 and answer.json()["rows"] == []
    answer = httpx.post(f"{served.url}/v1/tables/prices/rows", headers=_bearer(token), json={
        "filters": [{"column": 'sym" FROM salaries --', "op": "=", "value": "x"}]})
    assert answer.status_code == 400


def test_past_runs_are_listed_with_their_status(page, served, finished_run, shots):
    sign_in(page, "ann")
    page.click("#nav [data-view=runs]")
    page.wait_for_selector(f"#runs td:has-text('{finished_run}')")
    columns = headers(page, "#runs")
    row = next(r for r in cells(page, "#runs") if finished_run in r)
    assert row[columns.index("status")] == "completed"
    assert {r[columns.index("user")] for r in cells(page, "#runs")} == {"ann"}
    page.screenshot(path=shots / "08-runs.png")


def test_the_admin_view_is_for_admins_only(page, served, finished_run, shots):
    token = _token(served, "ann")
    assert httpx.get(f"{served.url}/v1/grants", headers=_bearer(token)).status_code == 403
    sign_in(page, "boss")
    page.click("#admin-tab")
    page.wait_for_selector("#admin-users table")
    page.wait_for_selector("#admin-grants table")
    page.wait_for_selector(f"#admin-runs td:has-text('{finished_run}')")
    users = [row[0] for row in cells(page, "#admin-users")]
    assert {"ann", "boss", "owner"} <= set(users)
    grants = [row[:4] for row in cells(page, "#admin-grants")]
    assert ["ann", "EXECUTE", "function", "scaled"] in grants
    assert ["analyst", "SELECT", "table", "prices"] in grants
    columns = headers(page, "#admin-runs")
    run = next(r for r in cells(page, "#admin-runs") if finished_run in r)
    assert run[columns.index("user")] == "ann"
    page.screenshot(path=shots / "09-admin.png", full_page=True)


def test_an_api_token_signs_in_and_signing_out_revokes_the_session(page, served, shots):
    page.fill("#token", served.admin_token)
    page.click("#token-form button[type=submit]")
    page.wait_for_selector("#who:has-text('boss')")
    assert page.is_visible("#admin-tab")
    page.click("#sign-out")
    page.wait_for_selector("#sign-in-form")
    # a pasted API token is only forgotten by the page, never revoked; the API refuses to
    assert httpx.get(f"{served.url}/v1/session", headers=_bearer(served.admin_token)).status_code == 200
    refused = httpx.delete(f"{served.url}/v1/session", headers=_bearer(served.admin_token))
    assert refused.status_code == 400 and "REVOKE TOKEN" in refused.json()["error"]["message"]
    assert httpx.get(f"{served.url}/v1/session", headers=_bearer(served.admin_token)).status_code == 200

    sign_in(page, "ann")
    token = page.evaluate("sessionStorage.getItem('indb.token')")
    assert httpx.get(f"{served.url}/v1/session", headers=_bearer(token)).json()["user"] == "ann"
    page.click("[data-function=scaled]")
    page.click("#sign-out")
    page.wait_for_selector("#sign-in-form")
    page.screenshot(path=shots / "10-signed-out.png")
    assert page.is_hidden("#nav")
    assert page.locator("#function-form, #function-list li").count() == 0  # nothing left for the next user
    answer = httpx.get(f"{served.url}/v1/session", headers=_bearer(token))
    assert answer.status_code == 401 and "revoked" in answer.json()["error"]["message"]


def test_a_token_revoked_meanwhile_brings_the_sign_in_back(page, served, admin):
    sign_in(page, "ann")
    token = page.evaluate("sessionStorage.getItem('indb.token')")
    admin.sql(f"REVOKE TOKEN '{token.split('_')[1]}'")
    page.click("#nav [data-view=tables]")
    page.wait_for_selector("#sign-in-error:has-text('revoked')")
    assert page.is_visible("#sign-in-form") and page.is_hidden("#nav")


def test_the_page_and_its_files_come_from_the_server_alone(served):
    page = httpx.get(served.url)
    assert page.status_code == 200 and "default-src 'self'" in page.headers["content-security-policy"]
    for asset in ("/web/app.js", "/web/app.css", "/web/vendor/chart.umd.min.js"):
        assert httpx.get(f"{served.url}{asset}").status_code == 200
    assert "http" not in page.text.replace("http-equiv", "")  # nothing fetched from elsewhere


def test_a_loopback_server_without_users_opens_as_the_owner(browser, tmp_path):
    with indb.connect(tmp_path / "db") as conn:
        conn.sql("CREATE TABLE t AS SELECT 1 AS x")
    server = Served(tmp_path / "db")
    try:
        context = browser.new_context()
        page = context.new_page()
        page.goto(server.url)
        page.wait_for_selector("#who:has-text('owner')")
        assert page.is_visible("#admin-tab") and page.is_hidden("#sign-out")  # no token to revoke
        page.click("#nav [data-view=tables]")
        page.wait_for_selector("[data-table=t]")
        context.close()
    finally:
        server.stop()
