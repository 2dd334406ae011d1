"""The privilege check: what a statement needs, read from its syntax tree, against the grants.

``needs(tree)`` lists every privilege a statement needs (a privilege on a table, view, function
or model, or a role), found by walking the parsed tree: each table reference (a join, a
subquery, a CTE's body, an input query of EXECUTE FUNCTION or of TABLE(f(...))), each PREDICT
call, each table function. Names that a CTE in scope defines are told apart from tables by the
WITH clauses around them, as SQL scopes them. ``check(tree, access)`` refuses the statement
(PrivilegeError) unless the user has all of them; it is pure: ``Access`` holds the grants, owners
and view definitions read from the catalog before the statement, so revoking a grant takes effect
at the next statement.

Views run with their definer's rights (as in PostgreSQL): reading a view needs SELECT on the
view, and the view's owner must be able to read what the view reads, checked when the view is
read (so revoking from the owner closes the view too). Admins pass every check.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, replace

from sqlglot import exp

from indb.catalog.names import FRAME_PREFIX, RESERVED_PREFIXES, split_name
from indb.catalog.sequences import sequence_name, unwrapped
from indb.catalog.users import OWNER
from indb.errors import CatalogError, DataError, PrivilegeError
from indb.parser import ExecuteFunction as ExecuteFunctionTree
from indb.parser import parse, render_indb
from indb.parser import dialect as trees
from indb.parser import environments, kinetica
from indb.parser import privileges as identity
from indb.parser import monitors, procedures, sequences, subscriptions
from indb.parser import macros as macro_trees
from indb.parser import named_types, prepared, transfer
from indb.planner.functions import named_table
from indb.planner.settings import SEARCH_PATH, SESSION_SETTINGS
from indb.planner.variables import is_variable
from indb.planner.upkeep import shown
from indb.planner.tables import is_temporary

PRIVILEGES = {"table": ("SELECT", "INSERT", "UPDATE", "DELETE"), "function": ("EXECUTE",),
              "model": ("USAGE",), "procedure": ("EXECUTE",), "sequence": ("USAGE", "SELECT", "UPDATE")}
# what calling each of a sequence's functions needs of it, as PostgreSQL has it
SEQUENCE_PRIVILEGES = {"nextval": "USAGE", "currval": "SELECT", "setval": "UPDATE"}
# table functions a query may call below admin: they read no files
SAFE_TABLE_FUNCTIONS = (exp.GenerateSeries, exp.Unnest)
# functions that read the host's files or run SQL given as text; refused below admin anywhere
FILE_FUNCTIONS = frozenset({
    "read_text", "read_blob", "read_csv", "read_csv_auto", "read_parquet", "parquet_scan",
    "read_json", "read_json_auto", "read_json_objects", "read_ndjson", "read_ndjson_auto",
    "read_ndjson_objects", "glob", "sniff_csv", "parquet_metadata", "parquet_schema",
    "parquet_file_metadata", "parquet_kv_metadata", "iceberg_scan", "delta_scan", "query",
    "query_table", "getenv", "read_xlsx", "sqlite_scan", "sqlite_attach"})
ADMIN, DEVELOPER = "admin", "developer"
SYSTEM_SCHEMAS = frozenset({"information_schema", "pg_catalog"})  # DuckDB's catalog
MAX_VIEW_DEPTH = 32


@dataclass(frozen=True)
class Need:
    """A privilege a statement needs: ``privilege`` on ``kind`` ``name``, where ``privilege`` is
    SELECT... EXECUTE, USAGE, OWNER (the object's owner, or admin), OUTPUT (INSERT on an existing
    table; nothing for a new one, which the user will own) or ROLE (``name`` is admin or
    developer). ``node`` is where the statement asks for it."""

    privilege: str
    kind: str
    name: str
    node: exp.Expr | None = field(default=None, compare=False)
    why: str = field(default="", compare=False)  # what in the statement needs a role


@dataclass(frozen=True)
class Access:
    """What the check knows, read from the catalog before a statement."""

    user: str
    roles: Mapping[str, frozenset[str]]               # principal -> roles granted to it
    grants: frozenset[tuple[str, str, str, str]]      # (grantee, privilege, kind, name)
    owners: Mapping[tuple[str, str], str]             # (kind, name) -> owner; absent: OWNER
    objects: Mapping[str, frozenset[str]]             # kind (table, function, model) -> names
    views: Mapping[str, str] = field(default_factory=dict)  # view name -> its query's SQL

    def exists(self, kind: str, name: str) -> bool:
        return name in self.objects.get(kind, frozenset()) or (kind == "table" and name in self.views)

    def is_admin(self, user: str) -> bool:
        return user == OWNER or ADMIN in self.roles.get(user, frozenset())

    def owner(self, kind: str, name: str) -> str:
        return self.owners.get((kind, name), OWNER)

    def may(self, user: str, privilege: str, kind: str, name: str) -> bool:
        """Whether ``user`` holds ``privilege`` on the object: as admin, as its owner, or by a
        grant to the user or one of its roles."""
        if self.is_admin(user) or self.owner(kind, name) == user:
            return True
        holders = {user, *self.roles.get(user, frozenset())}
        return any((h, privilege, kind, name) in self.grants for h in holders)


def check(tree: exp.Expr, access: Access) -> None:
    """Nothing if ``access.user`` may run the statement; PrivilegeError naming the first
    privilege it lacks otherwise (CatalogError for a table or view that does not exist)."""
    if not access.is_admin(access.user):
        check_needs(needs(tree), access)


def check_needs(needed: list[Need], access: Access) -> None:
    """Nothing if ``access.user`` holds every one of ``needed``; else PrivilegeError."""
    for need in needed:
        _check_need(need, access.user, access, 0)


def _check_need(need: Need, user: str, access: Access, depth: int, noun: str = "") -> None:
    if need.privilege == "ROLE":
        roles = access.roles.get(user, frozenset())
        if not (access.is_admin(user) or need.name in roles):
            raise PrivilegeError(f"{need.why or _statement_name(need.node)} needs the {need.name} role, which "
                                 f"{user} does not have; an admin can GRANT {need.name} TO {user}")
        return
    if need.privilege == "SELF":
        if user != need.name and not access.is_admin(user):
            raise PrivilegeError(f"{_statement_name(need.node)} for another user ({need.name}) "
                                 "needs the admin role; users do it for themselves")
        return
    if need.kind == "table" and need.name in access.views:
        _check_view(need, user, access, depth)
        return
    if not access.exists(need.kind, need.name):
        if need.privilege in ("OUTPUT", "OWNER"):  # a new object, which the user will own
            return
        if need.kind == "table":  # never let DuckDB guess: an unknown name may be a file path
            raise CatalogError(f"table {need.name} does not exist; SHOW TABLES lists the "
                               "tables (and SHOW VIEWS the views)")
    privilege = "INSERT" if need.privilege == "OUTPUT" else need.privilege
    noun = noun or need.kind
    if privilege == "OWNER":
        if access.is_admin(user) or access.owner(need.kind, need.name) == user:
            return
        raise PrivilegeError(f"only the owner of {noun} {need.name} "
                             f"({access.owner(need.kind, need.name)}) or an admin may do this")
    if not access.may(user, privilege, need.kind, need.name):
        raise PrivilegeError(f"{user} may not {_verb(privilege)} {noun} {need.name}: it has "
                             f"no {privilege} privilege on it; its owner or an admin can GRANT "
                             f"{privilege} ON {noun.upper()} {need.name} TO {user}")


def _check_view(need: Need, user: str, access: Access, depth: int) -> None:
    """Reading a view: the reader's SELECT on it, then the view's reads with its owner's rights."""
    if need.privilege not in ("SELECT", "OWNER"):
        raise PrivilegeError(f"{need.name} is a view: views are read, not written")
    view_itself = replace(access, objects={**access.objects, "table": access.objects.get(
        "table", frozenset()) | {need.name}}, views={})
    _check_need(need, user, view_itself, depth, "view")
    if need.privilege == "OWNER":
        return
    if depth >= MAX_VIEW_DEPTH:
        raise PrivilegeError(f"view {need.name} is defined over too many levels of views to check")
    definer = access.owner("table", need.name)
    if access.is_admin(definer):
        return
    try:
        for inner in needs(parse(access.views[need.name])[0]):
            _check_need(inner, definer, access, depth + 1)
    except PrivilegeError as error:  # say whose rights the view lacks, or it reads as the reader's
        raise PrivilegeError(f"view {need.name} runs with the rights of its owner, {definer}, "
                             f"who lacks one: {error}") from None


