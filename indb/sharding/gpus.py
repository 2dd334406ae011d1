"""Which GPUs this machine has, without importing a GPU framework (``nvidia-smi -L``)."""

from __future__ import annotations

import os
import shutil
import subprocess


def visible_gpus() -> int:
    """How many CUDA GPUs the workers may use: ``CUDA_VISIBLE_DEVICES`` if set, else nvidia-smi."""
    visible = os.environ.get("CUDA_VISIBLE_DEVICES")
    if visible is not None:
        return len([d for d in visible.split(",") if d.strip() and d.strip() != "-1"])
    if shutil.which("nvidia-smi") is None:
        return 0
    try:
        listed = subprocess.run(["nvidia-smi", "-L"], capture_output=True, text=True, timeout=10)
    except (OSError, subprocess.TimeoutExpired):
        return 0
    return sum(1 for line in listed.stdout.splitlines() if line.startswith("GPU "))


def worker_environment(worker: int, gpus: int) -> dict[str, str]:
    """The environment of worker ``worker``: pinned to one GPU (round robin) when there are any."""
    if not gpus:
        return {}
    devices = os.environ.get("CUDA_VISIBLE_DEVICES")
    ids = [d.strip() for d in devices.split(",")] if devices else [str(i) for i in range(gpus)]
    return {"CUDA_VISIBLE_DEVICES": ids[worker % gpus], "INDB_DEVICE": "cuda"}
