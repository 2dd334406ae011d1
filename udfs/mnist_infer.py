"""Classify digit images with a registered model, shard by shard.

Input rows: (id, pixels FLOAT[n] scaled like the training rows). Output rows: (id, digit,
confidence, model_version). Parameters: model (default mnist_cnn), version (a number or an
alias; default the latest), precision (fp32 or bf16; bf16 pays on a GPU). On a GPU worker the
model runs on its GPU.
"""

import numpy as np

from indb import udf


@udf.function(frame="torch", params=["model", "version", "precision"])
def mnist_infer(ctx, images):
    # frame="torch": the shard arrives as tensors, on the GPU on a GPU worker (and stays there for
    # the next run while the table is unchanged); on a CPU worker they share the Arrow memory
    model = ctx.models.load(ctx.params.get("model", "mnist_cnn"), ctx.params.get("version"),
                            precision=ctx.params.get("precision"))
    scores = model.scores(images["pixels"])
    scores = scores - scores.max(axis=1, keepdims=True)
    probabilities = np.exp(scores)
    probabilities /= probabilities.sum(axis=1, keepdims=True)
    return {"id": images["id"].cpu().numpy(), "digit": probabilities.argmax(axis=1).astype(np.int32),
            "confidence": probabilities.max(axis=1).astype(np.float32),
            "model_version": np.full(len(scores), model.info.version, dtype=np.int32)}
