"""Where sqlglot reads or writes DuckDB's own SQL otherwise than DuckDB runs it, put right.

sqlglot's DuckDB dialect also serves SQL transpiled from other engines, and some of its
rewrites for them change what a DuckDB statement means: a flag dropped from regexp_replace, the
sign of INTERVAL '1 month ago', the order of DATE '...'::VARCHAR. indb reads and writes DuckDB's
SQL only, so ``Parser`` (which ``dialect.Indb``'s parser extends) and ``Written`` (the dialect
``parser.render`` writes) keep it as DuckDB means it. Each fix was found by running DuckDB's own
test files through indb and DuckDB and comparing.
"""

from __future__ import annotations

import re
from collections.abc import Callable

from sqlglot import exp
from sqlglot.dialects.duckdb import DuckDB
from sqlglot.generator import Generator
from sqlglot.generators.duckdb import DuckDBGenerator
from sqlglot.parsers.duckdb import DuckDBParser
from sqlglot.tokens import TokenType

from indb.parser import kinetica

# an interval's text sqlglot reads whole: quantities and their units ('1 day', '2.5 hours 3 min')
_QUANTITIES = re.compile(r"(\s*-?[0-9]+(?:\.[0-9]+)?\s*[a-zA-Z]+\s*)+")


def struct_pack(args: list) -> exp.Expr:
    """DuckDB's struct_pack; with COLUMNS(...) among its arguments kept as the call it is, for
    DuckDB to name a field after each column (sqlglot's struct named the whole of it ``_0``)."""
    if any(isinstance(arg, exp.Columns) for arg in args):
        return exp.Anonymous(this="STRUCT_PACK", expressions=args)
    return exp.Struct.from_arg_list(args)


def as_called(name: str) -> Callable[[list], exp.Expr]:
    """A function kept as the call written, its arguments as they are."""
    return lambda args: exp.Anonymous(this=name, expressions=args)


# a MERGE's DuckDB actions as the parser leaves them: THEN ERROR [message] (a call of this
# name), THEN INSERT DEFAULT VALUES (the INSERT of this variable)
MERGE_ERROR = "__indb_merge_error"
NULLS_LAST = "indb_nulls_last"  # an ORDER BY item's NULLS LAST, as written (Ordered's arg)
DEFAULT_VALUES = "DEFAULT VALUES"
BY_NAME = "BY NAME"  # THEN INSERT BY NAME, THEN UPDATE BY NAME: the source's columns by name
_FIRST_LAST = (exp.First, exp.Last)  # aggregates DuckDB takes IGNORE NULLS on, as window functions


def _quantified(node: exp.Expr) -> bool:
    """``ANY(...)``, ``SOME(...)`` or ``ALL(...)`` as the right side of an operator."""
    return isinstance(node, exp.Any | exp.All) or (
        isinstance(node, exp.Anonymous) and node.name.upper() in ("ANY", "SOME", "ALL"))


class Tokenizer(DuckDB.Tokenizer):
    """DuckDB's tokens, as DuckDB reads them."""

    HEX_STRINGS = [("x'", "'"), ("X'", "'")]  # x'303132': a BLOB (sqlglot's DuckDB lacks it)


