"""Fit y = a*x + b on this shard's rows (least squares); the model is then averaged in SQL.

Each instance trains on its own shard, next to the data, and writes its coefficients with the row
count; a weighted average over the shards (sql/kinetica_examples.sql) gives the final model.
Parameters: ``x`` and ``y``, the column names.
"""
import numpy as np
from kinetica_proc import ProcData

proc_data = ProcData()
x_name = proc_data.params.get("x", "x")
y_name = proc_data.params.get("y", "y")
rows = proc_data.input_data[0]
x = np.asarray(rows[x_name], dtype=float)
y = np.asarray(rows[y_name], dtype=float)
out = proc_data.output_data[0]
if len(x) >= 2:
    slope, intercept = np.polyfit(x, y, 1)
    out.size = 1  # one row: its slots are assigned by index
    out["shard"][0] = int(proc_data.request_info["data_segment_number"])
    out["slope"][0] = float(slope)
    out["intercept"][0] = float(intercept)
    out["row_count"][0] = len(x)
proc_data.status = f"fit on {len(x)} rows"
proc_data.complete()
