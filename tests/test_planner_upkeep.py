"""Plans of the upkeep statements (UPDATE, MERGE, ALTER TABLE, views, COPY, EXPLAIN, time travel,
VACUUM, OPTIMIZE), made without DuckDB or Iceberg: what they decide and what they refuse."""

import datetime

import pytest
from sqlglot import exp

from indb import planner
from indb.errors import CatalogError, SqlError
from indb.parser import parse, render
from indb.planner.alter import AddColumn, DropColumn, RenameColumn, SetShards, SetType
from indb.planner.upkeep import Action, Match, plan_lines
from indb.registry.models import ModelInfo


class Catalog:
    default_shards = 8

    def exists(self, name: str) -> bool:
        return name in ("ticks", "quotes")

    def function(self, name: str) -> None:
        return None

    def model(self, name: str, version: object) -> ModelInfo:
        return ModelInfo(name, 3, "torch", "m.pt2", (2,), "float32", "class", 2)


def plan(sql: str) -> planner.Plan:
    (tree,) = parse(sql)
    return planner.plan(tree, Catalog())


def refused(sql: str, message: str, error: type[Exception] = SqlError) -> Exception:
    with pytest.raises(error, match=message) as caught:
        plan(sql)
    return caught.value


# -- UPDATE and MERGE ---------------------------------------------------------------------------

def test_update_is_one_matched_clause_filtered_by_where():
    p = plan("UPDATE ticks AS t SET px = px * 2, size = 0 WHERE sym = 'A'")
    assert isinstance(p, planner.Update) and (p.table, p.target, p.source) == ("ticks", "t", None)
    (clause,) = p.clauses
    assert (clause.match, clause.action) == (Match.MATCHED, Action.UPDATE)
    assert [c.name for c in clause.columns] == ["px", "size"]
    assert [render(v) for v in clause.values] == ["px * 2", "0"]
    assert render(clause.condition) == "sym = 'A'"


def test_update_from_joins_on_its_where():
    p = plan("UPDATE ticks SET px = q.px FROM quotes AS q WHERE ticks.sym = q.sym")
    assert render(p.source) == "quotes AS q" and render(p.on) == "ticks.sym = q.sym"
    assert p.clauses[0].condition is None


def test_parameters_are_numbered_in_the_order_they_are_written():
    # the engine's query puts the WHEN values before the USING source and the ON condition
    p = plan("MERGE INTO ticks USING (SELECT * FROM quotes WHERE px > ?) AS q ON ticks.sym = q.sym "
             "AND ticks.px < ? WHEN MATCHED AND q.size > ? THEN UPDATE SET px = ?")
    numbers = [int(n.this) for part in (p.source, p.on, p.clauses[0].condition, p.clauses[0].values[0])
               for n in part.find_all(exp.Placeholder)]
    assert numbers == [1, 2, 3, 4]


def test_merge_clauses_keep_their_order_and_kinds():
    p = plan("MERGE INTO ticks t USING quotes q ON t.sym = q.sym "
             "WHEN MATCHED AND q.px IS NULL THEN DELETE "
             "WHEN MATCHED THEN UPDATE SET px = q.px "
             "WHEN NOT MATCHED THEN INSERT (sym, px) VALUES (q.sym, q.px) "
             "WHEN NOT MATCHED BY SOURCE THEN DELETE "
             "WHEN NOT MATCHED THEN DO NOTHING")
    assert isinstance(p, planner.Merge) and (p.target, p.source.alias_or_name) == ("t", "q")
    assert [(c.match, c.action) for c in p.clauses] == [
        (Match.MATCHED, Action.DELETE), (Match.MATCHED, Action.UPDATE),
        (Match.NOT_MATCHED, Action.INSERT), (Match.NOT_MATCHED_BY_SOURCE, Action.DELETE),
        (Match.NOT_MATCHED, Action.NOTHING)]
    assert plan("MERGE INTO ticks USING quotes q ON true WHEN NOT MATCHED THEN INSERT *").clauses[0].star


