select struct_pack(columns(['sym']), n := 1), struct_pack(sym, px) from ticks
-- renders as (DuckDB's struct_pack of COLUMNS kept as the call, so that DuckDB names each field after its column):
SELECT STRUCT_PACK(COLUMNS(['sym']), n := 1), {'sym': sym, 'px': px} FROM ticks
