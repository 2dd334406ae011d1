"""SQL procedures: the grammar (and goldens in tests/golden/procedure_*.sql), the plans and the
schedule arithmetic, and the statements on a real database: executions recorded, bodies run
with their definer's rights, due times claimed once."""

import threading

import pytest

import indb
from indb import planner
from indb.cli.prompt import complete
from indb.engine import procedures as running
from indb.errors import CatalogError, PrivilegeError, RunError, SqlError
from indb.parser import parse, render_indb, split
from indb.parser.procedures import CreateProcedure
from indb.planner import procedures as plans
from indb.registry.procedures import ProcedureStore
from serving import create_gated, execute_gated

HOUR = 3600.0
START = 1798761600.0  # 2027-01-01 00:00:00 UTC


def plan_of(sql):
    (tree,) = parse(sql)
    return planner.plan(tree, None)


# -- the grammar ------------------------------------------------------------------------------

def test_the_body_is_parsed_statement_by_statement_and_kept_as_typed():
    sql = """CREATE OR REPLACE PROCEDURE p BEGIN
      SELECT CASE WHEN x = 1 THEN 'a;b' END AS y FROM t;  -- a comment; with a semicolon
      INSERT INTO t VALUES (1);;
      EXECUTE FUNCTION f(PARAMS => KV_PAIRS(a = 'x;y'))
    END EXECUTE FOR EVERY 2 hours STARTING AT '2027-01-01 00:00' STOP AFTER 1 DAY; SELECT 2"""
    create, after = parse(sql)
    assert isinstance(create, CreateProcedure) and render_indb(after) == "SELECT 2"
    assert [type(s).__name__ for s in create.expressions] == ["Select", "Insert", "ExecuteFunction"]
    assert [t.name for t in create.args["texts"]] == [
        "SELECT CASE WHEN x = 1 THEN 'a;b' END AS y FROM t", "INSERT INTO t VALUES (1)",
        "EXECUTE FUNCTION f(PARAMS => KV_PAIRS(a = 'x;y'))"]
    assert render_indb(create).endswith("END EXECUTE FOR EVERY 2 HOURS STARTING AT "
                                        "'2027-01-01 00:00' STOP AFTER 1 DAY")
    assert parse(render_indb(create))[0] == create  # the DDL SHOW PROCEDURE gives reads back


def test_a_syntax_error_in_the_body_is_reported_at_create_where_it_was_typed():
    with pytest.raises(SqlError) as caught:
        parse("CREATE PROCEDURE p BEGIN\n  SELECT 1;\n  SELEC 2;\nEND")
    assert (caught.value.line, caught.value.col) == (3, 9)


@pytest.mark.parametrize("sql, words", [
    ("CREATE PROCEDURE p BEGIN SELECT 1;", "has no END"),
    ("CREATE PROCEDURE p SELECT 1", "expected BEGIN"),
    ("CREATE PROCEDURE p BEGIN SELECT 1; END EXECUTE FOR EVERY 2 WEEKS", "a number and a unit"),
    ("CREATE PROCEDURE p BEGIN SELECT 1; END EXECUTE FOR EVERY 1 HOUR STARTING AT 5", "in quotes"),
    ("CREATE PROCEDURE p BEGIN SELECT 1; END NOW", "unexpected NOW after the procedure's END"),
    ("CREATE PROCEDURE p (x INT) BEGIN SELECT 1; END", "takes no parameters"),
    ("CREATE PROCEDURE s.p BEGIN SELECT 1; END", "no schema"),
    ("CREATE PROCEDURE p LANGUAGE PYTHON BEGIN SELECT 1; END", "written in SQL"),
])
def test_malformed_procedures_are_refused_saying_what_is_wrong(sql, words):
    with pytest.raises(SqlError, match=words):
        parse(sql)


