"""Train the market autoencoder on every row it is given and learn the anomaly threshold.

Input rows: (ret_z, vol_z), normalised in SQL. The threshold comes from the training errors:
``factor`` (default 20) times their ``quantile`` (default 0.99), i.e. an order of magnitude and
more above what 99% of the training days give. A quantile is a cut that the rare anomalies in the
training data barely move. It is saved with the model, as its ``threshold`` metric.
Parameters: epochs, lr, quantile, factor, seed, model (default market_autoencoder).
"""

import numpy as np
import torch

from autoencoder_model import Autoencoder, ReconstructionError
from indb import udf


@udf.function(frame="numpy", params=["epochs", "lr", "quantile", "factor", "seed", "model"])
def autoencoder_train(ctx, days):
    x = torch.from_numpy(np.column_stack([days["ret_z"], days["vol_z"]]).astype(np.float32))
    if len(x) < 10:
        raise ValueError(f"autoencoder_train needs rows to learn from; it got {len(x)}")
    torch.manual_seed(int(ctx.params.get("seed", "0")))
    model = Autoencoder().to(ctx.device)  # on a GPU worker, trained on its GPU
    x = x.to(ctx.device)
    optimizer = torch.optim.Adam(model.parameters(), lr=float(ctx.params.get("lr", "0.01")))
    epochs = int(ctx.params.get("epochs", "60"))
    for epoch in range(epochs):
        order = torch.randperm(len(x), device=x.device)
        for start in range(0, len(x), 256):
            batch = x[order[start:start + 256]]
            optimizer.zero_grad()
            loss = ((model(batch) - batch) ** 2).mean()
            loss.backward()
            optimizer.step()
        ctx.progress(epoch + 1, epochs)
    scorer = ReconstructionError(model).eval()
    with torch.no_grad():
        errors = scorer(x).cpu().numpy()
    typical = float(np.quantile(errors, float(ctx.params.get("quantile", "0.99"))))
    threshold = typical * float(ctx.params.get("factor", "20"))
    ctx.status(f"trained on {len(x)} days; threshold {threshold:.4f}")
    ctx.models.save(ctx.params.get("model", "market_autoencoder"), scorer, example=x[:2],
                    output="value", metrics={"threshold": threshold, "train_rows": len(x),
                                             "train_error_quantile": typical,
                                             "flagged_in_training": float((errors > threshold).mean())})
    return None
