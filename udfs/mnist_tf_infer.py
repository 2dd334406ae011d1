"""Classify digit images with a TensorFlow model from the registry, shard by shard, in batches.

Input rows: (id, pixels FLOAT[n] scaled like the training rows). Output rows: (id, digit,
confidence, model_version). Parameters: model (default mnist_tf), version (a number or an alias;
default the latest). The SavedModel runs through TensorFlow, without mnist_tf_train's code.
"""

import numpy as np

from indb import udf

CHUNK = 65536  # rows classified at a time


@udf.function(frame="numpy", params=["model", "version"])
def mnist_tf_infer(ctx, images):
    model = ctx.models.load(ctx.params.get("model", "mnist_tf"), ctx.params.get("version"))
    pixels = np.asarray(images["pixels"], dtype=np.float32)
    # the model ends in a softmax: its scores are the probabilities of the ten digits
    probabilities = np.concatenate([model.scores(pixels[i:i + CHUNK])
                                    for i in range(0, len(pixels), CHUNK)] or [np.empty((0, 10))])
    return {"id": images["id"], "digit": probabilities.argmax(axis=1).astype(np.int32),
            "confidence": probabilities.max(axis=1).astype(np.float32),
            "model_version": np.full(len(pixels), model.info.version, dtype=np.int32)}
