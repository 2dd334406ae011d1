"""The digit classifier: a small CNN for square images given as flat pixel rows.

conv(1→16, 3x3) → ReLU → conv(16→32, 3x3) → ReLU → 2x2 max-pool → fc(64) → ReLU → fc(10).
The same code serves the 8x8 digits and 28x28 MNIST: the side is the square root of the width.
"""

import math

import torch
from torch import nn


class DigitsCNN(nn.Module):
    def __init__(self, width: int) -> None:
        super().__init__()
        self.side = int(math.isqrt(width))
        if self.side * self.side != width:
            raise ValueError(f"{width} pixels a row is not a square image")
        self.features = nn.Sequential(
            nn.Conv2d(1, 16, 3, padding=1), nn.ReLU(),
            nn.Conv2d(16, 32, 3, padding=1), nn.ReLU(),
            nn.MaxPool2d(2))
        self.classify = nn.Sequential(
            nn.Flatten(), nn.Linear(32 * (self.side // 2) ** 2, 64), nn.ReLU(), nn.Linear(64, 10))

    def forward(self, pixels: torch.Tensor) -> torch.Tensor:
        return self.classify(self.features(pixels.reshape(-1, 1, self.side, self.side)))


def train(model: DigitsCNN, pixels: torch.Tensor, labels: torch.Tensor, *, epochs: int,
          batch_size: int, lr: float, seed: int, progress=None, device: str = "cpu",
          batches: int | None = None) -> float:
    """Adam on cross-entropy, shuffled mini-batches, on ``device``; returns the last epoch's mean loss.
    ``batches``: exactly that many per epoch (DDP: every rank takes the same number of steps; a
    shard with fewer rows goes round its rows again)."""
    model.to(device)
    pixels, labels = pixels.to(device), labels.to(device)
    generator = torch.Generator().manual_seed(seed)
    optimizer = torch.optim.Adam(model.parameters(), lr=lr)
    model.train()
    mean_loss = 0.0
    for epoch in range(epochs):
        order = torch.randperm(len(pixels), generator=generator)
        if batches:
            order = order.repeat(-(-batches * batch_size // len(order)))[:batches * batch_size]
        order = order.to(device)
        loss_sum, batches = torch.zeros((), device=device), 0
        for start in range(0, len(pixels), batch_size):
            batch = order[start:start + batch_size]
            optimizer.zero_grad()
            loss = nn.functional.cross_entropy(model(pixels[batch]), labels[batch])
            loss.backward()
            optimizer.step()
            # summed on the device: reading each batch's loss would make the host wait for it
            loss_sum, batches = loss_sum + loss.detach(), batches + 1
        mean_loss = loss_sum.item() / max(batches, 1)
        if progress:
            progress(epoch + 1, epochs)
    return mean_loss


def accuracy(model: DigitsCNN, pixels: torch.Tensor, labels: torch.Tensor, batch_size: int = 8192) -> float:
    """Share of rows classified right, in batches (a whole table at once can outgrow a GPU)."""
    model.eval()
    device = next(model.parameters()).device
    correct = torch.zeros((), device=device)
    with torch.no_grad():
        for start in range(0, len(pixels), batch_size):
            batch = pixels[start:start + batch_size].to(device)
            correct += (model(batch).argmax(1) == labels[start:start + batch_size].to(device)).sum()
    return correct.item() / max(len(pixels), 1)


def initial_model(ctx, name: str, width: int, resume: bool = True) -> DigitsCNN:
    """Where a training run starts: the latest saved version of ``name`` when ``resume`` and
    there is one (another round), else the initialisation seeded by the run's ``seed``."""
    torch.manual_seed(int(ctx.params.get("seed", "0")))
    model = DigitsCNN(width)
    if resume:
        try:
            saved = ctx.models.load(name)
        except LookupError:
            return model
        model.load_state_dict({k: v.cpu() for k, v in saved.module.state_dict().items()})
    return model