def _verb(privilege: str) -> str:
    return {"SELECT": "read", "INSERT": "insert into", "UPDATE": "update", "DELETE": "delete from",
            "EXECUTE": "execute", "USAGE": "use"}.get(privilege, privilege.lower())


def _statement_name(node: exp.Expr | None) -> str:
    if node is None:
        return "this statement"
    words = render_indb(node.root()).split()[:2] or ["this"]
    return " ".join(words if len(words) > 1 and words[1] in _KIND_WORDS else words[:1])


# -- what statements need ---------------------------------------------------------------------

def needs(tree: exp.Expr) -> list[Need]:
    """Every privilege the statement needs, in the order its parts appear."""
    rule = _RULES.get(type(tree))
    if rule is None:  # a statement with no rule of its own is for admins
        return [Need("ROLE", "role", ADMIN, tree)]
    return rule(tree)


def reads(tree: exp.Expr, skip: exp.Expr | None = None) -> list[Need]:
    """What reading ``tree`` needs: SELECT on each table or view it names (except ``skip``, a
    statement's target), EXECUTE (and the inputs' reads) for TABLE(f(...)), USAGE for PREDICT,
    admin for table functions that read files, and for names outside indb's one schema."""
    out: list[Need] = []
    for node in tree.find_all(exp.Table):
        if node is skip:
            continue
        source = node.this
        if isinstance(source, exp.Identifier):
            if source.name.startswith(FRAME_PREFIX) and not node.db:
                continue  # the session's registered data (engine.registered): the caller's own
            if node.args.get("catalog"):
                out.append(Need("ROLE", "role", ADMIN, node, f"reading {render_indb(node)} (outside "
                                "indb's database)"))
            elif node.db or not defined_by_cte(node):
                out.append(_on_table("SELECT", node))
        elif isinstance(source, exp.Anonymous) and source.name.upper() == "TABLE" \
                and len(source.expressions) == 1 and isinstance(source.expressions[0], exp.Anonymous):
            inner = source.expressions[0]
            out += _execute(exp.to_identifier(inner.name), inner.expressions)
        elif not isinstance(source, SAFE_TABLE_FUNCTIONS):
            out.append(Need("ROLE", "role", ADMIN, node, f"the table function {_called(source)}"))
    for source in tree.find_all(exp.From, exp.Join):
        if not isinstance(source.this, (exp.Table, exp.Subquery, exp.Values, *SAFE_TABLE_FUNCTIONS)):
            out.append(Need("ROLE", "role", ADMIN, source.this, f"reading from {_called(source.this)}"))
    for call in tree.find_all(exp.Func):
        name: str = call.name.lower() if isinstance(call, exp.Anonymous) else call.key.lower()
        if name in FILE_FUNCTIONS or call.key in _FILE_FUNCTION_KEYS:
            out.append(Need("ROLE", "role", ADMIN, call, f"{_called(call)}, which reads files,"))
        elif name == "predict" and call.expressions and isinstance(call.expressions[0], exp.Literal):
            out.append(Need("USAGE", "model", call.expressions[0].name.lower(), call))
        elif name in SEQUENCE_PRIVILEGES:
            out.append(_on_sequence(SEQUENCE_PRIVILEGES[name], call))
        elif name.startswith(RESERVED_PREFIXES):  # PREDICT's functions and others indb registers
            out.append(Need("ROLE", "role", ADMIN, call, f"calling indb's own {_called(call)}"))
    return out


