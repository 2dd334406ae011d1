"""What only a PostgreSQL session knows, put into its catalog queries before a shadow answers
them (pgcatalog's shadows are shared by the sessions that see the same relations)."""

from __future__ import annotations

from sqlglot import exp


def with_session(query: exp.Expr, user: str, backend_pid: int, visible: list[str]) -> exp.Expr:
    """A catalog query with what only its session knows: ``current_user`` and ``session_user``
    (the signed-in user), ``pg_backend_pid()`` (the key of its cancel requests),
    ``pg_my_temp_schema()`` (its temporary schema's oid, 0 before it has one), and the schemas
    whose tables ``pg_table_is_visible`` (pgcatalog's) finds (its temporary tables', psql's
    ``\\d tmp``, then its search path's), the latter ``current_schemas()``."""
    schemas = exp.Array(expressions=[exp.Literal.string(s) for s in visible])
    for node in list(query.walk()):
        if isinstance(node, exp.CurrentSchemas):
            node.replace(exp.Array(expressions=[exp.Literal.string(s) for s in visible[1:]]))
        elif isinstance(node, exp.CurrentUser | exp.SessionUser):
            node.replace(exp.Literal.string(user))
        elif isinstance(node, exp.Anonymous) and node.name.lower() == "pg_backend_pid":
            node.replace(exp.Literal.number(backend_pid))
        elif isinstance(node, exp.Anonymous) and node.name.lower() == "pg_my_temp_schema":
            node.replace(exp.func("coalesce", exp.Subquery(this=exp.select("oid").from_(
                "pg_catalog.pg_namespace").where(exp.column("nspname").eq(
                    exp.Literal.string(visible[0]))).limit(1)), exp.Literal.number(0)))
        elif isinstance(node, exp.Anonymous) and node.name.lower() == "pg_table_is_visible" \
                and len(node.expressions) == 1:
            node.append("expressions", schemas.copy())
    return query
