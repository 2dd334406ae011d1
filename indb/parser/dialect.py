"""indb's SQL: DuckDB's dialect plus Kinetica's table DDL, as a sqlglot dialect extension.

Added to DuckDB's grammar:

- ``SHARD KEY (col[, col2])`` among a ``CREATE TABLE``'s column definitions;
- ``CREATE REPLICATED TABLE``;
- ``WITH (SHARDS = n[, SHARD_KEY = 'col'])`` after the column list or before ``AS SELECT``
  (DuckDB's parser already reads it as table properties);
- Kinetica's function statements: ``CREATE [OR REPLACE] FUNCTION`` (file and inline forms),
  ``EXECUTE FUNCTION f(...)``, ``SHOW FUNCTION f | *``, ``SHOW FUNCTION STATUS [VERBOSE] [FOR 'id']``
  and ``KILL FUNCTION 'id'``. ``DROP FUNCTION`` and ``DESCRIBE FUNCTION`` are DuckDB's own trees,
  and ``TABLE(f(...))`` in a FROM clause is DuckDB's table-function syntax;
- Kinetica's function environments (``CREATE/ALTER/DROP/DESCRIBE/SHOW FUNCTION ENVIRONMENT``),
  parsed in ``indb.parser.environments`` and tried first by the statement parsers below;
- Kinetica's SQL procedures (``CREATE [OR REPLACE] PROCEDURE p BEGIN ...; END [EXECUTE FOR
  EVERY ...]``, ``EXEC[UTE] PROCEDURE``, ``SHOW PROCEDURE[S]``, ``DROP PROCEDURE``), parsed in
  ``indb.parser.procedures``;
- table upkeep: ``EXPLAIN [ANALYZE] statement``, ``VACUUM [t] [RETAIN n]``, ``OPTIMIZE [t]``,
  ``SHOW SNAPSHOTS t`` and ``SHOW VIEWS`` (DuckDB's tokenizer swallows the first three whole as
  opaque commands); ``SHOW [CREATE] TABLE t``, ``SHOW [CREATE] VIEW v``, and Spark's and
  MySQL's ``SHOW COLUMNS FROM t`` (``SELECT * FROM (DESCRIBE t)``, DuckDB's).
  ``UPDATE``, ``MERGE INTO``, ``ALTER TABLE``, ``CREATE VIEW``, ``COPY`` and time travel
  (``t AT (VERSION => n)``, ``t FOR SYSTEM_TIME AS OF '...'``) are DuckDB's own trees.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import ClassVar

from sqlglot import exp
from sqlglot.dialects.dialect import Dialect
from sqlglot.dialects.duckdb import DuckDB
from sqlglot.generators.duckdb import DuckDBGenerator
from sqlglot.parsers.duckdb import DuckDBParser
from sqlglot.parsers.postgres import PostgresParser
from sqlglot.tokens import TokenizerCore, TokenType

from indb.parser import environments, kinetica, privileges, settings
from indb.parser import durations, monitors, parameters, procedures
from indb.parser import macros, named_types, prepared, sequences, subscriptions, transfer
from indb.parser import borrowed, faithful, fragments, pgforms, templates, workers

FUNCTION_SETTINGS = ("MODE", "RUN_COMMAND", "RUN_COMMAND_ARGS")  # each ``KEY = 'value'``
UPKEEP_WORDS = ("EXPLAIN", "VACUUM", "OPTIMIZE")  # statements that start with a plain word


class ShardKey(exp.Expression):
    """``SHARD KEY (a, b)`` inside a CREATE TABLE column list."""

    arg_types = {"expressions": True}


class ReplicatedProperty(exp.Property):
    """The ``REPLICATED`` of ``CREATE REPLICATED TABLE``."""

    arg_types: ClassVar[dict[str, bool]] = {}


class CreateFunction(exp.Expression):
    """``CREATE [OR REPLACE] FUNCTION``: ``settings`` are Properties (MODE, RUN_COMMAND,
    RUN_COMMAND_ARGS, LANGUAGE, HANDLER); ``body`` is the inline code of ``AS $$ ... $$``."""

    arg_types = {"this": True, "replace": False, "returns": False, "settings": False,
                 "file_paths": False, "options": False, "body": False, "parameters": False,
                 "comment": False}


class ExecuteFunction(exp.Expression):
    """``EXECUTE FUNCTION f(name => value, ...)``: ``this`` names the function, ``expressions``
    are its named arguments as Kwargs (the names are Identifiers, so errors can point at them)."""

    arg_types = {"this": True, "expressions": False}


class ShowFunction(exp.Expression):
    """``SHOW FUNCTION f`` or ``SHOW FUNCTION *`` (``listing``: ``SHOW FUNCTIONS``)."""

    arg_types = {"this": True, "listing": False}


class ShowFunctionStatus(exp.Expression):
    """``SHOW FUNCTION STATUS [VERBOSE] [FOR 'run id']``."""

    arg_types = {"verbose": False, "run_id": False}


class KillFunction(exp.Expression):
    """``KILL FUNCTION 'run id'``."""

    arg_types = {"this": True}


class Explain(exp.Expression):
    """``EXPLAIN [ANALYZE] [(FORMAT f, ANALYZE)] statement``: ``this`` is the statement's tree,
    ``format`` DuckDB's format of its plan (json, html, graphviz...)."""

    arg_types = {"this": True, "analyze": False, "format": False}


