"""Identity and privileges in indb's SQL: users, roles, grants and API tokens.

- ``CREATE USER u [PASSWORD 'secret']``, ``ALTER USER u PASSWORD 'secret' | PASSWORD NULL``,
  ``CREATE ROLE r``, ``DROP USER|ROLE [IF EXISTS] name``;
- ``GRANT role[, ...] TO user[, ...]``, ``REVOKE role[, ...] FROM user[, ...]``;
- ``GRANT privilege[, ...] ON [TABLE|VIEW|FUNCTION|MODEL|PROCEDURE|SEQUENCE] name TO grantee[,
  ...]`` and
  ``REVOKE ... FROM ...`` (privileges: SELECT, INSERT, UPDATE, DELETE, EXECUTE, USAGE, ALL);
- ``CREATE TOKEN FOR u [EXPIRES 'timestamp' | EXPIRES IN n DAYS]``, ``SHOW TOKENS [FOR u]``,
  ``REVOKE TOKEN 'id'`` (or ``DROP TOKEN 'id'``);
- ``SHOW GRANTS [FOR name]``, ``SHOW USERS``, ``SHOW ROLES``.

The parse functions take the dialect's parser and return None (having consumed nothing) when the
statement is not theirs, so the dialect chains them before DuckDB's own parsers.
"""

from __future__ import annotations

from typing import Any

from sqlglot import exp
from sqlglot.generator import Generator
from sqlglot.parser import Parser
from sqlglot.tokens import TokenType

PRINCIPAL_KINDS = ("USER", "ROLE")
OBJECT_KINDS = ("TABLE", "VIEW", "FUNCTION", "MODEL", "PROCEDURE", "SEQUENCE")


class CreatePrincipal(exp.Expression):
    """``CREATE USER u [PASSWORD '...']`` or ``CREATE ROLE r``."""

    arg_types = {"this": True, "kind": True, "password": False}


class AlterUser(exp.Expression):
    """``ALTER USER u PASSWORD '...'`` (``password`` is exp.Null for ``PASSWORD NULL``)."""

    arg_types = {"this": True, "password": True}


class DropPrincipal(exp.Expression):
    """``DROP USER|ROLE [IF EXISTS] name``."""

    arg_types = {"this": True, "kind": True, "exists": False}


class GrantRole(exp.Expression):
    """``GRANT r, ... TO u, ...`` (``revoke``: ``REVOKE r, ... FROM u, ...``)."""

    arg_types = {"roles": True, "users": True, "revoke": False}


class GrantOn(exp.Expression):
    """``GRANT SELECT, ... ON TABLE t TO u, ...`` (``revoke``: ``REVOKE ... FROM ...``)."""

    arg_types = {"privileges": True, "kind": True, "this": True, "grantees": True, "revoke": False}


class SetOwner(exp.Expression):
    """``ALTER TABLE|VIEW|SEQUENCE|FUNCTION|MODEL|PROCEDURE name OWNER TO u`` (pg_dump's)."""

    arg_types = {"this": True, "kind": True, "owner": True}


class CreateToken(exp.Expression):
    """``CREATE TOKEN FOR u [EXPIRES 'timestamp' | EXPIRES IN n DAYS]``."""

    arg_types = {"this": True, "expires": False, "days": False}


class ShowTokens(exp.Expression):
    """``SHOW TOKENS [FOR u]``."""

    arg_types = {"this": False}


class RevokeToken(exp.Expression):
    """``REVOKE TOKEN 'id'`` or ``DROP TOKEN 'id'``."""

    arg_types = {"this": True}


class ShowGrants(exp.Expression):
    """``SHOW GRANTS [FOR name]``."""

    arg_types = {"this": False}


class ShowPrincipals(exp.Expression):
    """``SHOW USERS`` or ``SHOW ROLES``."""

    arg_types = {"kind": True}


Expr = exp.Expr