def test_duckdb_s_merge_actions():
    p = plan("MERGE INTO ticks t USING quotes q ON t.sym = q.sym "
             "WHEN MATCHED AND q.px < 0 THEN ERROR 'negative: ' || q.sym "
             "WHEN MATCHED THEN UPDATE BY NAME WHEN NOT MATCHED AND q.px IS NULL THEN INSERT "
             "DEFAULT VALUES WHEN NOT MATCHED THEN INSERT BY NAME "
             "WHEN NOT MATCHED BY SOURCE THEN ERROR")
    assert [(c.action, c.star, c.by_name, c.defaults) for c in p.clauses] == [
        (Action.ERROR, False, False, False), (Action.UPDATE, True, True, False),
        (Action.INSERT, False, False, True), (Action.INSERT, True, True, False),
        (Action.ERROR, False, False, False)]
    star = plan("MERGE INTO ticks USING quotes q ON true WHEN NOT MATCHED THEN INSERT *").clauses[0]
    assert star.star and not star.by_name  # in order, as DuckDB's
    assert render(p.clauses[0].message) == "'negative: ' || q.sym" and p.clauses[4].message is None


def test_a_clause_without_a_target_or_source_row_reads_the_other_s_bare_columns():
    """A dbt MERGE: ``WHEN NOT MATCHED THEN INSERT ("sym", "px") VALUES ("sym", "px")``."""
    p = plan('MERGE INTO ticks AS d USING quotes AS s ON s.sym = d.sym '
             'WHEN MATCHED THEN UPDATE SET px = s.px '
             'WHEN NOT MATCHED AND px > 0 THEN INSERT ("sym", "px") VALUES ("sym", (SELECT max(px) FROM ticks)) '
             'WHEN NOT MATCHED BY SOURCE THEN UPDATE SET px = px + 1')
    matched, inserted, by_source = p.clauses
    assert render(inserted.condition) == "s.px > 0"
    assert [render(v) for v in inserted.values] == ['s."sym"', "(SELECT MAX(px) FROM ticks)"]
    assert [render(v) for v in by_source.values] == ["d.px + 1"]
    assert [render(v) for v in matched.values] == ["s.px"]


def test_returning_lists_ride_on_their_writes():
    update = plan("UPDATE ticks AS t SET px = 1 RETURNING t.sym, px * 2 AS twice")
    assert update.returning.alias == "t"
    assert [render(e) for e in update.returning.expressions] == ["t.sym", "px * 2 AS twice"]
    insert = plan("INSERT INTO ticks VALUES ('a', 1) RETURNING *")
    assert insert.returning.alias == "ticks" and "RETURNING" not in insert.staged_sql.upper()
    assert plan("DELETE FROM ticks WHERE px > 1 RETURNING sym").returning.alias == "ticks"
    assert plan("DELETE FROM ticks").returning is None


def test_on_conflict_is_a_merge_of_the_rows_staged():
    p = plan("INSERT INTO ticks AS t (sym, px) VALUES ('a', 1) ON CONFLICT (sym) DO UPDATE "
             "SET px = excluded.px WHERE t.px < excluded.px")
    assert isinstance(p, planner.Upsert) and (p.target, p.keys) == ("t", ("sym",))
    assert isinstance(p.insert, planner.Insert) and "CONFLICT" not in p.insert.staged_sql.upper()
    assert [(c.match, c.action) for c in p.clauses] == [(Match.MATCHED, Action.UPDATE),
                                                         (Match.NOT_MATCHED, Action.INSERT)]
    assert render(p.clauses[0].condition) == "t.px < excluded.px" and p.clauses[1].star
    assert plan("INSERT INTO ticks VALUES ('a', 1) ON CONFLICT DO NOTHING RETURNING sym"
                ).insert.returning.alias == "ticks"
    nothing = plan("INSERT INTO ticks VALUES ('a', 1) ON CONFLICT DO NOTHING")
    assert (nothing.target, nothing.keys) == ("ticks", ()) and len(nothing.clauses) == 1
    replace = plan("INSERT OR REPLACE INTO ticks VALUES ('a', 1)")
    assert [(c.action, c.star) for c in replace.clauses] == [(Action.UPDATE, True),
                                                             (Action.INSERT, True)]
    assert [c.action for c in plan("INSERT OR IGNORE INTO ticks VALUES ('a', 1)").clauses] == [
        Action.INSERT]
    assert isinstance(plan("INSERT INTO ticks VALUES ('a', 1)"), planner.Insert)