class Vacuum(exp.Expression):
    """``VACUUM [t] [RETAIN n]``: ``this`` is the table (None: every table), ``retain`` the
    number of snapshots to keep."""

    arg_types = {"this": False, "retain": False}


class Optimize(exp.Expression):
    """``OPTIMIZE [t]``: ``this`` is the table (None: every table)."""

    arg_types = {"this": False}


class ShowSnapshots(exp.Expression):
    """``SHOW SNAPSHOTS t``."""

    arg_types = {"this": True}


class ShowViews(exp.Expression):
    """``SHOW VIEWS [LIKE 'pattern']``."""

    arg_types = {"like": False}


class ShowCreate(exp.Expression):
    """``SHOW [CREATE] TABLE t`` or ``SHOW [CREATE] VIEW v``: ``kind`` TABLE or VIEW."""

    arg_types = {"this": True, "kind": True}


class CreateModel(exp.Expression):
    """``CREATE MODEL m FROM FILE 'path' [WITH (output = 'class')]``."""

    arg_types = {"this": True, "path": True, "options": False}


class ShowModels(exp.Expression):
    """``SHOW MODELS``."""

    arg_types: ClassVar[dict[str, bool]] = {}


class DescribeModel(exp.Expression):
    """``DESCRIBE MODEL m``."""

    arg_types = {"this": True}


class DropModel(exp.Expression):
    """``DROP MODEL [IF EXISTS] m [VERSION n]``."""

    arg_types = {"this": True, "version": False, "exists": False}


class OnCommitDropProperty(exp.Property):
    """A temporary table's ``ON COMMIT DROP`` (PostgreSQL's; DELETE ROWS and PRESERVE ROWS are
    sqlglot's ``OnCommitProperty``)."""

    arg_types: ClassVar[dict[str, bool]] = {}


class RenameConstraint(exp.Expression):
    """ALTER TABLE's ``RENAME CONSTRAINT name TO new`` (PostgreSQL's)."""

    arg_types = {"this": True, "to": True}


class AlterModelAlias(exp.Expression):
    """``ALTER MODEL m SET ALIAS production = 3``."""

    arg_types = {"this": True, "alias": True, "version": True}


def _function_sql(self: DuckDBGenerator, e: CreateFunction) -> str:
    parts = ["CREATE OR REPLACE FUNCTION" if e.args.get("replace") else "CREATE FUNCTION",
             self.sql(e, "this")]
    if e.args.get("returns"):
        parts.append(f"RETURNS TABLE {self.sql(e, 'returns')}")
    for setting in e.args.get("settings") or []:
        value = self.sql(setting, "value")
        if isinstance(setting.args["value"], exp.Tuple):  # RUN_COMMAND_ARGS as a list
            value = ", ".join(self.sql(v) for v in setting.args["value"].expressions)
        value = value.upper() if setting.name == "LANGUAGE" else value
        parts.append(f"{setting.name} {value}" if setting.name in ("LANGUAGE", "HANDLER")
                     else f"{setting.name} = {value}")
    if e.args.get("file_paths"):
        parts.append("FILE PATHS " + ", ".join(self.sql(p) for p in e.args["file_paths"]))
    if e.args.get("options"):
        parts.append("WITH OPTIONS (" + ", ".join(
            f"{o.name} = {self.sql(o, 'value')}" for o in e.args["options"]) + ")")
    parts += parameters.clauses_sql(self, e)
    if e.args.get("body") is not None:
        parts.append(f"AS $${e.args['body'].this}$$")
    return " ".join(parts)


def _as_postgres(build: Callable[..., exp.Expr]) -> Callable[[list[exp.Expr]], exp.Expr]:
    """A function builder of sqlglot's PostgreSQL parser, reading its formats as PostgreSQL's."""
    postgres = Dialect.get_or_raise("postgres")
    return lambda args: build(args, postgres)


class _TokenizerCore(TokenizerCore):
    __slots__ = ()  # (sqlglot's core state, unchanged: Indb.Tokenizer gives its core this class)

    def _scan_string(self, start: str) -> bool:
        # $1,$2 (psycopg's VALUES (%s,%s)) are parameters: a dollar-quote's tag never starts
        # with a digit (PostgreSQL's rule); sqlglot took "1," for one, and failed on the rest
        if start == "$" and self._peek.isdigit():
            return False  # (the $ is then a parameter's, as in $1, $2)
        return super()._scan_string(start)


