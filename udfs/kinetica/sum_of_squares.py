"""Sum of squares of every numeric column of the input, one row per shard and column.

A Kinetica UDF script: the output table is sized for its rows first, then filled in order with
``append``; the per-shard partial sums land in the output table, and SQL adds them up across
shards afterwards (see sql/kinetica_examples.sql).
"""
from kinetica_proc import ProcData

proc_data = ProcData()
in_table = proc_data.input_data[0]
out_table = proc_data.output_data[0]
shard = int(proc_data.request_info["data_segment_number"])
numeric = [c for c in in_table if all(isinstance(v, (int, float)) or v is None for v in c)]
out_table.size = len(numeric)
for column in numeric:
    out_table["shard"].append(shard)
    out_table["column_name"].append(column.name)
    out_table["sum_of_squares"].append(float(sum(v * v for v in column if v is not None)))
    out_table["row_count"].append(len(column))
proc_data.complete()
