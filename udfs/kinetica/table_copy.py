"""Copy every input table to the output table of the same position, shard by shard.

A Kinetica-style UDF script, unchanged from how it runs there: ProcData gives this instance's
rows of each input and the columns of each output.
"""
from kinetica_proc import ProcData

proc_data = ProcData()
for in_table, out_table in zip(proc_data.input_data, proc_data.output_data):
    out_table.size = in_table.size
    for in_column, out_column in zip(in_table, out_table):
        for i, value in enumerate(in_column):
            out_column[i] = value
proc_data.status = f"copied {in_table.size} rows"
proc_data.complete()
