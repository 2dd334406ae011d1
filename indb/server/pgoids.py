"""PostgreSQL's catalog by name: its relations, which a query names without their schema as
PostgreSQL finds them (``FROM pg_language`` with an empty search path, as pg_dump asks), and
the oids of its tables, which ``'pg_class'::regclass`` and each catalog row's ``tableoid`` are
(pg_dump keys every object it dumps by the pair ``(tableoid, oid)``)."""

from __future__ import annotations

from sqlglot import exp

# PostgreSQL 15's catalog tables and their oids (the same in every PostgreSQL database)
TABLE_OIDS = {
    "pg_aggregate": 2600, "pg_am": 2601, "pg_amop": 2602, "pg_amproc": 2603, "pg_attrdef": 2604,
    "pg_attribute": 1249, "pg_auth_members": 1261, "pg_authid": 1260, "pg_cast": 2605,
    "pg_class": 1259, "pg_collation": 3456, "pg_constraint": 2606, "pg_conversion": 2607,
    "pg_database": 1262, "pg_db_role_setting": 2964, "pg_default_acl": 826, "pg_depend": 2608,
    "pg_description": 2609, "pg_enum": 3501, "pg_event_trigger": 3466, "pg_extension": 3079,
    "pg_foreign_data_wrapper": 2328, "pg_foreign_server": 1417, "pg_foreign_table": 3118,
    "pg_index": 2610, "pg_inherits": 2611, "pg_init_privs": 3394, "pg_language": 2612,
    "pg_largeobject": 2613, "pg_largeobject_metadata": 2995, "pg_namespace": 2615,
    "pg_opclass": 2616, "pg_operator": 2617, "pg_opfamily": 2753, "pg_parameter_acl": 6243,
    "pg_partitioned_table": 3350, "pg_policy": 3256, "pg_proc": 1255, "pg_publication": 6104,
    "pg_publication_namespace": 6237, "pg_publication_rel": 6106, "pg_range": 3541,
    "pg_replication_origin": 6000, "pg_rewrite": 2618, "pg_seclabel": 3596, "pg_sequence": 2224,
    "pg_shdepend": 1214, "pg_shdescription": 2396, "pg_shseclabel": 3592, "pg_statistic": 2619,
    "pg_statistic_ext": 3381, "pg_statistic_ext_data": 3429, "pg_subscription": 6100,
    "pg_subscription_rel": 6102, "pg_tablespace": 1213, "pg_transform": 3576, "pg_trigger": 2620,
    "pg_ts_config": 3602, "pg_ts_config_map": 3603, "pg_ts_dict": 3600, "pg_ts_parser": 3601,
    "pg_ts_template": 3764, "pg_type": 1247, "pg_user_mapping": 1418}
# PostgreSQL 15's catalog views
VIEWS = frozenset({
    "pg_available_extension_versions", "pg_available_extensions", "pg_backend_memory_contexts",
    "pg_config", "pg_cursors", "pg_file_settings", "pg_group", "pg_hba_file_rules",
    "pg_ident_file_mappings", "pg_indexes", "pg_locks", "pg_matviews", "pg_policies",
    "pg_prepared_statements", "pg_prepared_xacts", "pg_publication_tables",
    "pg_replication_origin_status", "pg_replication_slots", "pg_roles", "pg_rules",
    "pg_seclabels", "pg_sequences", "pg_settings", "pg_shadow", "pg_shmem_allocations",
    "pg_stat_activity", "pg_stat_all_indexes", "pg_stat_all_tables", "pg_stat_archiver",
    "pg_stat_bgwriter", "pg_stat_database", "pg_stat_database_conflicts", "pg_stat_gssapi",
    "pg_stat_progress_analyze", "pg_stat_progress_basebackup", "pg_stat_progress_cluster",
    "pg_stat_progress_copy", "pg_stat_progress_create_index", "pg_stat_progress_vacuum",
    "pg_stat_recovery_prefetch", "pg_stat_replication", "pg_stat_replication_slots",
    "pg_stat_slru", "pg_stat_ssl", "pg_stat_subscription", "pg_stat_subscription_stats",
    "pg_stat_sys_indexes", "pg_stat_sys_tables", "pg_stat_user_functions",
    "pg_stat_user_indexes", "pg_stat_user_tables", "pg_stat_wal", "pg_stat_wal_receiver",
    "pg_stat_xact_all_tables", "pg_stat_xact_sys_tables", "pg_stat_xact_user_functions",
    "pg_stat_xact_user_tables", "pg_statio_all_indexes", "pg_statio_all_sequences",
    "pg_statio_all_tables", "pg_statio_sys_indexes", "pg_statio_sys_sequences",
    "pg_statio_sys_tables", "pg_statio_user_indexes", "pg_statio_user_sequences",
    "pg_statio_user_tables", "pg_stats", "pg_stats_ext", "pg_stats_ext_exprs", "pg_tables",
    "pg_timezone_abbrevs", "pg_timezone_names", "pg_user", "pg_user_mappings", "pg_views"})
RELATIONS = frozenset(TABLE_OIDS) | VIEWS


def with_table_oids(tree: exp.Expr) -> exp.Expr:
    """Each ``tableoid`` of a table of the catalog (``c.tableoid``, or ``tableoid`` in a SELECT
    of that table alone) as the table's oid."""
    for column in list(tree.find_all(exp.Column)):
        if column.name.lower() == "tableoid" and not column.text("db"):
            table = _source(column)
            if table is not None and table.db.lower() == "pg_catalog" \
                    and table.name.lower() in TABLE_OIDS:
                oid: exp.Expr = exp.Literal.number(TABLE_OIDS[table.name.lower()])
                if isinstance(column.parent, exp.Select):  # a column of the result: its name kept
                    oid = exp.alias_(oid, column.name)
                column.replace(oid)
    return tree


def _source(column: exp.Column) -> exp.Table | None:
    """The table ``column`` is of: the one of its SELECT (or an enclosing one) named by its
    qualifier, or its SELECT's only table."""
    select = column.find_ancestor(exp.Select)
    while select is not None:
        from_ = select.args.get("from_")
        tables = [source for source in [from_.this if from_ else None,
                                        *(join.this for join in select.args.get("joins") or [])]
                  if isinstance(source, exp.Table)]
        if column.table:
            named = [t for t in tables if t.alias_or_name.lower() == column.table.lower()]
            if named:
                return named[0]
        elif len(tables) == 1:
            return tables[0]
        select = select.find_ancestor(exp.Select)
    return None