def _on_sequence(privilege: str, call: exp.Func) -> Need:
    """``privilege`` on the sequence a call names in text (``nextval('s')``); a name computed
    as the statement runs is for admins."""
    named = unwrapped(call.expressions[0]) if call.expressions else None
    if not (isinstance(named, exp.Literal) and named.is_string):
        return Need("ROLE", "role", ADMIN, call, f"{_called(call)} of a sequence named at run time")
    try:
        return Need(privilege, "sequence", sequence_name(named.name), call)
    except DataError:  # the call says so when it runs
        return Need("ROLE", "role", ADMIN, call, f"{_called(call)} of {named.name!r}")


def _called(node: exp.Expr) -> str:
    name = node.name if isinstance(node, exp.Anonymous) or not isinstance(node, exp.Func) \
        else node.sql_name()
    return f"{name.lower()}(...)"


# sqlglot's own classes of file-reading functions (ReadParquet, ReadCSV...), by their keys
_FILE_FUNCTION_KEYS = frozenset(n.replace("_", "") for n in FILE_FUNCTIONS)


def defined_by_cte(node: exp.Table) -> bool:
    """Whether an unqualified name refers to a CTE in scope: one of an enclosing query's WITH
    (in its body), or an earlier one of the WITH whose CTE holds it (itself too if RECURSIVE).
    Anything else is a table, so a name is never let through by a CTE it cannot see."""
    name = node.name.lower()
    child: exp.Expr = node
    parent = node.parent
    while parent is not None:
        if isinstance(parent, exp.With):
            index = next(i for i, cte in enumerate(parent.expressions) if cte is child)
            visible = parent.expressions[:index + 1 if parent.args.get("recursive") else index]
        else:
            with_ = parent.args.get("with_")
            visible = with_.expressions if isinstance(with_, exp.With) and child is not with_ else []
        if any(cte.alias_or_name.lower() == name for cte in visible):
            return True
        child, parent = parent, parent.parent
    return False