def parse_create(p: Parser) -> Expr | None:
    """CREATE USER, CREATE ROLE, CREATE TOKEN (after CREATE)."""
    if p._match_text_seq("TOKEN"):
        if not p._match(TokenType.FOR):
            p.raise_error("expected FOR user after CREATE TOKEN: CREATE TOKEN FOR alice")
        user = _name(p, "CREATE TOKEN FOR")
        expires = days = None
        if p._match_text_seq("EXPIRES"):
            if p._match(TokenType.IN):
                days = p._parse_number()
                if days is None or not p._match_text_seq("DAYS"):
                    p.raise_error("expected EXPIRES IN n DAYS, as in EXPIRES IN 30 DAYS")
            else:
                expires = p._parse_string()
                if expires is None:
                    p.raise_error("EXPIRES takes a timestamp in quotes or IN n DAYS: "
                                  "EXPIRES '2027-01-01 00:00:00'")
        return p.expression(CreateToken(this=user, expires=expires, days=days))
    kind = _principal_kind(p)
    if kind is None:
        return None
    name = _name(p, f"CREATE {kind}")
    password = None
    if kind == "USER" and p._match_text_seq("PASSWORD"):
        password = _password(p)
    return p.expression(CreatePrincipal(this=name, kind=kind, password=password))


def parse_alter(p: Parser) -> Expr | None:
    """ALTER USER u PASSWORD ..., ALTER kind name OWNER TO u (after ALTER)."""
    owned = _set_owner(p)
    if owned is not None:
        return owned
    if not p._match_text_seq("USER"):
        return None
    name = _name(p, "ALTER USER")
    if not p._match_text_seq("PASSWORD"):
        p.raise_error("expected PASSWORD after ALTER USER name: ALTER USER alice PASSWORD 'new'")
    password = exp.Null() if p._match(TokenType.NULL) else _password(p)
    return p.expression(AlterUser(this=name, password=password))


def _set_owner(p: Parser) -> SetOwner | None:
    """``kind [ONLY] name OWNER TO u``, or None with nothing read."""
    start = p._index
    kind = p._curr.text.upper() if p._curr else ""
    if kind not in OBJECT_KINDS:
        return None
    p._advance()
    p._match_text_seq("ONLY")
    target = p._parse_table_parts() if kind in ("TABLE", "VIEW", "SEQUENCE") else p._parse_id_var()
    if target is None or not p._match_text_seq("OWNER", "TO"):
        p._retreat(start)
        return None
    return p.expression(SetOwner(this=target, kind=kind, owner=_name(p, f"ALTER {kind} ... OWNER TO")))


def parse_drop(p: Parser) -> Expr | None:
    """DROP USER, DROP ROLE, DROP TOKEN (after DROP)."""
    if p._match_text_seq("TOKEN"):
        return p.expression(RevokeToken(this=_token_id(p)))
    kind = _principal_kind(p)
    if kind is None:
        return None
    exists = p._match_text_seq("IF", "EXISTS")
    return p.expression(DropPrincipal(this=_name(p, f"DROP {kind}"), kind=kind, exists=bool(exists)))


def parse_show(p: Parser) -> Expr | None:
    """SHOW GRANTS, SHOW TOKENS, SHOW USERS, SHOW ROLES (after SHOW)."""
    for word, tree in (("GRANTS", ShowGrants), ("TOKENS", ShowTokens)):
        if p._match_text_seq(word):
            name = _name(p, f"SHOW {word} FOR") if p._match(TokenType.FOR) else None
            return p.expression(tree(this=name))
    for kind in PRINCIPAL_KINDS:
        if p._match_text_seq(f"{kind}S"):
            return p.expression(ShowPrincipals(kind=kind))
    return None


def parse_grant(p: Parser, revoke: bool = False) -> Expr:
    """GRANT/REVOKE of roles, of privileges on objects, and REVOKE TOKEN (after the keyword)."""
    verb, to = ("REVOKE", "FROM") if revoke else ("GRANT", "TO")
    if revoke and p._match_text_seq("TOKEN"):
        return p.expression(RevokeToken(this=_token_id(p)))
    words = p._parse_csv(lambda: _word(p))
    if not words:
        p.raise_error(f"expected a role or privileges after {verb}")
    if p._match(TokenType.ON):
        kind = p._curr.text.upper() if p._curr else ""
        if kind in OBJECT_KINDS:
            p._advance()
        else:  # standard SQL: ON name is ON TABLE name
            kind = "TABLE"
        target = p._parse_table_parts()
        if target is None or not target.name:
            p.raise_error(f"{verb} ... ON takes [TABLE|VIEW|FUNCTION|MODEL|PROCEDURE|SEQUENCE] and "
                          f"a name, as in {verb} SELECT ON TABLE t {to} analyst")
        if not p._match_text_seq(to):
            p.raise_error(f"expected {to} and who after {verb} ... ON {kind} name")
        grantees = _names(p, verb)
        privileges = [exp.var(w.name.upper()) for w in words]
        return p.expression(GrantOn(privileges=privileges, kind=kind, this=target,
                                    grantees=grantees, revoke=revoke))
    if not p._match_text_seq(to):
        p.raise_error(f"expected {to} user after {verb} role, or "
                      f"ON TABLE|VIEW|FUNCTION|MODEL name after {verb} privileges")
    return p.expression(GrantRole(roles=words, users=_names(p, verb), revoke=revoke))