def test_split_keeps_a_body_whole():
    body = "CREATE PROCEDURE p BEGIN SELECT CASE WHEN 1 = 1 THEN 2 END; SELECT 3; END;"
    assert split(f"SELECT 1; {body} SELECT 4") == ["SELECT 1;", body, "SELECT 4"]
    assert split("CREATE TABLE procedure_log (x INT); SELECT 1") == [
        "CREATE TABLE procedure_log (x INT);", "SELECT 1"]
    # the prompt reads on until END;
    assert not complete("CREATE PROCEDURE p BEGIN\n  SELECT 1;")
    assert complete("CREATE PROCEDURE p BEGIN\n  SELECT 1;\nEND;")


def test_kinetica_s_short_forms():
    assert render_indb(parse("EXEC PROCEDURE p()")[0]) == "EXECUTE PROCEDURE p"
    assert render_indb(parse("show procedure *")[0]) == "SHOW PROCEDURE *"
    assert parse("EXECUTE FUNCTION f()")[0].key == "executefunction"  # still a function run


# -- plans and schedules ----------------------------------------------------------------------

def test_a_schedule_is_planned_in_seconds_and_utc():
    plan = plan_of("CREATE PROCEDURE nightly BEGIN SELECT 1; END EXECUTE FOR EVERY 1.5 MINUTES "
                   "STARTING AT '2027-01-01 01:00:00+01:00' STOP AFTER '2027-01-02'")
    assert (plan.every, plan.start, plan.stop_at, plan.stop_after) == (90.0, START, START + 24 * HOUR,
                                                                         None)
    assert plan.statements == ("SELECT 1",) and not plan.replace
    on_demand = plan_of("CREATE OR REPLACE PROCEDURE p BEGIN SELECT 1; END")
    assert on_demand.every is None and on_demand.replace
    assert plan_of("CREATE PROCEDURE p BEGIN SELECT 1; END EXECUTE FOR EVERY 1 DAY "
                   "STOP AFTER 3 DAYS").stop_after == 3 * 24 * HOUR


@pytest.mark.parametrize("sql, words", [
    ("CREATE PROCEDURE p BEGIN EXECUTE PROCEDURE P; END", "procedure p executes itself"),
    ("CREATE PROCEDURE p BEGIN DROP PROCEDURE q; END", "cannot create or drop procedures"),
    ("CREATE PROCEDURE p BEGIN CREATE PROCEDURE q BEGIN SELECT 1; END; END",
     "cannot create or drop procedures"),
    ("CREATE PROCEDURE p BEGIN ATTACH 'x.db'; END", "ATTACH statements are not supported"),
    ("CREATE PROCEDURE p BEGIN SELECT 1; END EXECUTE FOR EVERY 0 HOURS", "positive"),
    ("CREATE PROCEDURE p BEGIN SELECT 1; END EXECUTE FOR EVERY 1 HOUR STARTING AT '2027-01-02' "
     "STOP AFTER '2027-01-01'", "before STARTING AT"),
    ("CREATE PROCEDURE p BEGIN SELECT 1; END EXECUTE FOR EVERY 1 HOUR STARTING AT 'soon'",
     "takes a timestamp"),
    ("CREATE PROCEDURE _indb_p BEGIN SELECT 1; END", "reserved"),
])
def test_plans_refuse_what_cannot_run(sql, words):
    with pytest.raises(SqlError, match=words):
        plan_of(sql)


def test_due_is_the_latest_due_time_passed_and_not_claimed():
    assert plans.due(START, HOUR, None, None, START - 1) is None          # not yet
    assert plans.due(START, HOUR, None, None, START) == START              # at once
    assert plans.due(START, HOUR, None, START, START + 0.5 * HOUR) is None  # claimed already
    assert plans.due(START, HOUR, None, START, START + HOUR) == START + HOUR
    # down for five hours: one run, for the latest due time
    assert plans.due(START, HOUR, None, START, START + 5.5 * HOUR) == START + 5 * HOUR
    # a stop: nothing after it, however late
    assert plans.due(START, HOUR, START + 2.5 * HOUR, None, START + 9 * HOUR) == START + 2 * HOUR
    assert plans.due(START, HOUR, START + 2.5 * HOUR, START + 2 * HOUR, START + 9 * HOUR) is None
    # a tenth of a second, ten thousand times: no float drift skips or repeats one
    claimed = [plans.due(START, 0.1, None, None, START + k * 0.1) for k in range(10000)]
    assert len(set(claimed)) == 10000


