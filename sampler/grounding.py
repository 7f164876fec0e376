"""Photo-grounded zoom (paper §4.4): pull the clean estimates toward real photos before each blend."""

from collections.abc import Mapping
from dataclasses import dataclass, field

import torch

from ..blending import ZoomLayout, box_downsample
from .schedule import SigmaRange


@dataclass(frozen=True)
class Grounding:
    """Photos that constrain a zoom stack, how hard to pull toward them, and when.

    Attributes:
        photos: level index -> image of that level's whole field of view,
            ``(C, H, W)`` in the stack's space (pixels, or latents of the same model).
        steps: Adam steps per sampling step (the paper and both public re-implementations: 5).
        learning_rate: Adam learning rate; each step moves an estimate by at most about this much.
        sigmas: where in the schedule grounding runs. The paper grounds most but
            not all of the schedule, leaving the last steps to the model's prior.
    """

    photos: Mapping[int, torch.Tensor] = field(default_factory=dict)
    steps: int = 5
    learning_rate: float = 0.1
    sigmas: SigmaRange = SigmaRange()

    def check(self, stack_shape: torch.Size) -> None:
        """Validate the photos against the stack: level indices in range, each photo exactly ``(C, H, W)``.

        Raises:
            ValueError: naming the level and both sizes; nothing is resized.
        """
        levels, channels, height, width = stack_shape
        for level, photo in self.photos.items():
            if not 0 <= level < levels:
                raise ValueError(f"grounding names level {level}, but the stack has levels 0-{levels - 1}")
            if tuple(photo.shape) != (channels, height, width):
                raise ValueError(
                    f"grounding image for level {level} is {tuple(photo.shape)} (channels, height, width), but the "
                    f"stack's levels are {(channels, height, width)}; resize or crop it explicitly first"
                )
        if self.steps < 0 or self.learning_rate < 0:
            raise ValueError(
                f"grounding needs steps >= 0 and learning_rate >= 0; got steps {self.steps}, "
                f"learning_rate {self.learning_rate}"
            )


def grounding_loss(estimates: torch.Tensor, layout: ZoomLayout, photos: Mapping[int, torch.Tensor]) -> torch.Tensor:
    """Σ over photos and the levels that see them of the squared mismatch (paper §4.4).

    For a photo of level ``g``: level ``g`` is compared with the photo; a finer
    level ``i`` is box-shrunk by ``p^(i-g)`` and compared with its
    footprint in the photo; a coarser level ``j`` is compared, in level ``g``'s footprint,
    with the photo box-shrunk by ``p^(g-j)``. Levels whose footprint is below
    :data:`~..blending.MIN_FOOTPRINT` whole pixels are left out.

    Args:
        estimates: clean estimates, ``(N, C, H, W)``.
        layout: where the levels sit.
        photos: level -> ``(C, H, W)`` image of that level's field of view.

    Returns:
        A scalar: the summed squared errors.
    """
    levels, _, height, width = estimates.shape
    loss = estimates.new_zeros(())
    for grounded, photo in photos.items():
        photo = photo.unsqueeze(0)
        for level in range(levels):
            depth = abs(level - grounded)
            window = layout.nested_window(height, width, min(level, grounded), depth)
            if window is None:
                continue
            estimate = estimates[level : level + 1]
            if level >= grounded:
                shrunk = box_downsample(estimate, layout.zoom_factor**depth)
                target = photo[..., window.rows, window.cols]
            else:
                shrunk = estimate[..., window.rows, window.cols]
                target = box_downsample(photo, layout.zoom_factor**depth)
            loss = loss + (shrunk - target).pow(2).sum()
    return loss


def ground_estimates(estimates: torch.Tensor, layout: ZoomLayout, grounding: Grounding) -> torch.Tensor:
    """A few Adam steps on the estimates that reduce :func:`grounding_loss` (paper §4.4).

    Runs with gradients enabled even when called under ``torch.no_grad`` or
    ``torch.inference_mode``, as sampling loops are.

    Args:
        estimates: clean estimates, ``(N, C, H, W)``.
        layout: where the levels sit.
        grounding: the photos and the optimiser settings.

    Returns:
        The grounded estimates, same shape and dtype (optimised in float32).

    Shape:
        ``(N, C, H, W)`` -> ``(N, C, H, W)``.
    """
    if not grounding.photos or grounding.steps == 0:
        return estimates
    with torch.inference_mode(False), torch.enable_grad():
        variable = estimates.detach().float().clone().requires_grad_(True)
        photos = {
            level: photo.detach().float().clone().to(variable.device) for level, photo in grounding.photos.items()
        }
        optimiser = torch.optim.Adam([variable], lr=grounding.learning_rate)
        for _ in range(grounding.steps):
            optimiser.zero_grad()
            grounding_loss(variable, layout, photos).backward()
            optimiser.step()
    return variable.detach().to(estimates.dtype)