@pytest.mark.parametrize("sql, message", [
    ("MERGE INTO ticks USING quotes q ON true WHEN NOT MATCHED THEN DELETE", "no target row to DELETE"),
    ("MERGE INTO ticks USING quotes q ON true WHEN NOT MATCHED THEN UPDATE SET px = 1",
     "no target row to UPDATE"),
    ("MERGE INTO ticks USING quotes q ON true WHEN MATCHED THEN INSERT VALUES (1)",
     "only WHEN NOT MATCHED can INSERT"),
    ("MERGE INTO ticks USING quotes q ON true WHEN NOT MATCHED BY SOURCE THEN UPDATE SET *",
     "has none; name the columns"),
    ("MERGE INTO ticks USING (SELECT 1) ON true WHEN MATCHED THEN DELETE", "give the subquery a name"),
    ("MERGE INTO ticks USING quotes q ON true WHEN NOT MATCHED THEN INSERT (sym, px) VALUES (1)",
     "names 2 columns but gives 1 values"),
    ("MERGE INTO nope USING quotes q ON true WHEN MATCHED THEN DELETE", "table nope does not exist"),
    ("MERGE INTO ticks USING (VALUES (1)) WHEN MATCHED THEN DELETE", "give the subquery a name"),
    ("UPDATE ticks SET px = 1 FROM quotes q JOIN quotes r ON true", "one table or subquery"),
    ("UPDATE ticks SET px = 1 RETURNING merge_action()", "only be used in the RETURNING list of a MERGE"),
    ("MERGE INTO ticks AS t USING quotes q ON true WHEN NOT MATCHED THEN INSERT VALUES (q.sym, t.px)",
     "WHEN NOT MATCHED has no row of t: t.px names none"),
    ("MERGE INTO ticks AS t USING quotes q ON true WHEN NOT MATCHED BY SOURCE AND q.px > 1 THEN DELETE",
     "WHEN NOT MATCHED BY SOURCE has no row of q"),
    ("INSERT INTO ticks VALUES ('a', 1) ON CONFLICT (sym) DO UPDATE SET px = $price",
     "takes positional parameters"),
])
def test_row_changes_refused(sql, message):
    refused(sql, message, CatalogError if "does not exist" in message else SqlError)


def test_refusals_point_at_the_clause():
    error = refused("MERGE INTO ticks USING quotes q ON true\nWHEN NOT MATCHED AND q.px > 0 THEN DELETE",
                    "no target row")
    assert error.line == 2


# -- ALTER TABLE ---------------------------------------------------------------------------------

@pytest.mark.parametrize("sql, change", [
    ("ALTER TABLE ticks ADD COLUMN note VARCHAR", AddColumn(planner.alter.Column("note", "VARCHAR"))),
    ("ALTER TABLE ticks ADD COLUMN IF NOT EXISTS n TINYINT",
     AddColumn(planner.alter.Column("n", "TINYINT"), if_not_exists=True)),
    ("ALTER TABLE ticks DROP COLUMN IF EXISTS note", DropColumn("note", if_exists=True)),
    ("ALTER TABLE ticks RENAME COLUMN px TO price", RenameColumn("px", "price")),
    ("ALTER TABLE ticks SET (SHARDS = 16)", SetShards(16)),
    ("ALTER TABLE ticks SET SHARDS = 2", SetShards(2)),
])
def test_alter_table(sql, change):
    assert plan(sql) == planner.AlterTable("ticks", change)


@pytest.mark.parametrize("sql, message", [
    ("ALTER TABLE ticks ADD COLUMN n INT NOT NULL", "cannot be NOT NULL"),
    ("ALTER TABLE ticks ADD COLUMN n INT DEFAULT px", "not supported on a new column"),
    ("ALTER TABLE ticks ADD COLUMN n INT PRIMARY KEY", "not supported on a new column"),
    ("ALTER TABLE ticks ADD COLUMN _indb_x INT", "reserved"),
    ("ALTER TABLE ticks ADD COLUMN n INTERVAL[]", "cannot be stored"),
    ("ALTER TABLE ticks RENAME COLUMN px TO _indb_rowid", "reserved"),
    ("ALTER TABLE ticks RENAME TO _indb_x", "reserved"),
    ("ALTER TABLE ticks RENAME TO s2.other", "RENAME TO keeps ticks in schema main"),
    ("ALTER TABLE ticks ALTER COLUMN px TYPE BIGINT USING (SELECT 1)", "USING is an expression"),
    ("ALTER TABLE ticks ALTER COLUMN px TYPE INTERVAL[]", "cannot be stored"),
    ("ALTER TABLE ticks SET (SHARDS = 0)", "SHARDS must be a whole number from 1 to 4096"),
    ("ALTER TABLE ticks SET (COLOUR = 'red')", r"SET takes the shard count: SET \(SHARDS = n\)"),
    ("ALTER TABLE ticks ADD COLUMN a INT, DROP COLUMN px", "more than one change"),
    ("ALTER TABLE ONLY ticks REPLICA IDENTITY FULL", "this ALTER TABLE is not supported"),
    ("ALTER VIEW v AS SELECT 1", "ALTER VIEW is not supported"),
])
def test_alter_table_refused(sql, message):
    refused(sql, message)