def test_next_due_follows_the_last_claimed():
    assert plans.next_due(START, HOUR, None, None) == START
    assert plans.next_due(START, HOUR, None, START + 5 * HOUR) == START + 6 * HOUR
    assert plans.next_due(START, HOUR, START + 5.5 * HOUR, START + 5 * HOUR) is None  # ended
    assert plans.stop_time(START, None, 2 * HOUR) == START + 2 * HOUR
    assert plans.stop_time(START, START + HOUR, None) == START + HOUR


# -- on a database ----------------------------------------------------------------------------

@pytest.fixture
def db(tmp_path):
    conn = indb.connect(tmp_path / "db", cluster="threads", workers=1, default_shards=2)
    conn.sql("CREATE TABLE log (n INTEGER)")
    yield conn
    conn.close()


def runs_of(conn, name):
    status = conn.sql("SHOW FUNCTION STATUS").arrow().to_pylist()
    return [r for r in status if r["FUNCTION_NAME"] == name]


def count(conn, table="log"):
    return conn.sql(f"SELECT count(*) FROM {table}").fetchone()[0]


def test_execute_runs_the_statements_in_order_and_records_the_run(db):
    assert "on demand" in db.sql("CREATE PROCEDURE grow BEGIN INSERT INTO log VALUES (1); "
                                 "INSERT INTO log SELECT max(n) + 1 FROM log; END").message
    result = db.sql("EXECUTE PROCEDURE grow")
    assert result.fetchall()[0][1:] == ("completed", 2) and "completed: 2 statements" in result.message
    assert sorted(db.sql("SELECT n FROM log").fetchall()) == [(1,), (2,)]
    (run,) = runs_of(db, "grow")
    assert (run["OVERALL_STATUS"], run["tag"], run["user"]) == ("complete", "on demand", "owner")
    db.sql("CREATE OR REPLACE PROCEDURE grow BEGIN INSERT INTO log VALUES (7); "
           "SELECT max(n) AS top FROM log; END")
    assert db.sql("EXEC PROCEDURE grow").fetchall() == [(7,)]  # the last statement's rows
    ddl = db.sql("SHOW PROCEDURE grow").arrow()["ddl"][0].as_py()
    assert "INSERT INTO log VALUES (7)" in ddl and "SELECT max(n)" in ddl


def test_the_first_failing_statement_stops_the_run_and_its_status_says_which(db):
    db.sql("CREATE PROCEDURE broken BEGIN INSERT INTO log VALUES (1); SELECT * FROM missing; "
           "INSERT INTO log VALUES (2); END")
    with pytest.raises(SqlError, match="missing does not exist"):
        db.sql("EXECUTE PROCEDURE broken")
    assert db.sql("SELECT n FROM log").fetchall() == [(1,)]  # before it stays, after never ran
    (run,) = runs_of(db, "broken")
    assert run["OVERALL_STATUS"] == "error" and run["message"].startswith(
        "statement 2 of 3 failed: SqlError")


def test_a_body_executes_other_procedures_each_recorded_as_its_own_run(db):
    db.sql("CREATE PROCEDURE step BEGIN INSERT INTO log SELECT coalesce(max(n), 0) + 1 FROM log; "
           "END")
    db.sql("CREATE PROCEDURE three BEGIN EXECUTE PROCEDURE step; EXEC PROCEDURE step; "
           "EXECUTE PROCEDURE step; SELECT max(n) AS top FROM log; END")
    assert db.sql("EXECUTE PROCEDURE three").fetchall() == [(3,)]
    assert sorted(db.sql("SELECT n FROM log").fetchall()) == [(1,), (2,), (3,)]
    assert [r["OVERALL_STATUS"] for r in runs_of(db, "step")] == ["complete"] * 3
    (outer,) = runs_of(db, "three")
    assert outer["OVERALL_STATUS"] == "complete" and "4 statements" in outer["message"]


