"""Classify digit images with a registered model, shard by shard.

Input rows: (id, pixels FLOAT[n] scaled like the training rows, or UTINYINT[n] raw bytes 0..255,
scaled here). Output rows: (id, digit, confidence, model_version). Parameters: model (default
mnist_cnn), version (a number or an alias; default the latest), precision (fp32 or bf16; bf16
pays on a GPU), compile ('true': through torch.compile), cuda_graphs ('true': replayed from CUDA
graphs, on a GPU). On a GPU worker the model runs on its GPU, and so do the softmax and argmax:
only the three small output columns come back.
"""

import torch

from indb import udf


CHUNK = 65536  # rows scaled and classified at a time


def scaled(pixels, dtype):
    """Raw MNIST bytes (0..255) as the 0..1 floats the model was trained on, made in the type the
    model takes (``dtype``: float32, or bfloat16 for a bf16 model) at once: a float32 copy
    converted again would move four times the bytes the model reads; floats as they are."""
    if pixels.dtype != torch.uint8:
        return pixels
    return torch.div(pixels, 255.0) if dtype == torch.float32 else pixels.to(dtype).div_(255.0)


@udf.function(frame="torch", params=["model", "version", "precision", "compile", "cuda_graphs"])
def mnist_infer(ctx, images):
    # frame="torch": the shard arrives as tensors, on the GPU on a GPU worker (and stays there for
    # the next run while the table is unchanged); on a CPU worker they share the Arrow memory
    model = ctx.models.load(ctx.params.get("model", "mnist_cnn"), ctx.params.get("version"),
                            precision=ctx.params.get("precision"),
                            compile=ctx.params.get("compile", "false") == "true",
                            cuda_graphs=ctx.params.get("cuda_graphs", "false") == "true")
    pixels = images["pixels"]
    dtype = torch.bfloat16 if ctx.params.get("precision") == "bf16" else torch.float32
    with torch.inference_mode():
        # a chunk at a time: raw bytes scaled to floats for the whole shard at once would take
        # four times its memory on the GPU again
        parts = [model.outputs(scaled(pixels[i:i + CHUNK], dtype))
                 for i in range(0, max(len(pixels), 1), CHUNK)]
        probabilities = torch.softmax(torch.cat(parts).float(), dim=1)
        confidence, digit = probabilities.max(dim=1)
    return {"id": images["id"], "digit": digit.int(), "confidence": confidence,
            "model_version": torch.full((len(digit),), model.info.version, dtype=torch.int32)}