def _execute(name: exp.Expr, arguments: list[exp.Expr]) -> list[Need]:
    """EXECUTE FUNCTION f(...) or TABLE(f(...)): EXECUTE on f, SELECT on its input tables (their
    queries' reads are found with the statement's), INSERT on existing output tables."""
    out = [Need("EXECUTE", "function", name.name.lower(), name)]
    for argument in arguments:
        if not isinstance(argument, exp.Kwarg):
            continue
        key = argument.this.name.upper()
        value = argument.expression  # INPUT_TABLE(S)(...), or Kinetica's bare table name
        for item in value.expressions if isinstance(value, exp.Anonymous) else [value]:
            if key == "INPUT_TABLE_NAMES" and isinstance(item, exp.Column | exp.Literal) and item.name:
                out.append(_on_table("SELECT", item))
            elif key == "OUTPUT_TABLE_NAMES" and isinstance(item, exp.Literal | exp.Column) and item.name:
                out.append(_on_table("OUTPUT", item))
    return out


def _on_table(privilege: str, node: exp.Expr) -> Need:
    """``privilege`` on the table ``node`` names (t, s.t or 's.t'), by its catalog name (``s.t``
    for a table of schema s), as grants name it. DuckDB's own catalog schemas list every table,
    so they are for admins (the pg port answers them per user: server/pgcatalog.py)."""
    name = named_table(node)
    if split_name(name)[0] in SYSTEM_SCHEMAS:
        return Need("ROLE", "role", ADMIN, node, f"{name} (DuckDB's catalog, which lists every "
                    "table; the PostgreSQL port's catalog lists yours)")
    return Need(privilege, "table", name, node)


def _target(tree: exp.Expr) -> exp.Table | None:
    target = tree.this
    target = target.this if isinstance(target, exp.Schema) else target
    return target if isinstance(target, exp.Table) else None


def _write(privileges: Callable[[exp.Expr], tuple[str, ...]]) -> Callable[[exp.Expr], list[Need]]:
    """A rule for INSERT, UPDATE, DELETE and MERGE: the privileges on the target, then the reads
    of everything else in the statement."""
    def rule(tree: exp.Expr) -> list[Need]:
        target = _target(tree)
        if target is None or not isinstance(target.this, exp.Identifier):
            return [Need("ROLE", "role", ADMIN, tree)]
        return [_on_table(p, target) for p in privileges(tree)] + reads(tree, skip=target)
    return rule


def _merge_privileges(tree: exp.Expr) -> tuple[str, ...]:
    out = ["SELECT"]
    for when in tree.find_all(exp.When):
        then = when.args.get("then")
        out.append("INSERT" if isinstance(then, exp.Insert) else
                   "UPDATE" if isinstance(then, exp.Update) else "DELETE")
    return tuple(dict.fromkeys(out))