def test_procedures_that_execute_each_other_in_a_circle_are_stopped_before_they_begin(db):
    db.sql("CREATE PROCEDURE ping BEGIN INSERT INTO log VALUES (1); EXECUTE PROCEDURE pong; END")
    db.sql("CREATE PROCEDURE pong BEGIN SELECT 1; END")
    db.sql("CREATE OR REPLACE PROCEDURE pong BEGIN EXECUTE PROCEDURE ping; END")  # a circle now
    with pytest.raises(CatalogError, match=r"ping executes itself through another "
                                           r"\(ping -> pong -> ping\)"):
        db.sql("EXECUTE PROCEDURE ping")
    assert count(db) == 1  # ping's first statement ran once; the second ping never began
    assert [r["OVERALL_STATUS"] for r in runs_of(db, "ping")] == ["error"]
    (pong,) = runs_of(db, "pong")
    assert pong["message"].startswith("statement 1 of 1 failed: CatalogError")
    db.sql("CREATE OR REPLACE PROCEDURE pong BEGIN SELECT 2 AS two; END")  # the way out
    result = db.sql("EXECUTE PROCEDURE ping")  # its own run's row, not pong's
    assert result.fetchall()[0][1:] == ("completed", 2) and result.message.startswith(
        "procedure ping completed: 2 statements")


def test_create_drop_and_show(db):
    db.sql("CREATE PROCEDURE p BEGIN SELECT 1; END EXECUTE FOR EVERY 1 HOUR "
           "STARTING AT '2027-01-01'")
    with pytest.raises(CatalogError, match="already exists"):
        db.sql("CREATE PROCEDURE p BEGIN SELECT 2; END")
    (row,) = db.sql("SHOW PROCEDURES").arrow().to_pylist()
    assert (row["name"], row["definer"], row["next_due"]) == ("p", "owner", "2027-01-01 00:00:00 UTC")
    assert "every 3600 s from 2027-01-01 00:00:00 UTC" in row["schedule"]
    assert db.sql("DROP PROCEDURE p").message == "dropped procedure p"
    assert db.sql("DROP PROCEDURE IF EXISTS p").message == "procedure p does not exist"
    with pytest.raises(CatalogError, match="procedure p does not exist"):
        db.sql("EXECUTE PROCEDURE p")
    assert db.sql("SHOW PROCEDURE *").arrow().num_rows == 0


# -- privileges -------------------------------------------------------------------------------

def as_user(conn, user, sql):
    with conn._engine.as_user(user):
        return conn.sql(sql)


@pytest.fixture
def users(db):
    for sql in ["CREATE USER dev", "CREATE USER ann", "GRANT developer TO dev",
                "GRANT analyst TO ann", "GRANT SELECT, INSERT ON TABLE log TO dev"]:
        db.sql(sql)
    return db