def test_renames_and_if_exists():
    assert plan("ALTER TABLE ticks RENAME TO Ticks2") == planner.RenameRelation("ticks", "ticks2")
    assert plan("ALTER VIEW IF EXISTS s.v RENAME TO w") == planner.RenameRelation("s.v", "s.w", True)
    assert plan("ALTER TABLE IF EXISTS nope ADD COLUMN n INT") == planner.AlterMissing("nope")
    assert plan("ALTER TABLE ticks ALTER COLUMN px TYPE varchar(20) USING px::varchar(20)") == \
        planner.AlterTable("ticks", SetType("px", "VARCHAR"))


# -- views, COPY, EXPLAIN ------------------------------------------------------------------------

def test_views():
    assert plan("CREATE OR REPLACE VIEW Big AS SELECT * FROM ticks WHERE px > 1") == \
        planner.CreateView("big", "SELECT * FROM ticks WHERE px > 1", replace=True)
    # the session's own: a name main's table has is no obstacle (engine/temporary.py)
    assert plan("CREATE TEMP VIEW ticks AS SELECT 1 AS x") == \
        planner.CreateView("ticks", "SELECT 1 AS x", temporary=True)
    assert plan("DROP VIEW IF EXISTS big") == planner.DropView("big", if_exists=True)
    assert plan("SHOW VIEWS") == planner.ShowViews()
    assert plan("CREATE VIEW v (a, b) AS SELECT px, sym FROM ticks").sql == \
        "SELECT * FROM (SELECT px, sym FROM ticks) AS indb_view(a, b)"  # (PostgreSQL's, DuckDB's)
    assert plan("CREATE VIEW v (a, b) AS VALUES (1, 'x')").sql == \
        "SELECT * FROM (SELECT * FROM (VALUES (1, 'x'))) AS indb_view(a, b)"  # (DuckDB's)


@pytest.mark.parametrize("sql, message, error", [
    ("CREATE VIEW ticks AS SELECT 1", "a table called ticks exists", CatalogError),
    ("CREATE VIEW v (a INT) AS SELECT 1", "a view.s column list is names", SqlError),
    ("CREATE MATERIALIZED VIEW v AS SELECT 1", "MATERIALIZED views are not supported", SqlError),
    ("CREATE VIEW v AS SELECT PREDICT('m', px, px) FROM ticks", "PREDICT cannot be kept", SqlError),
    ("CREATE VIEW v AS SELECT * FROM ticks AT (VERSION => 1)", "cannot keep an old snapshot", SqlError),
    ("CREATE VIEW _indb_v AS SELECT 1", "reserved", SqlError),
])
def test_views_refused(sql, message, error):
    refused(sql, message, error)


def test_copy_from_fills_the_staging_table_of_an_insert():
    p = plan("COPY ticks (sym, px) FROM 'ticks.csv' (HEADER)")
    # GENERATED ALWAYS columns take the file's values, as PostgreSQL's COPY takes them
    assert p == planner.Insert("ticks", "COPY __indb_stage (sym, px) FROM 'ticks.csv' WITH (HEADER)",
                               overriding="SYSTEM")


def test_copy_to_is_duckdb_s():
    assert plan("COPY ticks TO 'out.parquet' (FORMAT parquet)") == \
        planner.Query("COPY ticks TO 'out.parquet' WITH (FORMAT parquet)")
    refused("COPY nope TO 'x.csv'", "table nope does not exist", CatalogError)
    refused("COPY ticks FROM 'a.csv', 'b.csv'", "one file name")


def test_explain_plans_the_statement_without_running_it():
    p = plan("EXPLAIN UPDATE ticks SET px = 1 WHERE sym = 'A'")
    assert isinstance(p, planner.Explain) and isinstance(p.plan, planner.Update)
    assert ("clauses[1].values", "1") in plan_lines(p.plan)
    assert plan("EXPLAIN ANALYZE SELECT 1") == planner.Explain(planner.Query("SELECT 1"), analyze=True)
    refused("EXPLAIN ANALYZE DELETE FROM ticks", "EXPLAIN ANALYZE runs the statement")
    refused("EXPLAIN EXPLAIN SELECT 1", "not another EXPLAIN")
    refused("EXPLAIN SELECT * FROM ticks AT (VERSION => 'x')", "a snapshot id")