def _create(tree: exp.Expr) -> list[Need]:
    kind = str(tree.args.get("kind") or "").upper()
    if kind == "SEQUENCE":
        return [Need("ROLE", "role", DEVELOPER, tree)]
    if kind == "INDEX" and isinstance(tree.this, exp.Index) and tree.this.args.get("table"):
        return [_on_table("OWNER", tree.this.args["table"])]  # as in PostgreSQL: the table's owner
    if kind in ("MACRO", "FUNCTION") and is_temporary(tree):
        return []  # a temporary macro, the session's alone: anyone's, as a temporary view
    if kind not in ("TABLE", "VIEW"):
        return [Need("ROLE", "role", ADMIN, tree)]  # macros, schemas, secrets, types
    target = _target(tree)
    # a temporary table anyone may make (PostgreSQL grants TEMP to PUBLIC): it is the session's
    out = [] if is_temporary(tree) else [Need("ROLE", "role", DEVELOPER, tree)]
    if tree.args.get("replace") and target is not None and not is_temporary(tree):
        out.append(_on_table("OWNER", target))
    expression = tree.args.get("expression")
    return out + (reads(expression) if isinstance(expression, exp.Expr) else []) + _referenced(tree)


def _referenced(tree: exp.Expr) -> list[Need]:
    """SELECT on each table a statement's foreign keys reference (PostgreSQL's REFERENCES
    privilege): a key's checks tell whether a value is there."""
    targets = [r.this.this if isinstance(r.this, exp.Schema) else r.this
               for r in tree.find_all(exp.Reference)]
    return [_on_table("SELECT", t) for t in targets if isinstance(t, exp.Table)]


def _drop(tree: exp.Expr) -> list[Need]:
    kind = str(tree.args.get("kind") or "").upper()
    kinds = {"TABLE": "table", "VIEW": "table", "FUNCTION": "function"}
    if kind == "INDEX":
        return []  # its table's owner, whom the engine checks once it has found the table
    if kind not in kinds:
        return [Need("ROLE", "role", ADMIN, tree)]
    return [_on_table("OWNER", t) if kinds[kind] == "table" else Need("OWNER", kinds[kind],
                                                                      t.name.lower(), t)
            for t in tree.find_all(exp.Table) if isinstance(t.this, exp.Identifier)]


def _describe(tree: exp.Expr) -> list[Need]:
    target = tree.this
    if str(tree.args.get("kind") or "").upper() == "FUNCTION":
        return [Need("EXECUTE", "function", target.name.lower(), target)]
    return reads(tree)


def _owner_of(kind: str) -> Callable[[exp.Expr], list[Need]]:
    """A rule for a statement on an object only its owner (or an admin) may change; without
    an object (VACUUM, OPTIMIZE of every table) it is for admins."""
    def rule(tree: exp.Expr) -> list[Need]:
        target = tree.this
        if not isinstance(target, exp.Expr) or not target.name:
            return [Need("ROLE", "role", ADMIN, tree)]
        if kind == "table":
            return [_on_table("OWNER", target)]
        return [Need("OWNER", kind, target.name.lower(), target)]
    return rule


def _developer_owning(kind: str) -> Callable[[exp.Expr], list[Need]]:
    """CREATE [OR REPLACE] FUNCTION, CREATE MODEL: registering code needs developer; replacing
    (or adding a version to) an existing one needs its ownership too."""
    def rule(tree: exp.Expr) -> list[Need]:
        return [Need("ROLE", "role", DEVELOPER, tree), Need("OWNER", kind, tree.this.name.lower(),
                                                                tree.this)]
    return rule


def _self_or_admin(tree: exp.Expr) -> list[Need]:
    """ALTER USER, CREATE TOKEN, SHOW TOKENS/GRANTS FOR: users do these for themselves."""
    target = tree.this
    return [] if target is None else [Need("SELF", "user", target.name.lower(), target)]


def _nothing(tree: exp.Expr) -> list[Need]:
    return []


def _admin(tree: exp.Expr) -> list[Need]:
    return [Need("ROLE", "role", ADMIN, tree)]


def _show(tree: exp.Expr) -> list[Need]:
    """DuckDB's SHOW t needs what reading ``t`` does (SHOW search_path: nothing)."""
    assert isinstance(tree, exp.Command)
    table = shown(tree)
    return reads(table) if table is not None else []


