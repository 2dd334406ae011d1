"""Tables of PostgreSQL's catalog that DuckDB's lacks and clients read, empty in the pg port's
shadow (pgcatalog): indb has none of those objects. Each with its columns' types, where a
query uses them as arrays or compares them."""

from __future__ import annotations

# (psql's \d asks for a table's policies, inheritance, publications, statistics objects...)
_INT, _TEXT, _BOOL, _INTS, _TEXTS = "BIGINT", "VARCHAR", "BOOLEAN", "BIGINT[]", "VARCHAR[]"
EMPTY_TABLES: dict[str, dict[str, str]] = {
    "pg_policy": {"oid": _INT, "polname": _TEXT, "polrelid": _INT, "polcmd": _TEXT,
                  "polpermissive": _BOOL, "polroles": _INTS, "polqual": _TEXT,
                  "polwithcheck": _TEXT},
    "pg_db_role_setting": {"setdatabase": _INT, "setrole": _INT, "setconfig": _TEXTS},
    "pg_event_trigger": {"oid": _INT, "evtname": _TEXT, "evtevent": _TEXT, "evtowner": _INT,
                         "evtfoid": _INT, "evtenabled": _TEXT, "evttags": _TEXTS},
    "pg_inherits": {"inhrelid": _INT, "inhparent": _INT, "inhseqno": _INT,
                    "inhdetachpending": _BOOL},
    "pg_publication": {"oid": _INT, "pubname": _TEXT, "pubowner": _INT, "puballtables": _BOOL,
                       "pubinsert": _BOOL, "pubupdate": _BOOL, "pubdelete": _BOOL,
                       "pubtruncate": _BOOL, "pubviaroot": _BOOL},
    "pg_publication_rel": {"oid": _INT, "prpubid": _INT, "prrelid": _INT, "prqual": _TEXT,
                           "prattrs": _INTS},
    "pg_publication_namespace": {"oid": _INT, "pnpubid": _INT, "pnnspid": _INT},
    "pg_statistic_ext": {"oid": _INT, "stxrelid": _INT, "stxname": _TEXT, "stxnamespace": _INT,
                         "stxowner": _INT, "stxstattarget": _INT, "stxkeys": _INTS,
                         "stxkind": _TEXTS, "stxexprs": _TEXT},
    "pg_trigger": {"oid": _INT, "tableoid": _INT, "tgrelid": _INT, "tgparentid": _INT, "tgname": _TEXT,
                   "tgfoid": _INT, "tgtype": _INT, "tgenabled": _TEXT, "tgisinternal": _BOOL,
                   "tgconstrrelid": _INT, "tgconstrindid": _INT, "tgconstraint": _INT,
                   "tgdeferrable": _BOOL, "tginitdeferred": _BOOL, "tgnargs": _INT,
                   "tgattr": _INTS, "tgqual": _TEXT},
    "pg_rewrite": {"oid": _INT, "tableoid": _INT, "rulename": _TEXT, "ev_class": _INT, "ev_type": _TEXT,
                   "ev_enabled": _TEXT, "is_instead": _BOOL, "ev_qual": _TEXT, "ev_action": _TEXT},
    "pg_partitioned_table": {"partrelid": _INT, "partstrat": _TEXT, "partnatts": _INT,
                             "partdefid": _INT, "partattrs": _INTS, "partexprs": _TEXT,
                             "partclass": _INTS},
    "pg_foreign_table": {"ftrelid": _INT, "ftserver": _INT, "ftoptions": _TEXTS},
    # materialized views (dbt lists a schema's relations from pg_tables, pg_views and these)
    "pg_matviews": {"schemaname": _TEXT, "matviewname": _TEXT, "matviewowner": _TEXT,
                    "tablespace": _TEXT, "hasindexes": _BOOL, "ispopulated": _BOOL,
                    "definition": _TEXT},
    "pg_extension": {"oid": _INT, "extname": _TEXT, "extowner": _INT, "extnamespace": _INT,
                     "extrelocatable": _BOOL, "extversion": _TEXT, "extconfig": _INTS,
                     "extcondition": _TEXTS},
    # operator classes and families (psql's \dd reads them, with each row's tableoid)
    "pg_opclass": {"oid": _INT, "tableoid": _INT, "opcmethod": _INT, "opcname": _TEXT,
                   "opcnamespace": _INT, "opcowner": _INT, "opcfamily": _INT, "opcintype": _INT,
                   "opcdefault": _BOOL, "opckeytype": _INT},
    "pg_opfamily": {"oid": _INT, "tableoid": _INT, "opfmethod": _INT, "opfname": _TEXT,
                    "opfnamespace": _INT, "opfowner": _INT},
    # foreign data wrappers and servers, with their options (pg_dump lists them)
    "pg_foreign_data_wrapper": {"oid": _INT, "fdwname": _TEXT, "fdwowner": _INT,
                                "fdwhandler": _INT, "fdwvalidator": _INT, "fdwacl": _TEXTS,
                                "fdwoptions": _TEXTS},
    "pg_foreign_server": {"oid": _INT, "srvname": _TEXT, "srvowner": _INT, "srvfdw": _INT,
                          "srvtype": _TEXT, "srvversion": _TEXT, "srvacl": _TEXTS,
                          "srvoptions": _TEXTS},
    # operators and support functions of operator families (pg_dump reads their dependencies)
    "pg_amop": {"oid": _INT, "amopfamily": _INT, "amopopr": _INT, "amopmethod": _INT},
    "pg_amproc": {"oid": _INT, "amprocfamily": _INT, "amproc": _INT},
    "pg_range": {"rngtypid": _INT, "rngsubtype": _INT, "rngmultitypid": _INT,
                 "rngcollation": _INT, "rngsubopc": _INT, "rngcanonical": _INT, "rngsubdiff": _INT},
}
