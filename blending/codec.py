"""Consolidating latent estimates in pixel space, through a decoder (docs/design.md, "Pixel-space consolidation").

A latent shrunk by box averaging is not the latent of the shrunk image, so
rendering latents pastes a distorted copy of each finer level into the coarser
one. Decoding, blending and rendering the images, and encoding back is the
faithful path; carrying back only the *change* that consolidation made keeps
an already-consistent level unchanged and keeps the codec's round-trip error
from piling up over the steps.
"""

from collections.abc import Callable

import torch

from .blend import DEFAULT, Consolidation, consolidate_levels
from .geometry import ZoomLayout, as_layout, check_stack

Codec = Callable[[torch.Tensor], torch.Tensor]


def consolidate_through_codec(
    estimates: torch.Tensor,
    zoom: ZoomLayout | int,
    decode: Codec,
    encode: Codec,
    consolidation: Consolidation = DEFAULT,
    tolerance: float = 0.0,
    *,
    pinned: torch.Tensor | None = None,
) -> torch.Tensor:
    """Blend and render the decoded estimates, and move the latents by the encoded change.

    ``estimates + encode(consolidated) - encode(decoded)``, where ``decoded =
    decode(estimates)`` and ``consolidated`` is its blend-then-render (paper
    Fig. 5 and Algorithm 1 in pixel space). All levels decode as one batch;
    both encodes of every level that moves run as one batch, and a level whose
    image moves by no more than ``tolerance`` (root mean square, in the
    decoder's units) keeps its latent: its round trip could only add the
    codec's own error.

    Args:
        estimates: latent clean estimates, one per level.
        zoom: the :class:`~.geometry.ZoomLayout`, or the zoom factor ``p``.
        decode: latents ``(N, C, h, w)`` -> images ``(N, C', H, W)``.
        encode: images ``(B, C', H, W)`` -> latents ``(B, C, h, w)``.
        consolidation: the choices blend-then-render makes (:class:`~.blend.Consolidation`).
        tolerance: how far a level's image must move to be encoded back; 0 encodes every level.
        pinned: ``(N,)`` bool, levels held fixed (see :func:`~.blend.consolidate_estimates`).

    Returns:
        Latents, same shape, device and dtype as ``estimates``. When the decoded
        levels already agree, ``estimates`` comes back unchanged.

    Shape:
        ``(N, C, h, w)`` -> ``(N, C, h, w)``; the decoded ``H`` and ``W`` must be
        multiples of ``2p``.
    """
    layout = as_layout(zoom)
    decoded = decode(estimates)
    check_stack(decoded, layout, "decoded estimates")
    consolidated = consolidate_levels(decoded, layout, consolidation, pinned)
    moved = (consolidated - decoded).flatten(1).pow(2).mean(dim=1).sqrt() > tolerance
    if not moved.any():
        return estimates
    encoded = encode(torch.cat([consolidated[moved], decoded[moved]]))
    count = int(moved.sum())
    change = torch.zeros_like(estimates)
    change[moved.to(estimates.device)] = (encoded[:count] - encoded[count:]).to(estimates.device, estimates.dtype)
    return estimates + change