def _word(p: Parser) -> exp.Identifier | None:
    """A role or privilege name: any word (SELECT, INSERT are keywords) up to ON, TO or FROM."""
    if not p._curr or p._curr.token_type in (TokenType.COMMA, TokenType.ON, TokenType.SEMICOLON) \
            or p._curr.text.upper() in ("TO", "FROM"):
        return None
    p._advance()
    return exp.to_identifier(p._prev.text)


def _principal_kind(p: Parser) -> str | None:
    for kind in PRINCIPAL_KINDS:
        if p._match_text_seq(kind):
            return kind
    return None


def _name(p: Parser, after: str) -> exp.Identifier:
    name = p._parse_id_var(any_token=False)
    if not isinstance(name, exp.Identifier):
        p.raise_error(f"expected a name after {after}")
    return name  # type: ignore[return-value]


def _names(p: Parser, verb: str) -> list[exp.Identifier]:
    names = [_name(p, verb)]
    while p._match(TokenType.COMMA):
        names.append(_name(p, verb))
    return names


def _password(p: Parser) -> exp.Expr:
    password = p._parse_string()
    if password is None:
        p.raise_error("PASSWORD takes a string in quotes: PASSWORD 'correct horse'")
    return password  # type: ignore[return-value]


def _token_id(p: Parser) -> exp.Expr:
    token = p._parse_string()
    if token is None:
        p.raise_error("expected the token's id in quotes (SHOW TOKENS lists them): REVOKE TOKEN 'id'")
    return token  # type: ignore[return-value]


def _grant_sql(g: Generator, e: GrantOn) -> str:
    verb, to = ("REVOKE", "FROM") if e.args.get("revoke") else ("GRANT", "TO")
    return (f"{verb} {g.expressions(e, 'privileges', flat=True)} ON {e.args['kind']} "
            f"{g.sql(e, 'this')} {to} {g.expressions(e, 'grantees', flat=True)}")


def _role_sql(g: Generator, e: GrantRole) -> str:
    verb, to = ("REVOKE", "FROM") if e.args.get("revoke") else ("GRANT", "TO")
    return f"{verb} {g.expressions(e, 'roles', flat=True)} {to} {g.expressions(e, 'users', flat=True)}"


def _token_sql(g: Generator, e: CreateToken) -> str:
    text = f"CREATE TOKEN FOR {g.sql(e, 'this')}"
    if e.args.get("expires"):
        text += f" EXPIRES {g.sql(e, 'expires')}"
    if e.args.get("days"):
        text += f" EXPIRES IN {g.sql(e, 'days')} DAYS"
    return text


def _for(word: str) -> Any:
    return lambda g, e: word + (f" FOR {g.sql(e, 'this')}" if e.args.get("this") else "")


TRANSFORMS: dict[type[exp.Expr], Any] = {
    CreatePrincipal: lambda g, e: f"CREATE {e.args['kind']} {g.sql(e, 'this')}"
    + (f" PASSWORD {g.sql(e, 'password')}" if e.args.get("password") else ""),
    AlterUser: lambda g, e: f"ALTER USER {g.sql(e, 'this')} PASSWORD {g.sql(e, 'password')}",
    DropPrincipal: lambda g, e: f"DROP {e.args['kind']} " + ("IF EXISTS " if e.args.get("exists") else "")
    + g.sql(e, "this"),
    GrantRole: _role_sql,
    GrantOn: _grant_sql,
    CreateToken: _token_sql,
    ShowTokens: _for("SHOW TOKENS"),
    RevokeToken: lambda g, e: f"REVOKE TOKEN {g.sql(e, 'this')}",
    ShowGrants: _for("SHOW GRANTS"),
    ShowPrincipals: lambda g, e: f"SHOW {e.args['kind']}S",
    SetOwner: lambda g, e: f"ALTER {e.args['kind']} {g.sql(e, 'this')} OWNER TO {g.sql(e, 'owner')}",
}