# statements sqlglot reads as commands, by their keyword
# (SET: PostgreSQL's SET search_path TO ..., the planner refusing any other)
_COMMANDS: dict[str, Callable[[exp.Expr], list[Need]]] = {"RESET": _nothing, "SHOW": _show,
                                                          "SET": _nothing, "SAVEPOINT": _nothing,
                                                          "RELEASE": _nothing}


def _settings(assignments: list[exp.Expr], tree: exp.Expr) -> list[Need]:
    named = [a.this.sql().lower() for a in assignments if isinstance(a, exp.EQ)]
    if len(named) == len(assignments) and all(n in SESSION_SETTINGS or n in SEARCH_PATH
                                              for n in named):
        return []
    return _admin(tree)


def _explain(tree: exp.Expr) -> list[Need]:
    return needs(tree.this)


def _execute_statement(tree: exp.Expr) -> list[Need]:
    return _execute(tree.this, tree.expressions) + reads(tree)


def _grant_on(tree: exp.Expr) -> list[Need]:
    kind = "table" if tree.args["kind"] == "VIEW" else tree.args["kind"].lower()
    if kind == "table":
        return [_on_table("OWNER", tree.this)]
    if kind == "sequence":
        return [Need("OWNER", kind, named_table(tree.this), tree.this)]
    return [Need("OWNER", kind, tree.this.name.lower(), tree.this)]


_KIND_WORDS = {"TABLE", "VIEW", "FUNCTION", "MODEL", "USER", "ROLE", "TOKEN", "TOKENS", "GRANTS",
               "MACRO", "SCHEMA", "SECRET", "USERS", "ROLES", "PROCEDURE", "SEQUENCE"}

