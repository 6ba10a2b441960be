"""The gradient lens's per-epoch numbers: the gradient norm before clipping (mean and max over
the epoch's batches) and the share of batches that were clipped.

The norm is the one ``clip_grad_norm_`` already computes for the clip (the training numbers do
not change); the totals stay on the device, updated in place (so a step captured in a CUDA
graph updates them on every replay), and reach the host once, at the epoch's end. An epoch
resumed from a mid-epoch checkpoint reports the batches trained after the resume.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch

#: ``clip_grad_norm_`` scales by ``clip / (norm + 1e-6)`` when that is below 1: this is its test.
CLIP_EPS = 1e-6


@dataclass(frozen=True)
class GradReading:
    """One epoch's gradient numbers (None when no batch was measured)."""

    grad_norm: float | None = None
    grad_norm_max: float | None = None
    clipped_share: float | None = None  # None when clipping is off


class GradStats:
    """On-device running totals of the pre-clip gradient norm over an epoch's batches."""

    def __init__(self, device: torch.device, clip: float):
        self.clip = float(clip)
        self.sums = torch.zeros(3, dtype=torch.float32, device=device)  # norm sum, clipped batches, batches
        self.max = torch.zeros((), dtype=torch.float32, device=device)
        self._one = torch.ones((), dtype=torch.float32, device=device)

    def add(self, norm: torch.Tensor) -> None:
        """One batch's total norm (no host sync)."""
        norm = norm.detach().float()
        clipped = (norm + CLIP_EPS > self.clip).float() if self.clip > 0 else torch.zeros_like(norm)
        self.sums.add_(torch.stack((norm, clipped, self._one)))
        torch.maximum(self.max, norm, out=self.max)

    def tensors(self) -> tuple[torch.Tensor, ...]:
        """The device tensors it updates (a CUDA graph's warm-up must put them back)."""
        return self.sums, self.max

    def reset(self) -> None:
        """Zero the totals in place (a captured graph keeps their addresses)."""
        self.sums.zero_()
        self.max.zero_()

    def read(self) -> GradReading:
        """The epoch's numbers on the host (one sync), or an empty reading before any batch."""
        norm_sum, clipped, batches, biggest = torch.cat((self.sums, self.max.view(1))).tolist()
        if batches <= 0:
            return GradReading()
        share = clipped / batches if self.clip > 0 else None
        return GradReading(grad_norm=norm_sum / batches, grad_norm_max=biggest, clipped_share=share)