def test_the_body_runs_with_its_definer_s_rights(users):
    db = users
    with pytest.raises(PrivilegeError, match="developer role"):
        as_user(db, "ann", "CREATE PROCEDURE mine BEGIN SELECT 1; END")
    as_user(db, "dev", "CREATE PROCEDURE fill BEGIN INSERT INTO log VALUES (1); END")
    with pytest.raises(PrivilegeError, match="EXECUTE"):
        as_user(db, "ann", "EXECUTE PROCEDURE fill")
    assert as_user(db, "ann", "SHOW PROCEDURES").arrow().num_rows == 0  # none she may execute
    with pytest.raises(PrivilegeError, match="owner of procedure fill"):
        as_user(db, "ann", "GRANT EXECUTE ON PROCEDURE fill TO ann")
    as_user(db, "dev", "GRANT EXECUTE ON PROCEDURE fill TO ann")
    as_user(db, "ann", "EXECUTE PROCEDURE fill")  # ann may not INSERT INTO log; dev may
    assert count(db) == 1
    assert [r["user"] for r in runs_of(db, "fill")] == ["ann"]  # who ran it, seen by her
    assert as_user(db, "ann", "SHOW PROCEDURES").arrow()["name"].to_pylist() == ["fill"]
    with pytest.raises(PrivilegeError, match="owner of procedure fill"):
        as_user(db, "ann", "DROP PROCEDURE fill")
    with pytest.raises(PrivilegeError, match="owner of procedure fill"):  # nor replace it
        db.sql("GRANT developer TO ann")
        as_user(db, "ann", "CREATE OR REPLACE PROCEDURE fill BEGIN SELECT 1; END")
    db.sql("REVOKE developer FROM ann")

    db.sql("REVOKE INSERT ON TABLE log FROM dev")  # the definer loses a grant
    with pytest.raises(PrivilegeError, match="INSERT privilege"):
        as_user(db, "ann", "EXECUTE PROCEDURE fill")
    assert count(db) == 1
    latest = runs_of(db, "fill")[0]
    assert latest["OVERALL_STATUS"] == "error" and "PrivilegeError" in latest["message"]


def test_a_procedure_a_body_executes_runs_with_its_own_definer_s_rights(users):
    db = users
    as_user(db, "dev", "CREATE PROCEDURE fill BEGIN INSERT INTO log VALUES (1); END")
    db.sql("GRANT developer TO ann")  # ann defines one that executes dev's
    as_user(db, "ann", "CREATE PROCEDURE twice BEGIN EXECUTE PROCEDURE fill; "
                       "EXECUTE PROCEDURE fill; END")
    with pytest.raises(PrivilegeError, match="EXECUTE"):  # her body needs EXECUTE on fill
        as_user(db, "ann", "EXECUTE PROCEDURE twice")
    as_user(db, "dev", "GRANT EXECUTE ON PROCEDURE fill TO ann")
    as_user(db, "ann", "EXECUTE PROCEDURE twice")  # ann may not INSERT INTO log; dev may
    assert count(db) == 2
    assert [r["user"] for r in runs_of(db, "fill")] == ["ann", "ann"]  # run for twice's definer


def test_a_dropped_definer_s_procedure_runs_no_more(users):
    db = users
    as_user(db, "dev", "CREATE PROCEDURE fill BEGIN INSERT INTO log VALUES (1); END")
    db.sql("DROP USER dev")
    with pytest.raises(PrivilegeError, match="user dev does not exist"):
        db.sql("EXECUTE PROCEDURE fill")  # not even as the database's owner: it runs as dev
    assert count(db) == 0
    assert db.sql("DROP PROCEDURE fill").message == "dropped procedure fill"  # admins clean up


# -- due times ---------------------------------------------------------------------------------

def scheduled(conn, every="1 HOUR", stop=""):
    conn.sql(f"CREATE PROCEDURE tick BEGIN INSERT INTO log VALUES (1); END EXECUTE FOR EVERY "
             f"{every} STARTING AT '2027-01-01 00:00:00' {stop}")


def test_run_due_claims_each_due_time_once_and_catches_up_with_one_run(db):
    scheduled(db)
    engine = db._engine
    assert running.run_due(engine, START - 10) == START  # nothing yet; when the first is due
    assert count(db) == 0
    assert running.run_due(engine, START + 1) == START + HOUR
    assert running.run_due(engine, START + 2) == START + HOUR  # the same due time: no second run
    assert count(db) == 1
    assert running.run_due(engine, START + 5.5 * HOUR) == START + 6 * HOUR  # five missed: one run
    assert count(db) == 2
    tags = [r["tag"] for r in runs_of(db, "tick")]
    assert tags == ["due 2027-01-01 05:00:00 UTC", "due 2027-01-01 00:00:00 UTC"]