# statement tree -> what it needs; a statement missing here needs admin
_RULES: dict[type[exp.Expr], Callable[[exp.Expr], list[Need]]] = {
    **dict.fromkeys((exp.Select, exp.Union, exp.Intersect, exp.Except, exp.Values, exp.Subquery),
                    reads),
    # INSERT OVERWRITE deletes every row it does not write
    exp.Insert: _write(lambda tree: ("INSERT", "DELETE") if tree.args.get("overwrite") else ("INSERT",)),
    exp.Update: _write(lambda tree: ("UPDATE", "SELECT")),
    exp.Delete: _write(lambda tree: ("DELETE", "SELECT") if tree.args.get("where") else ("DELETE",)),
    exp.Merge: _write(_merge_privileges),
    exp.TruncateTable: lambda tree: [_on_table("DELETE", t) for t in tree.expressions],
    exp.Analyze: lambda tree: [_on_table("SELECT", t) for t in tree.args.get("tables") or []],
    exp.Comment: lambda tree: [_on_table("OWNER", exp.Table(this=tree.this.args["table"],
                                                            db=tree.this.args.get("db"))
                                         if isinstance(tree.this, exp.Column) else tree.this)],
    exp.Create: _create,
    exp.Drop: _drop,
    exp.Alter: lambda tree: _owner_of("table")(tree) + _referenced(tree),
    exp.Describe: _describe,
    exp.Show: _nothing,
    # a connection's own settings (planner.settings.SESSION_SETTINGS) are anyone's to set; any
    # other (the sandbox's enable_external_access) an admin's, and refused by the planner too
    exp.Set: lambda tree: reads(tree) if is_variable(tree)  # SET VARIABLE v = (SELECT ...)
    else _settings([item.this for item in tree.expressions], tree),
    exp.Pragma: lambda tree: _settings([tree.this], tree),
    exp.Use: _nothing,  # (a session's search path: its reads are checked as they come)
    # a transaction's statements: its writes are checked as they come
    exp.Transaction: _nothing, exp.Commit: _nothing, exp.Rollback: _nothing,
    exp.Command: lambda tree: _COMMANDS.get(str(tree.this).upper(), _admin)(tree),
    trees.CreateFunction: _developer_owning("function"),
    ExecuteFunctionTree: _execute_statement,
    trees.ShowFunction: _nothing,
    trees.ShowFunctionStatus: _nothing,  # the handler shows users below admin their own runs
    trees.KillFunction: _nothing,  # the handler lets a run's starter or an admin kill it
    trees.CreateModel: _developer_owning("model"),
    trees.ShowModels: _nothing,
    trees.DescribeModel: lambda tree: [Need("USAGE", "model", tree.this.name.lower(), tree.this)],
    trees.DropModel: _owner_of("model"),
    trees.AlterModelAlias: _owner_of("model"),
    trees.Explain: _explain,
    sequences.ShowSequences: _nothing,
    sequences.DropSequence: lambda tree: [Need("OWNER", "sequence", named_table(t), t)
                                          for t in tree.expressions],
    sequences.AlterSequence: lambda tree: [Need("OWNER", "sequence", named_table(tree.this),
                                                tree.this)],
    trees.Vacuum: _owner_of("table"),
    trees.Optimize: _owner_of("table"),
    trees.ShowSnapshots: lambda tree: [_on_table("SELECT", tree.this)],
    trees.ShowViews: _nothing,
    # a macro's body is put in its callers' statements, checked there as theirs; dropping one
    # of the catalog's is an admin's (the handler checks: a temporary one is the session's)
    macro_trees.ShowMacros: _nothing,
    exp.Cache: lambda tree: reads(tree.this),  # Spark's; they read nothing, but say it exists
    exp.Refresh: lambda tree: reads(tree.this),
    exp.Uncache: _nothing,
    macro_trees.DropMacro: _nothing,
    # a prepared statement is checked as it is prepared, and again at each EXECUTE (which the
    # engine puts the statement in place of); DEALLOCATE drops the session's own
    prepared.Prepare: lambda tree: needs(tree.expression),
    prepared.Deallocate: _nothing,
    # the database's named types, as its macros, are its admins' to make and drop
    named_types.CreateType: _admin,
    named_types.DropType: _admin,
    named_types.AlterType: _admin,
    # a directory of the host's files written or read, with every table's rows
    transfer.ExportDatabase: _admin,
    transfer.ImportDatabase: _admin,
    # SHOW CREATE TABLE t needs what reading ``t`` does (a view's definition is its readers')
    trees.ShowCreate: lambda tree: reads(tree.this),
    kinetica.ShowSchemas: _nothing,
    environments.DescribeFunctionEnvironment: _nothing,
    environments.ShowFunctionEnvironment: _nothing,
    identity.AlterUser: _self_or_admin,
    identity.CreateToken: _self_or_admin,
    identity.ShowTokens: _self_or_admin,
    identity.ShowGrants: _self_or_admin,
    identity.RevokeToken: _nothing,  # the handler lets a user revoke only its own tokens
    identity.GrantOn: _grant_on,
    identity.SetOwner: _admin,  # an object given to another principal: for admins
    # a procedure registers work that runs later, with its definer's rights
    procedures.CreateProcedure: _developer_owning("procedure"),
    procedures.ExecuteProcedure: lambda tree: [Need("EXECUTE", "procedure", tree.this.name.lower(),
                                                    tree.this)],
    procedures.ShowProcedure: _nothing,  # the handler shows the procedures the user may execute
    procedures.DropProcedure: _owner_of("procedure"),
    # a monitor registers work that runs later (and makes its metrics table), reads the table
    # and calls the model; its handlers let only its creator (or an admin) run or drop it, and
    # a run checks the reads again
    monitors.CreateMonitor: lambda tree: [Need("ROLE", "role", DEVELOPER, tree),
                                          _on_table("SELECT", tree.args["table"]),
                                          Need("USAGE", "model", tree.args["model"].name.lower(),
                                               tree.args["model"])],
    monitors.ExecuteMonitor: _nothing,
    monitors.ShowMonitors: _nothing,  # the handler shows the monitors whose metrics one may read
    monitors.DropMonitor: _nothing,
    # a subscription runs its function on the table's ticks with its definer's rights: what
    # EXECUTE FUNCTION over the table into the outputs needs (checked again when it starts)
    subscriptions.CreateSubscription: lambda tree: (
        _execute(tree.args["function"], tree.expressions) + reads(tree)
        + [_on_table("OUTPUT", o) for o in tree.args.get("outputs") or []]),
    subscriptions.ShowSubscriptions: _nothing,  # the handler shows those on tables one may read
    subscriptions.DropSubscription: _nothing,  # the handler lets its creator or an admin drop it
}
