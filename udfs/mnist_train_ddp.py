"""Train the digit classifier on every shard at once with torch's DistributedDataParallel.

``mnist_train_ddp`` — MODE 'distributed', run with ``OPTIONS => KV_PAIRS(distributed = 'ddp')``:
each shard's instance is one rank of the run's process group. The ranks start from the same
weights (the latest saved version's, if there is one: another round; else the same seeded
initialisation; DDP also sends rank 0's to the others), average their gradients at every step,
and so hold the same weights after every step. Rank 0 saves the model. Each rank returns one row:
its shard, rows, the loss and accuracy on its rows, and a SHA-256 of its final weights (the same
on every rank).

Input rows: (pixels FLOAT[n] scaled to 0..1, label). Parameters (strings): epochs, batch_size,
lr, seed, model (the registry name, default mnist_ddp).
"""

import hashlib

import numpy as np
import torch
import torch.distributed as dist

from indb import udf
from mnist_model import accuracy, initial_model, train


@udf.function(frame="torch", params=["epochs", "batch_size", "lr", "seed", "model"])
def mnist_train_ddp(ctx, images):
    group = ctx.distributed
    if group is None:
        raise ValueError("mnist_train_ddp trains as one process group: run it with "
                         "OPTIONS => KV_PAIRS(distributed = 'ddp')")
    pixels, labels = images["pixels"], images["label"].long()
    if pixels.dtype == torch.uint8:  # raw MNIST bytes
        pixels = pixels.float().div_(255.0)
    if len(pixels) == 0:  # this rank fails, and with it the run
        raise ValueError(f"shard {ctx.shard} has no rows: check the input query")
    batch_size = int(ctx.params.get("batch_size", "64"))
    # every rank takes as many steps per epoch as the largest shard needs: a DDP step is a
    # collective, and a rank that stopped early would leave the others waiting for it
    steps = torch.tensor([-(-len(pixels) // batch_size)], device=ctx.device)
    dist.all_reduce(steps, op=dist.ReduceOp.MAX)
    model = initial_model(ctx, ctx.params.get("model", "mnist_ddp"), pixels.shape[1])
    loss = train(group.wrap(model), pixels, labels, epochs=int(ctx.params.get("epochs", "10")),
                 batch_size=batch_size, lr=float(ctx.params.get("lr", "0.002")),
                 seed=int(ctx.params.get("seed", "0")) + group.rank, progress=ctx.progress,
                 device=ctx.device, batches=int(steps.item()))
    shard_accuracy = accuracy(model, pixels, labels)
    # the run's figures: rows, correct rows and loss summed over the ranks
    totals = torch.tensor([len(pixels), shard_accuracy * len(pixels), loss * len(pixels)],
                          dtype=torch.float64, device=ctx.device)
    dist.all_reduce(totals)
    rows, correct, loss_sum = totals.tolist()
    ctx.status(f"rank {group.rank}/{group.world_size}: {len(pixels)} rows, loss {loss:.4f}; "
               f"all ranks: accuracy {correct / rows:.4f}")
    if group.is_main:  # the ranks hold the same weights: one version, saved once
        ctx.models.save(ctx.params.get("model", "mnist_ddp"), model, example=pixels[:2],
                        metrics={"train_loss": loss_sum / rows, "train_accuracy": correct / rows,
                                 "train_rows": int(rows), "ranks": group.world_size})
    weights = np.concatenate([p.detach().cpu().numpy().ravel() for p in model.state_dict().values()])
    return {"shard": [ctx.shard], "rows": [len(pixels)], "loss": [loss],
            "accuracy": [shard_accuracy], "weights_sha256": [hashlib.sha256(weights.tobytes()).hexdigest()]}
