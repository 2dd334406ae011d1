"""The market autoencoder of the kdb+ example: normalised close and volume in, error out.

Each row is a day of one symbol: (z-scored log return of the close, z-scored log volume). The
autoencoder passes the pair through tanh layers and back out through a bounded output
(``bound * tanh``, ±4 standard deviations): it learns to reproduce ordinary days, and cannot
reproduce a day far outside what it was trained on, which is what makes such a day's error large.
``ReconstructionError`` wraps it so the saved model returns the error itself (PREDICT gives a
number a row).
"""

import torch
from torch import nn

FEATURES = 2


class Autoencoder(nn.Module):
    def __init__(self, hidden: int = 8, bottleneck: int = 2, bound: float = 4.0) -> None:
        super().__init__()
        self.bound = bound
        self.encode = nn.Sequential(nn.Linear(FEATURES, hidden), nn.Tanh(), nn.Linear(hidden, bottleneck), nn.Tanh())
        self.decode = nn.Sequential(nn.Linear(bottleneck, hidden), nn.Tanh(), nn.Linear(hidden, FEATURES))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.bound * torch.tanh(self.decode(self.encode(x)) / self.bound)


class ReconstructionError(nn.Module):
    """Mean squared reconstruction error per row."""

    def __init__(self, autoencoder: Autoencoder) -> None:
        super().__init__()
        self.autoencoder = autoencoder

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return ((self.autoencoder(x) - x) ** 2).mean(dim=1)