class Parser(DuckDBParser):
    """DuckDB's parser, reading DuckDB's SQL as DuckDB does."""

    # DuckDB's functions sqlglot rewrote for other engines' sake: jaro_winkler_similarity
    # upper-cased both strings and dropped a score cutoff; time_bucket read a time zone's name
    # ('Europe/Berlin') as a division of columns; reduce(list, lambda) was Spark's
    FUNCTIONS = {**DuckDBParser.FUNCTIONS, "STRUCT_PACK": struct_pack,
                 **{name: as_called(name) for name in ("JARO_WINKLER_SIMILARITY", "TIME_BUCKET", "REDUCE", "APPLY")}}
    FUNC_TOKENS = {*DuckDBParser.FUNC_TOKENS, TokenType.APPLY}  # apply(list, lambda x: ...)
    PLACEHOLDER_PARSERS = {**DuckDBParser.PLACEHOLDER_PARSERS,
                           TokenType.COLON: lambda self: self._parse_colon_placeholder()}
    STATEMENT_PARSERS = {**DuckDBParser.STATEMENT_PARSERS,
                         TokenType.PIVOT: lambda self: self._parse_pivot_statement(False),
                         TokenType.UNPIVOT: lambda self: self._parse_pivot_statement(True)}

    def _parse_pivot_statement(self, unpivot: bool) -> exp.Expr:
        # PIVOT t ON k USING sum(v) ORDER BY ... LIMIT n: DuckDB's statement takes a query's
        # ORDER BY and LIMIT after it; sqlglot stopped at them (a syntax error)
        pivot = self._parse_simplified_pivot(is_unpivot=unpivot)
        if not self._match_set((TokenType.ORDER_BY, TokenType.LIMIT, TokenType.OFFSET),
                               advance=False):
            return pivot
        return self._parse_query_modifiers(exp.select(exp.Star()).from_(exp.Subquery(this=pivot)))

    def _parse_create(self) -> exp.Create | exp.Command:
        # PostgreSQL's and DuckDB's CREATE [OR REPLACE] RECURSIVE VIEW v (a, ...) AS q: as they
        # define it, CREATE VIEW v AS WITH RECURSIVE v (a, ...) AS (q) SELECT a, ... FROM v
        start = self._index
        replace = self._match_pair(TokenType.OR, TokenType.REPLACE)
        if not (self._match_text_seq("RECURSIVE") and self._curr is not None
                and self._curr.token_type == TokenType.VIEW):
            self._retreat(start)
            return super()._parse_create()
        created = super()._parse_create()
        if not isinstance(created, exp.Create) or not isinstance(created.this, exp.Schema) \
                or not isinstance(created.expression, exp.Query):
            self.raise_error("CREATE RECURSIVE VIEW names its columns, as in CREATE RECURSIVE "
                             "VIEW v (n) AS SELECT 1 UNION ALL SELECT n + 1 FROM v WHERE n < 5")
            return created
        name, columns = created.this.this, created.this.expressions
        alias = exp.TableAlias(this=name.this.copy(), columns=[c.copy() for c in columns])
        query = exp.select(*[exp.column(c.copy()) for c in columns]).from_(name.copy()) \
            .with_(alias, as_=created.expression, recursive=True)
        created.set("this", name)
        created.set("expression", query)
        created.set("replace", bool(replace or created.args.get("replace")))
        return created

    def _parse_ddl_select(self) -> exp.Expr | None:
        # CREATE VIEW v AS PIVOT ... (and CREATE TABLE ... AS): DuckDB's statement as the query
        # it is; sqlglot read the whole CREATE as a command
        if self._match_set((TokenType.PIVOT, TokenType.UNPIVOT)):
            pivot = self._parse_pivot_statement(self._prev.token_type == TokenType.UNPIVOT)
            return pivot if isinstance(pivot, exp.Select) else \
                exp.select(exp.Star()).from_(exp.Subquery(this=pivot))
        return super()._parse_ddl_select()

    # DATE '2020-01-01'::VARCHAR is the date cast to text (DuckDB's, PostgreSQL's); sqlglot
    # applied the :: (and [i], .x) to the string, then made it a date, and so a date came
    # back. The operators are left for after the typed literal is made.
    _typed_literal = False
    _type_end = -1  # the index after the last type read

    def _parse_type(self, parse_interval: bool = True, fallback_to_identifier: bool = False
                    ) -> exp.Expr | None:
        typed = super()._parse_type(parse_interval, fallback_to_identifier)
        if self._typed_literal:
            self._typed_literal = False
            return self._parse_column_ops(typed)
        return typed

    def _parse_types(self, check_func: bool = False, schema: bool = False,
                     allow_identifiers: bool = True, with_collation: bool = False
                     ) -> exp.Expr | None:
        unsigned = kinetica.parse_unsigned(self) if schema or with_collation else None
        if unsigned is not None:  # a column's or a cast's type: Kinetica's UNSIGNED BIGINT
            return unsigned
        types = super()._parse_types(check_func, schema, allow_identifiers, with_collation)
        if isinstance(types, exp.DataType):
            self._type_end = self._index
            if types.this == exp.DataType.Type.FLOAT and len(types.expressions) == 1 \
                    and types.expressions[0].this.is_int:
                # FLOAT(p), PostgreSQL's and SQL's (SQLAlchemy's Float(53), which pandas'
                # to_sql writes): DuckDB's DOUBLE past 24 bits, else FLOAT (sqlglot wrote REAL(p))
                wide = int(types.expressions[0].this.name) > 24
                return exp.DataType.build("DOUBLE" if wide else "FLOAT", dialect="duckdb")
        return types

    def _parse_column_ops(self, this: exp.Expr | None) -> exp.Expr | None:
        if isinstance(this, exp.Literal) and this.is_string and self._index - 1 == self._type_end:
            self._typed_literal = True
            return this
        return super()._parse_column_ops(this)

    def _parse_interval_span(self, this: exp.Expr, parse_function_unit: bool = True
                             ) -> exp.Interval:
        # sqlglot reads INTERVAL '1 month ago' as '1' MONTH: the part its pattern does not
        # match (DuckDB's "ago", which negates) was dropped, and the sign with it
        span = super()._parse_interval_span(this, parse_function_unit)
        if this is not None and this.is_string and span.this is not this \
                and not _QUANTITIES.fullmatch(this.name):
            return self.expression(exp.Interval(this=this))
        return span

    def _parse_returning(self) -> exp.Returning | None:
        returning = super()._parse_returning()
        # INSERT INTO t BY POSITION ...: DuckDB's default (sqlglot reads only BY NAME, right
        # after where it looks for an early RETURNING)
        self._match_text_seq("BY", "POSITION")
        return returning

    def _parse_colon_placeholder(self) -> exp.Expr | None:
        # l[:n] is a slice to n, not l[$n] (sqlglot read ":n" as a named parameter)
        if self._index >= 2 and self._tokens[self._index - 2].token_type == TokenType.L_BRACKET:
            return None
        return DuckDBParser.PLACEHOLDER_PARSERS[TokenType.COLON](self)

    def _parse_in(self, this: exp.Expr | None, alias: bool = False) -> exp.In:
        # x IN (): an empty list, false (NOT IN (): true), as DuckDB and SQLite read it
        if self._curr and self._next and self._curr.token_type == TokenType.L_PAREN \
                and self._next.token_type == TokenType.R_PAREN:
            self._advance(2)
            return self.expression(exp.In(this=this, expressions=[]))
        return super()._parse_in(this, alias)

    def _parse_star(self) -> exp.Expr | None:
        # DuckDB's MERGE actions INSERT BY NAME and UPDATE BY NAME (INSERT * and UPDATE SET *
        # by name), and INSERT DEFAULT VALUES, a row of defaults (sqlglot reads neither)
        after = self._prev.token_type if self._prev else None
        if after in (TokenType.INSERT, TokenType.UPDATE) and self._match_text_seq("BY", "NAME"):
            return exp.var(BY_NAME)
        if after == TokenType.INSERT and self._match_text_seq("DEFAULT", "VALUES"):
            return exp.var(DEFAULT_VALUES)
        return super()._parse_star()

    def _parse_when_matched(self) -> exp.Whens:
        whens: list[exp.Expr] = []
        while self._curr is not None and self._curr.token_type == TokenType.WHEN:
            # sqlglot's WHENs, a THEN ERROR's message read after them
            whens += super()._parse_when_matched().expressions
            then = whens[-1].args.get("then")
            if isinstance(then, exp.Var) and then.name == MERGE_ERROR and self._curr is not None \
                    and self._curr.token_type not in (TokenType.WHEN, TokenType.RETURNING,
                                                      TokenType.SEMICOLON):
                then.replace(exp.Anonymous(this=MERGE_ERROR,
                                           expressions=[self._parse_disjunction()]))
        for when in whens:
            then = when.args.get("then")
            if isinstance(then, exp.Var) and then.name == MERGE_ERROR:  # (without a message)
                then.replace(exp.Anonymous(this=MERGE_ERROR))
            if isinstance(then, exp.Update) and isinstance(then.args.get("expressions"),
                                                           exp.Star | exp.Var):
                then.set("expressions", [then.args["expressions"]])  # (sqlglot's UPDATE *: no list)
        return self.expression(exp.Whens(expressions=whens))

    def _parse_var_from_options(self, options: dict, raise_unmatched: bool = True
                                ) -> exp.Var | None:
        # DuckDB's MERGE action THEN ERROR [message] (its message read by _parse_when_matched)
        if options is self.CONFLICT_ACTIONS and self._prev and \
                self._prev.token_type == TokenType.THEN and self._match_text_seq("ERROR"):
            return exp.var(MERGE_ERROR)
        return super()._parse_var_from_options(options, raise_unmatched)

    def _parse_ordered(self, parse_method: Callable[[], exp.Expr | None] | None = None
                       ) -> exp.Ordered | None:
        # an explicit NULLS LAST is DuckDB's default, so sqlglot drops it; under SET
        # default_null_order = 'nulls_first' it is not: kept, as written
        ordered = super()._parse_ordered(parse_method)
        if ordered is not None and [t.text.upper() for t in self._tokens[
                max(self._index - 2, 0):self._index]] == ["NULLS", "LAST"]:
            ordered.set(NULLS_LAST, True)
        return ordered

    def _parse_escape(self, this: exp.Expr | None) -> exp.Expr | None:
        # DuckDB's (and PostgreSQL's) ESCAPE takes any expression (ESCAPE chr(0), a column);
        # sqlglot's only a string
        if not self._match(TokenType.ESCAPE):
            return this
        return self.expression(exp.Escape(this=this, expression=self._parse_primary()
                                          or self._parse_function() or self._parse_column()))


