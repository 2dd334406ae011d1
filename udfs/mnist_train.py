"""Train the digit classifier where the images are.

``mnist_train`` — MODE 'nondistributed': one instance trains on every shard's rows and saves the
model. MODE 'distributed': each shard's instance trains its own copy, starting from the same
weights (the latest saved version, else the same seeded initialisation), and returns its weights
with its row count; ``mnist_average`` then averages them weighted by rows (federated averaging,
FedAvg, one round per run) and saves the result as one model. Run the pair a few times for more
rounds.

Input rows: (pixels FLOAT[n] scaled to 0..1, label). Parameters (strings): epochs, batch_size,
lr, seed, model (the registry name, default mnist_cnn).
"""

import numpy as np
import torch

from indb import udf
from mnist_model import DigitsCNN, accuracy, initial_model, train


@udf.function(frame="torch", params=["epochs", "batch_size", "lr", "seed", "model"])
def mnist_train(ctx, images):
    # frame="torch": on a GPU worker the rows arrive on the GPU, and stay there for the next run
    # (another round, other hyper-parameters) while the table is unchanged
    pixels, labels = images["pixels"], images["label"].long()
    if pixels.dtype == torch.uint8:  # raw MNIST bytes
        pixels = pixels.float().div_(255.0)
    if len(pixels) == 0:
        raise ValueError("mnist_train got no rows: check the input query")
    name = ctx.params.get("model", "mnist_cnn")
    model = initial_model(ctx, name, pixels.shape[1], resume=ctx.mode == "distributed")
    loss = train(model, pixels, labels, epochs=int(ctx.params.get("epochs", "10")),
                 batch_size=int(ctx.params.get("batch_size", "64")),
                 lr=float(ctx.params.get("lr", "0.002")), seed=int(ctx.params.get("seed", "0")),
                 progress=ctx.progress, device=ctx.device)
    train_accuracy = accuracy(model, pixels, labels)
    ctx.status(f"trained on {len(pixels)} rows: loss {loss:.4f}, accuracy {train_accuracy:.4f}")
    if ctx.mode == "nondistributed":
        ctx.models.save(name, model, example=pixels[:2],
                        metrics={"train_loss": loss, "train_accuracy": train_accuracy,
                                 "train_rows": len(pixels)})
        return None
    weights = np.concatenate([p.detach().cpu().numpy().ravel() for p in model.state_dict().values()])
    return {"shard": [ctx.shard], "rows": [len(pixels)], "loss": [loss], "width": [pixels.shape[1]],
            "weights": [weights.astype(np.float32).tobytes()]}


@udf.function(frame="numpy", params=["model"])
def mnist_average(ctx, shards):
    """Average the shards' weights, weighted by their row counts, and save one model."""
    if len(shards["rows"]) == 0:
        raise ValueError("mnist_average got no weights: run mnist_train in distributed mode first")
    rows = shards["rows"].astype(np.float64)
    stacked = np.stack([np.frombuffer(w, dtype=np.float32) for w in shards["weights"]])
    averaged = (stacked * (rows / rows.sum())[:, None]).sum(axis=0).astype(np.float32)
    width = int(shards["width"][0])
    model = DigitsCNN(width)
    state, offset = model.state_dict(), 0
    for key, tensor in state.items():
        state[key] = torch.from_numpy(averaged[offset:offset + tensor.numel()].reshape(tensor.shape))
        offset += tensor.numel()
    model.load_state_dict(state)
    ctx.models.save(ctx.params.get("model", "mnist_cnn"), model, example=torch.zeros(2, width),
                    metrics={"shards": len(rows), "train_rows": rows.sum(),
                             "mean_shard_loss": float(np.average(shards["loss"], weights=rows))})
    return None
