"""Score days with the market autoencoder: the reconstruction error and whether it is an anomaly.

Input rows: (sym, date, close, volume, ret_z, vol_z). Output rows: (sym, date, close, volume,
error, anomaly), anomaly meaning error above the threshold learned in training.
Parameters: model (default market_autoencoder), version (number or alias; default the latest).
"""

import numpy as np

from indb import udf


@udf.function(frame="numpy", params=["model", "version"])
def anomaly_score(ctx, days):
    model = ctx.models.load(ctx.params.get("model", "market_autoencoder"), ctx.params.get("version"))
    errors = model.predict(np.column_stack([days["ret_z"], days["vol_z"]]))
    threshold = model.info.metrics["threshold"]
    return {"sym": days["sym"], "date": days["date"], "close": days["close"],
            "volume": days["volume"], "error": errors, "anomaly": errors > threshold}