class Written(DuckDB):
    """DuckDB's dialect as indb writes the SQL it hands DuckDB (``parser.render``): sqlglot's
    DuckDB output, less its rewrites for SQL read from other engines where they change what
    DuckDB's own SQL means."""

    class Generator(DuckDBGenerator):
        TRANSFORMS = {
            **DuckDBGenerator.TRANSFORMS,
            exp.RegexpILike: lambda self, e: self._quantified_match(e, negated=False)
            if _quantified(e.expression) else DuckDBGenerator.TRANSFORMS[exp.RegexpILike](self, e),
        }

        def _validate_regexp_flags(self, flags: exp.Expr | None, supported_flags: str) -> str | None:
            # The functions DuckDB has itself (sqlglot's "c..." sets) keep every flag as written,
            # for DuckDB to apply or refuse: sqlglot keeps only other engines' (it dropped
            # regexp_replace's 'l', regexp_extract's 'k', silently changing the result).
            if "c" in supported_flags and isinstance(flags, exp.Expr) and flags.is_string:
                return flags.name or None
            return super()._validate_regexp_flags(flags, supported_flags)

        # x ~ ANY(['a', 'b']) (DuckDB's, PostgreSQL's) was written regexp_matches(x, ANY([...])),
        # which DuckDB cannot read; x !~ ALL(...) is read by sqlglot as NOT over x ~ ALL(...)
        def regexplike_sql(self, expression: exp.RegexpLike) -> str:
            if _quantified(expression.expression):
                return self._quantified_match(expression, negated=False)
            return super().regexplike_sql(expression)

        def not_sql(self, expression: exp.Not) -> str:
            inner = expression.this
            if isinstance(inner, exp.RegexpLike | exp.RegexpILike) and _quantified(inner.expression):
                return self._quantified_match(inner, negated=True)
            return super().not_sql(expression)

        def _quantified_match(self, match: exp.RegexpLike | exp.RegexpILike, negated: bool) -> str:
            flag = match.args.get("flag")
            folded = isinstance(match, exp.RegexpILike) or (flag is not None and flag.name == "i")
            operator = ("!~" if negated else "~") + ("*" if folded else "")
            return f"{self.sql(match, 'this')} {operator} {self.sql(match, 'expression')}"

        def ordered_sql(self, expression: exp.Ordered) -> str:
            written = super().ordered_sql(expression)
            if expression.args.get(NULLS_LAST) and not expression.args.get("nulls_first") \
                    and not written.endswith(" NULLS LAST"):
                return f"{written} NULLS LAST"
            return written

        def pivot_sql(self, expression: exp.Pivot) -> str:
            # PIVOT t USING sum(v) GROUP BY g (no ON: DuckDB's aggregate of the groups) was
            # written as UNPIVOT t
            if expression.this and not expression.expressions and not expression.args.get("unpivot"):
                using = self.expressions(expression, key="using", flat=True)
                return self.prepend_ctes(expression, f"PIVOT {self.sql(expression, 'this')}"
                                         f"{self.seg('USING')} {using}{self.sql(expression, 'group')}")
            return super().pivot_sql(expression)

        # last(v ORDER BY t IGNORE NULLS) OVER (...) lost its IGNORE NULLS (sqlglot keeps it
        # only for first_value, lag and the like); DuckDB takes it on first and last too, as
        # window functions. (sqlglot reads any_value(v) as IGNORE NULLS over it: left as it was.)
        def ignorenulls_sql(self, expression: exp.IgnoreNulls) -> str:
            if isinstance(expression.parent, exp.Window) and isinstance(expression.this, _FIRST_LAST):
                return Generator.ignorenulls_sql(self, expression)
            return super().ignorenulls_sql(expression)

        def respectnulls_sql(self, expression: exp.RespectNulls) -> str:
            if isinstance(expression.parent, exp.Window) and isinstance(expression.this, _FIRST_LAST):
                return Generator.respectnulls_sql(self, expression)
            return super().respectnulls_sql(expression)