# -- time travel --------------------------------------------------------------------------------

def test_time_travel_reads_a_view_of_the_snapshot_under_the_table_s_name():
    p = plan("SELECT t.px FROM ticks AT (VERSION => 42) AS t JOIN ticks AT (VERSION => 42) ON true")
    assert isinstance(p, planner.WithSnapshots)
    assert p.snapshots == (planner.SnapshotRef("ticks", "__indb_at_ticks_v42", version=42),)
    assert p.plan == planner.Query('SELECT t.px FROM "__indb_at_ticks_v42" AS t '
                                   'JOIN "__indb_at_ticks_v42" AS ticks ON TRUE')


@pytest.mark.parametrize("sql, moment", [
    ("SELECT * FROM ticks AT (TIMESTAMP => '2026-01-05 09:30:00')", "2026-01-05T09:30:00+00:00"),
    ("SELECT * FROM ticks AT (TIMESTAMP => TIMESTAMP '2026-01-05 09:30:00+01')", "2026-01-05T08:30:00+00:00"),
    ("SELECT * FROM ticks FOR SYSTEM_TIME AS OF '2026-01-05 09:30:00.5'", "2026-01-05T09:30:00.5+00:00"),
])
def test_timestamps_without_an_offset_are_utc(sql, moment):
    (ref,) = plan(sql).snapshots
    assert ref.timestamp_us == round(datetime.datetime.fromisoformat(moment).timestamp() * 1e6)


def test_time_travel_feeds_writes_but_is_not_written():
    p = plan("INSERT INTO ticks SELECT * FROM ticks AT (VERSION => 7)")
    assert isinstance(p.plan, planner.Insert) and p.snapshots[0].version == 7
    p = plan("MERGE INTO ticks USING ticks AT (VERSION => 7) AS old ON ticks.sym = old.sym "
             "WHEN NOT MATCHED THEN INSERT *")
    assert isinstance(p.plan, planner.Merge) and p.plan.source.name == "__indb_at_ticks_v7"


@pytest.mark.parametrize("sql, message", [
    ("UPDATE ticks AT (VERSION => 3) SET px = 1", "a write changes the table's current snapshot"),
    ("SELECT * FROM ticks AT (VERSION => -1)", "a snapshot id"),
    ("SELECT * FROM ticks AT (TIMESTAMP => 'yesterday')", "is not a timestamp"),
    ("SELECT * FROM ticks AT (TIMESTAMP => now())", "a timestamp in quotes"),
    ("SELECT * FROM ticks AT (OFFSET => -60)", "by OFFSET is not supported"),
    ("DESCRIBE SELECT * FROM ticks AT (VERSION => 3)", "works in queries"),
    ("EXECUTE FUNCTION f(INPUT_TABLE_NAMES => INPUT_TABLE(SELECT * FROM ticks AT (VERSION => 3)))",
     "a function's inputs are read by its instances"),
])
def test_time_travel_refused(sql, message):
    refused(sql, message)


def test_time_travel_of_a_missing_table():
    refused("SELECT * FROM nope AT (VERSION => 3)", "table nope does not exist", CatalogError)


# -- VACUUM, OPTIMIZE, SHOW SNAPSHOTS ---------------------------------------------------------------

def test_vacuum_optimize_and_snapshots():
    assert plan("VACUUM") == planner.Vacuum(None, 1)
    assert plan("VACUUM ticks RETAIN 5") == planner.Vacuum("ticks", 5)
    assert plan("OPTIMIZE ticks") == planner.Optimize("ticks")
    assert plan("OPTIMIZE") == planner.Optimize(None)
    assert plan("SHOW SNAPSHOTS ticks") == planner.ShowSnapshots("ticks")
    refused("VACUUM ticks RETAIN 0", "at least 1")
    refused("VACUUM ticks RETAIN many", "RETAIN takes a number")
    refused("OPTIMIZE nope", "table nope does not exist", CatalogError)


def test_upkeep_words_are_still_names():
    assert plan("SELECT explain, vacuum FROM ticks AS optimize") == \
        planner.Query("SELECT explain, vacuum FROM ticks AS optimize")