class Indb(DuckDB):
    """DuckDB's SQL with indb's statements."""

    class Tokenizer(faithful.Tokenizer):
        # DuckDB reads EXECUTE as an opaque command; EXECUTE FUNCTION is ours to parse.
        COMMANDS = DuckDB.Tokenizer.COMMANDS - {TokenType.EXECUTE}
        # ... and these are keywords of opaque commands; as plain words they reach our parsers;
        # and ?:: is a parameter and a cast (?::INTEGER), not an operator (DuckDB has none)
        KEYWORDS = {**{k: v for k, v in DuckDB.Tokenizer.KEYWORDS.items()
                       if k not in (*UPKEEP_WORDS, *prepared.WORDS, "?::")},
                    "REFRESH": TokenType.REFRESH}  # Spark's REFRESH TABLE t

        def _init_core(self) -> TokenizerCore:
            core = super()._init_core()
            core.__class__ = _TokenizerCore  # (the same state; its string scanning amended)
            return core

    class Parser(faithful.Parser):
        PROPERTY_PARSERS = {
            **DuckDBParser.PROPERTY_PARSERS, **kinetica.PROPERTY_PARSERS,
            "REPLICATED": lambda self, default=False: self.expression(ReplicatedProperty()),
            # PostgreSQL's CREATE LOCAL TEMP TABLE (GLOBAL, which it also reads as TEMP, is
            # sqlglot's), and a temporary table's ON COMMIT DROP
            "LOCAL": lambda self: self._parse_local_temporary(),
            "ON": lambda self: self._parse_on_commit(),
        }
        # the Python API's pieces of SQL (fragments), and DuckDB's others
        EXPRESSION_PARSERS = {**DuckDBParser.EXPRESSION_PARSERS, **fragments.PARSERS}
        CONSTRAINT_PARSERS = {
            **DuckDBParser.CONSTRAINT_PARSERS,
            "SHARD": lambda self: self._parse_shard_key(),
        }
        SCHEMA_UNNAMED_CONSTRAINTS = {*DuckDBParser.SCHEMA_UNNAMED_CONSTRAINTS, "SHARD"}
        # PostgreSQL's ALTER TABLE t ADD CHECK (...), a check without CONSTRAINT name
        ADD_CONSTRAINT_KEYWORDS = {*DuckDBParser.ADD_CONSTRAINT_KEYWORDS, "CHECK"}
        TYPE_CONVERTERS = {**DuckDBParser.TYPE_CONVERTERS, exp.DType.TEXT: kinetica.text_type,
                           exp.DType.USERDEFINED: kinetica.named_type,
                           exp.DType.VECTOR: kinetica.vector_type,
                           exp.DType.VARBINARY: kinetica.blob_type}
        # PostgreSQL's ALTER TABLE t RENAME CONSTRAINT a TO b, beside RENAME TO and RENAME COLUMN
        ALTER_PARSERS = {**DuckDBParser.ALTER_PARSERS, "RENAME": lambda self: self._parse_alter_rename()}
        ALTER_RENAME_REQUIRES_COLUMN = False  # RENAME a TO b renames column a (PostgreSQL, DuckDB)
        # PREDICT('model', [version,] col, ...) takes any number of arguments (not BigQuery's)
        # PostgreSQL's to_char(t, 'YYYY-MM-DD'), to_timestamp(s, fmt) and to_date(s, fmt) with
        # their formats made DuckDB's (strftime, strptime): DuckDB has none of them, and sqlglot
        # reading DuckDB's SQL dropped to_char's format (a cast to text) without a word
        FUNCTIONS = {**faithful.Parser.FUNCTIONS,
                     **{name: _as_postgres(PostgresParser.FUNCTIONS[name])
                        for name in ("TO_CHAR", "TO_TIMESTAMP", "TO_DATE")},
                     "PREDICT": faithful.as_called("PREDICT"),
                     **pgforms.FUNCTIONS, **borrowed.FUNCTIONS}
        # to_char(number, '999D99') and to_char(ts, 'YYYY-MM'): PostgreSQL's templates,
        # read here so that an element indb does not support is refused at its place
        FUNCTION_PARSERS = {**DuckDBParser.FUNCTION_PARSERS, **pgforms.FUNCTION_PARSERS,
                            "TO_CHAR": templates.parse_to_char,
                            "TO_TIMESTAMP": lambda self: templates.parse_to_time(self, exp.StrToTime, "TO_TIMESTAMP"),
                            "TO_DATE": lambda self: templates.parse_to_time(self, exp.StrToDate, "TO_DATE")}
        # a ? with its place in the text, which PREPARE numbers them by
        PLACEHOLDER_PARSERS = {**faithful.Parser.PLACEHOLDER_PARSERS,
                               TokenType.PLACEHOLDER: lambda self: prepared.placeholder(self)}
        STATEMENT_PARSERS = {
            **faithful.Parser.STATEMENT_PARSERS,
            TokenType.CREATE: lambda self: (environments.parse_create(self) or procedures.parse_create(self)
                                            or monitors.parse_create(self) or subscriptions.parse_create(self)
                                            or self._parse_create_function() or self._parse_create_model()
                                            or privileges.parse_create(self) or named_types.parse_create(self)
                                            or self._parse_create()),
            TokenType.DESCRIBE: lambda self: (environments.parse_describe(self)
                                              or self._parse_describe_model() or self._parse_describe()),
            TokenType.DESC: lambda self: (environments.parse_describe(self)
                                          or DuckDBParser.STATEMENT_PARSERS[TokenType.DESC](self)),
            TokenType.DROP: lambda self: (environments.parse_drop(self) or procedures.parse_drop(self)
                                          or monitors.parse_drop(self) or subscriptions.parse_drop(self)
                                          or self._parse_drop_model() or privileges.parse_drop(self)
                                          or sequences.parse_drop(self) or macros.parse_drop(self)
                                          or named_types.parse_drop(self) or self._parse_drop()),
            TokenType.ALTER: lambda self: (environments.parse_alter(self) or privileges.parse_alter(self)
                                           or named_types.parse_alter(self)
                                           or self._parse_alter_model()
                                           or settings.parse_alter(self) or sequences.parse_alter(self)
                                           or self._parse_alter_table()),
            TokenType.EXECUTE: lambda self: (procedures.parse_execute(self) or monitors.parse_execute(self)
                                             or self._parse_execute_function()),
            TokenType.SHOW: lambda self: (environments.parse_show(self) or procedures.parse_show(self)
                                          or monitors.parse_show(self) or subscriptions.parse_show(self)
                                          or workers.parse_show(self) or kinetica.parse_show(self)
                                          or sequences.parse_show(self) or macros.parse_show(self)
                                          or self._parse_show_upkeep() or self._parse_show_function()
                                          or privileges.parse_show(self) or self._parse_show()),
            TokenType.GRANT: lambda self: privileges.parse_grant(self),
            TokenType.REVOKE: lambda self: privileges.parse_grant(self, revoke=True),
            TokenType.KILL: lambda self: self._parse_kill_function(),
            TokenType.CACHE: lambda self: self._parse_cache_as_view(),
        }

        def _parse_cache_as_view(self) -> exp.Expr:
            """Spark's ``CACHE TABLE t``, and ``CACHE TABLE v AS query``: a temporary view, which
            is what Spark makes of it (then caches; indb keeps no cache)."""
            cache = self._parse_cache()
            if cache.expression is None:
                return cache
            return self.expression(exp.Create(
                this=cache.this, kind="VIEW", expression=cache.expression,
                properties=exp.Properties(expressions=[exp.TemporaryProperty()])))

        def _parse_generated_as_identity(self) -> (exp.GeneratedAsIdentityColumnConstraint
                                                   | exp.ComputedColumnConstraint
                                                   | exp.GeneratedAsRowColumnConstraint):
            """A generated column as DuckDB and PostgreSQL write it, ``GENERATED ALWAYS AS
            (expr) [VIRTUAL | STORED]``, read as DuckDB's ``AS (expr)`` is (a computed column);
            an identity as sqlglot reads it."""
            found = super()._parse_generated_as_identity()
            if not isinstance(found, exp.GeneratedAsIdentityColumnConstraint) \
                    or found.args.get("expression") is None:
                return found
            stored = self._match_texts(("STORED", "VIRTUAL")) and self._prev.text.upper() == "STORED"
            return self.expression(exp.ComputedColumnConstraint(this=exp.paren(found.expression),
                                                                persisted=stored))

        def _parse_limit(self, this: exp.Expr | None = None, top: bool = False,
                         skip_limit_token: bool = False) -> exp.Expr | None:
            if top and not skip_limit_token:  # right after SELECT: Kinetica's TOP n
                return kinetica.parse_top(self, this)
            return super()._parse_limit(this, top, skip_limit_token)

        _overriding: str | None = None  # the INSERT being read's OVERRIDING, until it is made

        def _parse_local_temporary(self) -> exp.Expr | None:
            if self._match_texts(("TEMP", "TEMPORARY")):
                return self.expression(exp.TemporaryProperty())
            self._retreat(self._index - 1)
            return None

        def _parse_on_commit(self) -> exp.Expr | None:
            if self._match_text_seq("COMMIT", "DROP"):
                return self.expression(OnCommitDropProperty())
            return self._parse_on_property()

        def _parse_function_parameter(self) -> exp.Expr | None:
            """A macro's parameter, ``a``, or ``b := 5`` with its default (DuckDB's)."""
            name = self._parse_id_var()
            if self._match(TokenType.COLON_EQ):
                return self.expression(exp.PropertyEQ(this=name, expression=self._parse_disjunction()))
            return self._parse_column_def(this=name, computed_column=False)

        def _parse_insert(self) -> exp.Insert | exp.MultitableInserts:
            """PostgreSQL's ``OVERRIDING {SYSTEM | USER} VALUE`` after the table and its
            columns, kept as the Insert's ``overriding`` (SYSTEM or USER)."""
            self._overriding = None
            insert = super()._parse_insert()
            if self._overriding is not None:
                insert.set("overriding", self._overriding)
            return insert

        def _parse_returning(self) -> exp.Returning | None:
            # called right after an INSERT's table (where T-SQL may put RETURNING)
            if self._match_text_seq("OVERRIDING"):
                kind = self._prev.text.upper() if self._match_texts(("SYSTEM", "USER")) else None
                if kind is None or not self._match_text_seq("VALUE"):
                    self.raise_error("Expected OVERRIDING SYSTEM VALUE or OVERRIDING USER VALUE")
                self._overriding = kind
            return super()._parse_returning()

        def _parse_statement(self) -> exp.Expr | None:
            edge = self._transaction_word()
            if edge is not None:
                return edge
            word = self._curr.text.upper() if self._curr and self._curr.token_type == TokenType.VAR else ""
            if word not in UPKEEP_WORDS:
                return (procedures.parse_exec(self) or prepared.parse_statement(self)
                        or transfer.parse_statement(self) or super()._parse_statement())
            self._advance()
            if word == "EXPLAIN":
                analyze, form = self._explain_options()
                statement = self._parse_statement()
                if statement is None:
                    self.raise_error("EXPLAIN needs a statement to explain, as in EXPLAIN SELECT * FROM t")
                return self.expression(Explain(this=statement, analyze=analyze, format=form))
            if word == "VACUUM":
                self._vacuum_options()
            table = self._parse_table_parts() if self._curr and self._curr.text.upper() != "RETAIN" \
                else None
            if word == "OPTIMIZE":
                return self.expression(Optimize(this=table))
            retain = None
            if self._match_text_seq("RETAIN"):
                retain = self._parse_number()
                if retain is None:
                    self.raise_error("RETAIN takes a number of snapshots: VACUUM t RETAIN 5")
            return self.expression(Vacuum(this=table, retain=retain))

        def _transaction_word(self) -> exp.Expr | None:
            """PostgreSQL's other words for a transaction's edges: ``END`` (COMMIT), ``ABORT``
            (ROLLBACK), ``START TRANSACTION`` (BEGIN); pgbench ends its transactions with END."""
            text = self._curr.text.upper() if self._curr and \
                self._curr.token_type != TokenType.STRING else ""
            if text in ("END", "ABORT"):
                self._advance()
                self._match_texts(("TRANSACTION", "WORK"))
                return self.expression(exp.Commit() if text == "END" else exp.Rollback())
            if text == "START" and self._next and self._next.text.upper() == "TRANSACTION":
                self._advance()
                return self._parse_transaction()
            return None

        def _parse_transaction(self) -> exp.Transaction | exp.Command:
            # BEGIN [TRANSACTION | WORK] [mode, ...]: PostgreSQL's modes are words of any
            # kind (READ ONLY: READ is a keyword to sqlglot, which reads only names)
            self._match_texts(("TRANSACTION", "WORK"))
            modes: list[str] = []
            words: list[str] = []
            while self._curr and self._curr.token_type != TokenType.SEMICOLON:
                if self._match(TokenType.COMMA):
                    modes, words = [*modes, " ".join(words)], []
                else:
                    words.append(self._curr.text.upper())
                    self._advance()
            return self.expression(exp.Transaction(modes=[*modes, " ".join(words)] if words
                                                   else modes))

        def _parse_analyze(self) -> exp.Analyze | exp.Command:
            # PostgreSQL's ANALYZE VERBOSE of every table (sqlglot's wants a table after it)
            if self._curr and self._curr.text.upper() == "VERBOSE" and not self._next:
                self._advance()
                return self.expression(exp.Analyze(options=["VERBOSE"]))
            return super()._parse_analyze()

        def _explain_options(self) -> tuple[bool, str | None]:
            """``[ANALYZE | ANALYSE] [(FORMAT f, ANALYZE [boolean])]``, DuckDB's: whether to run
            the query, and the plan's format."""
            analyze, form = bool(self._match_texts(("ANALYZE", "ANALYSE"))), None
            if not self._match(TokenType.L_PAREN):
                return analyze, form
            while True:
                option = self._curr.text.upper() if self._curr else ""
                self._advance()
                if option in ("ANALYZE", "ANALYSE"):
                    value = self._match_texts(("TRUE", "FALSE", "ON", "OFF", "1", "0"))
                    analyze = not value or self._prev.text.upper() in ("TRUE", "ON", "1")
                elif option == "FORMAT" and self._curr:
                    form = self._curr.text.lower()
                    self._advance()
                else:
                    self.raise_error(f"EXPLAIN takes the options FORMAT and ANALYZE, not {option}: "
                                     "EXPLAIN (FORMAT json) SELECT ...")
                if not self._match(TokenType.COMMA):
                    break
            self._match_r_paren()
            return analyze, form

        def _vacuum_options(self) -> None:
            """PostgreSQL's options of VACUUM (``(ANALYZE, VERBOSE)``, ``FULL FREEZE VERBOSE
            ANALYZE``), read past: indb's VACUUM removes what no snapshot kept needs, as
            PostgreSQL's removes dead rows, and a file's statistics are written with it."""
            if self._match(TokenType.L_PAREN):
                while not self._match(TokenType.R_PAREN):
                    if not self._curr:
                        self.raise_error("VACUUM's options are not closed: VACUUM (ANALYZE) t")
                        return
                    self._advance()
            while self._match_texts(("FULL", "FREEZE", "VERBOSE", "ANALYZE")):
                pass

        def _parse_show_upkeep(self) -> exp.Expr | None:
            if self._match_text_seq("VIEWS"):
                return self.expression(ShowViews(like=self._parse_string() if self._match(
                    TokenType.LIKE) else None))
            if self._match_text_seq("TABLES"):  # [FROM | IN s] [LIKE 'p'] [IN [SCHEMA] s]
                schema = self._parse_table_parts() if self._match_set(
                    (TokenType.FROM, TokenType.IN)) else None
                like = self._parse_string() if self._match(TokenType.LIKE) else None
                if schema is None and self._match(TokenType.IN):  # Snowflake's, after LIKE
                    self._match_text_seq("SCHEMA")
                    schema = self._parse_table_parts()
                return self.expression(exp.Show(this="TABLES", from_=schema, like=like))
            if self._match_text_seq("COLUMNS"):  # FROM | IN t [FROM | IN schema]
                if not self._match_set((TokenType.FROM, TokenType.IN)):
                    self.raise_error("SHOW COLUMNS takes FROM t (or IN t)")
                table = self._parse_table_parts()
                if not isinstance(table, exp.Table):
                    self.raise_error("SHOW COLUMNS takes a table's name")
                    return None
                if self._match_set((TokenType.FROM, TokenType.IN)):
                    table.set("db", self._parse_id_var())
                return exp.select(exp.Star()).from_(exp.Subquery(this=exp.Describe(this=table)))
            index = self._index
            self._match_text_seq("CREATE")
            if self._match_set((TokenType.TABLE, TokenType.VIEW)):
                kind = self._prev.text.upper()
                return self.expression(ShowCreate(this=self._parse_table_parts(), kind=kind))
            self._retreat(index)
            if not self._match_text_seq("SNAPSHOTS"):
                return None
            return self.expression(ShowSnapshots(this=self._parse_table_parts()))

        _commenting = False  # reading COMMENT ON's text, which may be NULL

        def _parse_comment(self, allow_exists: bool = True) -> exp.Expr:
            # PostgreSQL's COMMENT ON ... IS NULL removes the comment (sqlglot reads a string)
            self._commenting = True
            try:
                return super()._parse_comment(allow_exists)
            finally:
                self._commenting = False

        def _parse_string(self) -> exp.Expr | None:
            if self._commenting and self._match(TokenType.NULL):
                return exp.null()
            return super()._parse_string()

        def _parse_drop(self, exists: bool = False, kind: str | None = None) -> exp.Drop | exp.Command:
            drop = super()._parse_drop(exists, kind)
            if isinstance(drop, exp.Drop) and drop.args.get("kind") == "INDEX":
                while self._match(TokenType.COMMA):  # PostgreSQL's DROP INDEX a, b [CASCADE]
                    drop.append("tables", self._parse_table_parts(schema=True))
                    drop.set("cascade", self._match_text_seq("CASCADE") or drop.args.get("cascade"))
            return drop

        def _parse_alter_rename(self) -> exp.Expr | None:
            """ALTER TABLE's RENAME: ``CONSTRAINT name TO new``, else sqlglot's (TO, COLUMN)."""
            if not self._match_text_seq("CONSTRAINT"):
                return self._parse_alter_table_rename()
            old = self._parse_id_var(any_token=False)
            new = self._parse_id_var(any_token=False) if self._match_text_seq("TO") else None
            if old is None or new is None:
                self.raise_error("expected RENAME CONSTRAINT name TO new_name")
            return self.expression(RenameConstraint(this=old, to=new))

        def _parse_alter_table_alter(self) -> exp.Expr | None:
            return sequences.parse_alter_column(self) or super()._parse_alter_table_alter()

        def _parse_alter_table(self) -> exp.Expr | None:
            alter = self._parse_alter()
            if isinstance(alter, exp.Command) and str(alter.expression).strip().upper().startswith("TABLE"):
                self.raise_error("this ALTER TABLE is not supported (or makes more than one change: "
                                 "it makes one at a time): ADD COLUMN, DROP COLUMN, RENAME COLUMN, "
                                 "ALTER COLUMN (TYPE, [SET|DROP] DEFAULT, [SET|DROP] NOT NULL), "
                                 "RENAME TO, ADD PRIMARY KEY, ADD [CONSTRAINT name] CHECK or UNIQUE, "
                                 "DROP CONSTRAINT, RENAME CONSTRAINT or SET (SHARDS = n)")
            return alter

        def _parse_create_function(self) -> CreateFunction | None:
            start = self._index
            replace = self._match_pair(TokenType.OR, TokenType.REPLACE)
            if not self._match(TokenType.FUNCTION):
                self._retreat(start)
                return None
            if self._prev.text.upper() == "MACRO":  # (its name is not read as a table's: a
                self._retreat(start)  # typed parameter, m(a INTEGER), is no table's argument)
                return None
            name = self._parse_table_parts()
            if isinstance(name, exp.Table) and isinstance(name.this, exp.Anonymous):
                self._retreat(start)  # DuckDB's CREATE MACRO m(a) AS ... (and FUNCTION f(a)):
                return None  # sqlglot's own Create, of a macro
            args: dict = {"settings": [], "file_paths": [], "options": [], "body": None, "returns": None}
            while self._curr and self._curr.token_type != TokenType.SEMICOLON:
                if self._match_text_seq("RETURNS", "TABLE"):
                    args["returns"] = self._parse_schema()
                elif self._match_text_seq("FILE", "PATHS"):
                    args["file_paths"] = self._parse_csv(lambda: self._string("FILE PATHS"))
                elif self._match_text_seq("WITH", "OPTIONS"):
                    args["options"] = self._parse_wrapped_csv(self._parse_function_option)
                elif self._match(TokenType.ALIAS):
                    args["body"] = self._parse_string()
                    if args["body"] is None:
                        self.raise_error("expected the function's code after AS, as $$ ... $$")
                elif parameters.parse_clause(self, args):
                    pass
                elif self._match_text_seq("LANGUAGE"):
                    args["settings"].append(self._setting("LANGUAGE", self._parse_var(any_token=True)))
                elif self._match_text_seq("HANDLER"):
                    args["settings"].append(self._setting("HANDLER", self._parse_string()))
                elif self._curr.text.upper() in FUNCTION_SETTINGS:
                    key = self._curr.text.upper()
                    self._advance()
                    self._match(TokenType.EQ)
                    value = self._parse_string()
                    if key == "RUN_COMMAND_ARGS" and value is not None \
                            and self._match(TokenType.COMMA, advance=False):
                        # Kinetica's list form: 'a.py', '--flag', 'v' (one argument each)
                        self._advance()
                        value = exp.Tuple(expressions=[value, *self._parse_csv(
                            lambda: self._string("RUN_COMMAND_ARGS"))])
                    args["settings"].append(self._setting(key, value))
                else:
                    self.raise_error(f"unexpected {self._curr.text} in CREATE FUNCTION; expected "
                                     "RETURNS TABLE, MODE, RUN_COMMAND, RUN_COMMAND_ARGS, FILE PATHS, "
                                     "LANGUAGE, HANDLER, WITH OPTIONS, PARAMETERS, COMMENT or "
                                     "AS $$ ... $$")
                    break
            return self.expression(CreateFunction(this=name, replace=replace, **args))

        def _parse_create_model(self) -> CreateModel | None:
            if not self._match_text_seq("MODEL"):
                return None
            name = self._parse_table_parts()
            if not self._match_text_seq("FROM", "FILE"):
                self.raise_error("expected FROM FILE 'path.onnx' after CREATE MODEL name")
            path = self._parse_string()
            options = self._parse_wrapped_csv(self._parse_function_option) if self._match(TokenType.WITH) else []
            return self.expression(CreateModel(this=name, path=path, options=options))

        def _parse_describe_model(self) -> DescribeModel | None:
            if not self._match_text_seq("MODEL"):
                return None
            return self.expression(DescribeModel(this=self._parse_table_parts()))

        def _parse_drop_model(self) -> DropModel | None:
            if not self._match_text_seq("MODEL"):
                return None
            exists = self._match_text_seq("IF", "EXISTS")
            name = self._parse_table_parts()
            version = self._parse_number() if self._match_text_seq("VERSION") else None
            return self.expression(DropModel(this=name, version=version, exists=bool(exists)))

        def _parse_alter_model(self) -> AlterModelAlias | None:
            if not self._match_text_seq("MODEL"):
                return None
            name = self._parse_table_parts()
            if not self._match_text_seq("SET", "ALIAS"):
                self.raise_error("expected SET ALIAS name = version after ALTER MODEL")
            alias = self._parse_id_var(any_token=True)
            self._match(TokenType.EQ)
            version = self._parse_number()
            if version is None:
                self.raise_error("an alias names a version number: SET ALIAS production = 3")
            return self.expression(AlterModelAlias(this=name, alias=alias, version=version))

        def _string(self, what: str) -> exp.Expr | None:
            """A string literal, which ``what`` (a list of them) needs here."""
            value = self._parse_string()
            if value is None:
                self.raise_error(f"{what} takes strings ('a.py', 'b.py')")
            return value

        def _setting(self, key: str, value: exp.Expr | None) -> exp.Property:
            if value is None:
                self.raise_error(f"{key} needs a value")
            return exp.Property(this=exp.var(key), value=value)

        def _parse_function_option(self) -> exp.Property:
            key = self._parse_var(any_token=True)
            self._match(TokenType.EQ)
            return exp.Property(this=key, value=self._parse_primary())

        def _parse_execute_function(self) -> ExecuteFunction | prepared.Execute:
            if not self._match(TokenType.FUNCTION):
                return prepared.parse_execute(self)  # EXECUTE q(...), of PREPARE q
            name = self._parse_id_var(any_token=False)
            if name is None or not self._match(TokenType.L_PAREN, advance=False):
                self.raise_error("expected a function call: EXECUTE FUNCTION f(INPUT_TABLE_NAMES => ...)")
            arguments = self._parse_wrapped_csv(self._parse_named_argument, optional=True)
            return self.expression(ExecuteFunction(this=name, expressions=arguments))

        def _parse_named_argument(self) -> exp.Kwarg | None:
            name = self._parse_id_var(any_token=True)
            if name is None:
                return None
            if not self._match(TokenType.FARROW):
                self.raise_error(f"expected => after {name.name}: arguments are named, as in "
                                 "INPUT_TABLE_NAMES => INPUT_TABLE(t)")
            return exp.Kwarg(this=name, expression=self._parse_assignment())

        def _parse_show_function(self) -> exp.Expr | None:
            if self._match_text_seq("MODELS"):
                return self.expression(ShowModels())
            if self._match_text_seq("FUNCTIONS"):
                return self.expression(ShowFunction(this=exp.Star(), listing=True))
            if not self._match(TokenType.FUNCTION):
                return None
            if self._match_text_seq("STATUS"):
                verbose = self._match_text_seq("VERBOSE")
                run_id = self._parse_string() if self._match(TokenType.FOR) else None
                return self.expression(ShowFunctionStatus(verbose=bool(verbose), run_id=run_id))
            name = exp.Star() if self._match(TokenType.STAR) else self._parse_table_parts()
            return self.expression(ShowFunction(this=name))

        def _parse_kill_function(self) -> exp.Expr:
            if not self._match(TokenType.FUNCTION):
                return DuckDBParser.STATEMENT_PARSERS[TokenType.KILL](self)
            run_id = self._parse_string()
            if run_id is None:
                self.raise_error("KILL FUNCTION takes a run id in quotes: KILL FUNCTION '<run id>'")
            return self.expression(KillFunction(this=run_id))

        def _parse_shard_key(self) -> ShardKey | None:
            # A column may be called "shard": without KEY after it, give the tokens back.
            if not self._match_text_seq("KEY"):
                return None
            return self.expression(ShardKey(expressions=self._parse_wrapped_id_vars()))

    class Generator(faithful.Written.Generator):
        TRANSFORMS = {
            **faithful.Written.Generator.TRANSFORMS,
            **privileges.TRANSFORMS,
            **environments.TRANSFORMS,
            **parameters.TRANSFORMS,
            **durations.TRANSFORMS,
            **procedures.TRANSFORMS,
            **monitors.TRANSFORMS,
            **subscriptions.TRANSFORMS,
            **sequences.TRANSFORMS,
            **macros.TRANSFORMS,
            **prepared.TRANSFORMS,
            **named_types.TRANSFORMS,
            **transfer.TRANSFORMS,
            **workers.TRANSFORMS,
            **settings.TRANSFORMS,
            **kinetica.TRANSFORMS,
            ShardKey: lambda self, e: f"SHARD KEY ({self.expressions(e, flat=True)})",
            ReplicatedProperty: lambda self, e: "REPLICATED",
            OnCommitDropProperty: lambda self, e: "ON COMMIT DROP",
            CreateFunction: _function_sql,
            ExecuteFunction: lambda self, e: f"EXECUTE FUNCTION {self.sql(e, 'this')}({self.expressions(e, flat=True)})",
            ShowFunction: lambda self, e: "SHOW FUNCTIONS" if e.args.get("listing")
            else f"SHOW FUNCTION {self.sql(e, 'this')}",
            ShowFunctionStatus: lambda self, e: " ".join(filter(None, [
                "SHOW FUNCTION STATUS", "VERBOSE" if e.args.get("verbose") else "",
                f"FOR {self.sql(e, 'run_id')}" if e.args.get("run_id") else ""])),
            KillFunction: lambda self, e: f"KILL FUNCTION {self.sql(e, 'this')}",
            CreateModel: lambda self, e: f"CREATE MODEL {self.sql(e, 'this')} FROM FILE {self.sql(e, 'path')}"
            + (" WITH (" + ", ".join(f"{o.name} = {self.sql(o, 'value')}" for o in e.args["options"]) + ")"
               if e.args.get("options") else ""),
            ShowModels: lambda self, e: "SHOW MODELS",
            Explain: lambda self, e: "EXPLAIN " + ("ANALYZE " if e.args.get("analyze") else "")
            + (f"(FORMAT {e.args['format']}) " if e.args.get("format") else "") + self.sql(e, "this"),
            Vacuum: lambda self, e: " ".join(filter(None, [
                "VACUUM", self.sql(e, "this"),
                f"RETAIN {self.sql(e, 'retain')}" if e.args.get("retain") else ""])),
            Optimize: lambda self, e: " ".join(filter(None, ["OPTIMIZE", self.sql(e, "this")])),
            ShowSnapshots: lambda self, e: f"SHOW SNAPSHOTS {self.sql(e, 'this')}",
            ShowViews: lambda self, e: " ".join(filter(None, [
                "SHOW VIEWS", f"LIKE {self.sql(e, 'like')}" if e.args.get("like") else ""])),
            ShowCreate: lambda self, e: f"SHOW CREATE {e.args['kind']} {self.sql(e, 'this')}",
            exp.Show: lambda self, e: " ".join(filter(None, [  # DuckDB's, with a LIKE
                "SHOW", e.name, f"FROM {self.sql(e, 'from_')}" if e.args.get("from_") else "",
                f"LIKE {self.sql(e, 'like')}" if e.args.get("like") else ""])),
            DescribeModel: lambda self, e: f"DESCRIBE MODEL {self.sql(e, 'this')}",
            DropModel: lambda self, e: "DROP MODEL " + ("IF EXISTS " if e.args.get("exists") else "")
            + self.sql(e, "this") + (f" VERSION {self.sql(e, 'version')}" if e.args.get("version") else ""),
            RenameConstraint: lambda self, e: f"RENAME CONSTRAINT {self.sql(e, 'this')} TO "
            f"{self.sql(e, 'to')}",
            AlterModelAlias: lambda self, e: f"ALTER MODEL {self.sql(e, 'this')} SET ALIAS "
            f"{self.sql(e, 'alias')} = {self.sql(e, 'version')}",
        }
        PROPERTIES_LOCATION = {
            **DuckDBGenerator.PROPERTIES_LOCATION,
            ReplicatedProperty: exp.Properties.Location.POST_CREATE,
            OnCommitDropProperty: exp.Properties.Location.POST_EXPRESSION,
            kinetica.StorageClause: exp.Properties.Location.POST_SCHEMA,
            # DuckDB's generator drops generic properties; ours (SHARDS = 8) must survive a round trip.
            exp.Property: exp.Properties.Location.POST_WITH,
        }
