"""Score ticks with the market autoencoder as they arrive: a subscription's function.

Input rows: (time, sym, px, ret_z, vol_z), the features made per symbol by the subscription's
query (docs/streaming.md, "Subscriptions"). Output rows: (time, sym, px, error, anomaly), anomaly
meaning error above the threshold. Parameters: model (default market_autoencoder), version
(number or alias; default the latest), threshold (default the model's threshold metric). On a
GPU the model runs from CUDA graphs.
"""

import numpy as np

from indb import udf


@udf.function(frame="numpy", params=["model", "version", "threshold"])
def tick_anomaly(ctx, ticks):
    model = ctx.models.load(ctx.params.get("model", "market_autoencoder"), ctx.params.get("version"),
                            cuda_graphs=ctx.device == "cuda")
    errors = model.predict(np.column_stack([ticks["ret_z"], ticks["vol_z"]]).astype(np.float32))
    threshold = float(ctx.params.get("threshold", model.info.metrics.get("threshold", np.inf)))
    return {"time": ticks["time"], "sym": ticks["sym"], "px": ticks["px"], "error": errors,
            "anomaly": errors > threshold}