def test_a_due_time_is_claimed_by_one_of_two_processes_and_survives_a_restart(tmp_path):
    db = indb.connect(tmp_path / "db", cluster="threads", workers=1)
    db.sql("CREATE TABLE log (n INTEGER)")
    scheduled(db, stop="STOP AFTER 3 HOURS")
    other = indb.connect(tmp_path / "db", cluster="threads", workers=1)
    try:
        running.run_due(other._engine, START + 1)
        running.run_due(db._engine, START + 1)
        assert count(db) == 1
        info = ProcedureStore(db._engine.db).get("tick")
        assert not ProcedureStore(other._engine.db).claim("tick", info.version, None, START)
    finally:
        other.close()
    db.close()  # a restart: what was claimed is in the catalog
    again = indb.connect(tmp_path / "db", cluster="threads", workers=1)
    try:
        assert running.run_due(again._engine, START + 2) == START + HOUR
        assert count(again) == 1
        assert running.run_due(again._engine, START + 10 * HOUR) is None  # past its stop: ended
        assert count(again) == 2
        assert ProcedureStore(again._engine.db).get("tick").last_due == START + 3 * HOUR
    finally:
        again.close()


def test_replacing_a_procedure_restarts_its_schedule(db):
    scheduled(db)
    running.run_due(db._engine, START + 1)
    db.sql("CREATE OR REPLACE PROCEDURE tick BEGIN INSERT INTO log VALUES (2); END "
           "EXECUTE FOR EVERY 1 DAY STARTING AT '2027-01-01 00:00:00'")
    assert running.run_due(db._engine, START + 2) == START + 24 * HOUR  # its due time, unclaimed
    assert sorted(db.sql("SELECT n FROM log").fetchall()) == [(1,), (2,)]


def test_kill_function_stops_a_procedure_before_its_next_statement(tmp_path):
    path = tmp_path / "db"
    gate = tmp_path / "gate"
    conn = indb.connect(path, cluster="threads", workers=1, default_shards=2)
    other = indb.connect(path, cluster="threads", workers=1)
    try:
        conn.sql("CREATE TABLE log (n INTEGER)")
        conn.sql("CREATE TABLE nums AS SELECT range AS x FROM range(10)")
        create_gated(conn)
        conn.sql(f"CREATE PROCEDURE slow BEGIN {execute_gated('nums', 'gated_out', gate)}; "
                 "INSERT INTO log VALUES (1); END")
        started, outcome = threading.Event(), {}
        conn.progress = lambda progress: started.set()  # the gated function run has begun

        def execute() -> None:
            try:
                conn.sql("EXECUTE PROCEDURE slow")
            except indb.Error as error:
                outcome["error"] = error

        thread = threading.Thread(target=execute)
        thread.start()
        assert started.wait(60)
        (run,) = [r for r in runs_of(other, "slow") if r["status"] == "running"]
        other.sql(f"KILL FUNCTION '{run['RUN_ID']}'")
        gate.touch()  # the function run ends; the procedure must not go on to its INSERT
        thread.join(60)
        assert isinstance(outcome.get("error"), RunError) and "before statement 2 of 2" in str(
            outcome["error"])
        assert count(other) == 0 and count(other, "gated_out") == 2  # the run before it stays
        (run,) = runs_of(other, "slow")
        assert run["OVERALL_STATUS"] == "killed"
    finally:
        gate.touch()
        other.close()
        conn.close()


def test_a_scheduled_run_is_a_session_whose_temporary_tables_go_with_it(db):
    db.sql("CREATE PROCEDURE staged BEGIN CREATE TEMP TABLE stage AS SELECT 7 AS n; "
           "INSERT INTO log SELECT n FROM stage; END EXECUTE FOR EVERY 1 HOUR "
           "STARTING AT '2027-01-01 00:00:00'")
    engine = db._engine
    engine.temporaries = None  # as a server's pooled connection, which has no session
    running.run_due(engine, START + 1)
    assert db.sql("SELECT n FROM log").fetchall() == [(7,)]
    assert [n for (n, _) in db.sql("SHOW SCHEMAS").fetchall()] == ["main"]  # dropped after
