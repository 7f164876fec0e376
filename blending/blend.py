"""Multi-resolution blending of per-level estimates into one zoom stack (paper Fig. 5), and blend-then-render."""

from dataclasses import dataclass

import torch

from .geometry import Window, ZoomLayout, check_stack
from .precision import working_dtype
from .pyramid import build_laplacian_pyramid, collapse_laplacian_pyramid
from .render import RING_WIDTH, paste_finer_levels

WEIGHTINGS = ("information", "equal")
"""How the observations of one frequency band are weighed: by the pixels each sees the band through, or equally."""


@dataclass(frozen=True)
class Consolidation:
    """The choices blend-then-render makes where the paper is open (docs/design.md, "Choices where the paper is open").

    Attributes:
        weighting: one of :data:`WEIGHTINGS`. ``"information"``: a level ``k``
            steps coarser sees a shared band through ``p^(2k)`` times fewer
            pixels, so its observation weighs ``p^(-2k)``; ``"equal"``: the
            paper's plain mean.
        preserve_energy: rescale each averaged band to the weighted mean energy
            of its observations, so that averaging what the levels disagree on
            does not wash the band out; an open stack's deepest level, which
            no finer level is pasted over, keeps at least its own estimate's
            energy in every band. A consistent stack is unchanged.
        ring_width: how far each coarser level's ring continues the finer level
            pasted into it (:func:`~.render.render_image`); 0 is the paper's hard paste.
    """

    weighting: str = "information"
    preserve_energy: bool = True
    ring_width: float = RING_WIDTH

    def __post_init__(self):
        if self.weighting not in WEIGHTINGS:
            raise ValueError(f"weighting must be one of {', '.join(WEIGHTINGS)}; got {self.weighting!r}")
        if not self.ring_width >= 0:
            raise ValueError(f"ring_width must be >= 0; got {self.ring_width}")


DEFAULT = Consolidation()
"""The pack's choices, measured on the exact prior (``benchmarks/bench_sampler_quality.py``)."""
PAPER = Consolidation(weighting="equal", preserve_energy=False, ring_width=0.0)
"""The paper's literal choices: equal-weight band averaging and a hard paste. The baseline the benchmarks show."""


def blend(estimates: torch.Tensor, zoom: ZoomLayout | int, consolidation: Consolidation = DEFAULT) -> torch.Tensor:
    """Consolidate possibly inconsistent per-level estimates into one zoom stack.

    Paper Fig. 5, multi-resolution blending. Level ``i`` of the result is built
    from ``x̂_i`` and every coarser estimate ``x̂_j`` (``j < i``) whose crop
    covering level ``i``'s field of view is at least
    :data:`~.geometry.MIN_FOOTPRINT` whole pixels. Each crop is taken at its
    native resolution (``H / p^(i-j)`` pixels tall, never upsampled), split into
    a Laplacian pyramid, and each frequency band is averaged over the
    observations that have it: the finest ``log2 p`` bands come from ``x̂_i``
    alone, the coarsest from all of them. The averaged pyramid is collapsed
    into level ``i``. ``consolidation`` says how bands are weighted and
    whether their energy is kept (:class:`Consolidation`; :data:`PAPER` for the
    paper's plain mean); its ``ring_width`` is rendering's, not read here.

    Properties: a stack that is already consistent (``render_image`` of any
    stack) is returned unchanged, up to rounding; fine detail of level ``i`` is
    never averaged with upsampled coarse content, which is what keeps deep
    levels sharp where plain averaging (MultiDiffusion-style) blurs them.

    Args:
        estimates: clean-image estimates, one per level, level 0 the widest.
        zoom: the :class:`~.geometry.ZoomLayout`, or the zoom factor ``p``.
        consolidation: the choices where the paper is open.

    Returns:
        The blended stack, same shape and dtype as ``estimates``. Render it with
        :func:`~.render.render_image` to get consistent views.

    Shape:
        ``(N, C, H, W)`` -> ``(N, C, H, W)``.
    """
    layout = check_stack(estimates, zoom, "estimates")
    x = estimates.to(working_dtype(estimates.dtype))
    return blend_levels(x, layout, consolidation).to(estimates.dtype)


def consolidate_estimates(
    estimates: torch.Tensor,
    zoom: ZoomLayout | int,
    consolidation: Consolidation = DEFAULT,
    *,
    pinned: torch.Tensor | None = None,
) -> torch.Tensor:
    """Blend per-level estimates, then render every level: the consistent estimates of one step.

    Paper Algorithm 2, the step between the model call and the sampler's
    update: ``Π_image(blend(x̂); i)`` for every level ``i``.

    Args:
        estimates: clean-image estimates, one per level.
        zoom: the layout, or the zoom factor ``p``.
        consolidation: the choices where the paper is open; :data:`PAPER` for the paper's own.
        pinned: ``(N,)`` bool, levels held fixed (docs/design.md, "Fixed levels"):
            every band a pinned level observes is taken from it alone (passed
            down from parent to child), so the levels sampled below it continue it, and it comes back as it was
            wherever no finer unpinned level is pasted over it.

    Returns:
        Consistent views, same shape and dtype as ``estimates``.

    Shape:
        ``(N, C, H, W)`` -> ``(N, C, H, W)``.
    """
    layout = check_stack(estimates, zoom, "estimates")
    if pinned is not None and tuple(pinned.shape) != (estimates.shape[0],):
        raise ValueError(f"pinned must have one entry per level, {estimates.shape[0]}; got {tuple(pinned.shape)}")
    return consolidate_levels(estimates, layout, consolidation, pinned)


def consolidate_levels(
    estimates: torch.Tensor, layout: ZoomLayout, consolidation: Consolidation, pinned: torch.Tensor | None = None
) -> torch.Tensor:
    """:func:`consolidate_estimates` without validation, for callers that validated once."""
    x = estimates.to(working_dtype(estimates.dtype))
    blended = blend_levels(x, layout, consolidation, pinned)
    return paste_finer_levels(blended, layout, 1.0, consolidation.ring_width, pinned=pinned).to(estimates.dtype)


def blend_levels(
    x: torch.Tensor, layout: ZoomLayout, consolidation: Consolidation, pinned: torch.Tensor | None = None
) -> torch.Tensor:
    """:func:`blend` on a validated stack already in its working dtype; ``pinned`` as in :func:`consolidate_estimates`.

    A cyclic stack is blended unrolled (:meth:`~.geometry.ZoomLayout.unrolled`),
    each level with the coarser levels before it around the loop.
    """
    levels, _, height, width = x.shape
    max_depth = layout.blend_depth(height, width, levels)
    pyramid_depth = max_depth * layout.octaves_per_level
    levels_at = layout.unrolled(levels, coarser=max_depth)
    if layout.cyclic:
        x = x[levels_at]
        pinned = None if pinned is None else pinned[levels_at]
    count = x.shape[0]

    # Validated stacks blend at least one octave, so the sums start as new tensors (the levels' own bands),
    # added to and divided in place.
    band_sums = build_laplacian_pyramid(x, pyramid_depth)
    weight_sums = [torch.ones(count, 1, 1, 1, device=x.device, dtype=x.dtype) for _ in band_sums]
    energy_sums = [_energy(band) for band in band_sums] if consolidation.preserve_energy else None
    # An open stack's deepest level has no finer level pasted over it to lend its shared bands the energy that
    # its coarser observations, which see them through fewer pixels, lack: it keeps at least its own estimate's.
    deepest = [energy[-1].clone() for energy in energy_sums] if energy_sums and not layout.cyclic else None
    for depth in range(1, max_depth + 1):
        weight = 1.0 if consolidation.weighting == "equal" else float(layout.zoom_factor) ** (-2 * depth)
        first_band = depth * layout.octaves_per_level
        for window, members in _observed(layout, height, width, levels_at, depth):
            crops = x[members.start - depth : members.stop - depth, :, window.rows, window.cols]
            for offset, band in enumerate(build_laplacian_pyramid(crops, pyramid_depth - first_band)):
                index = first_band + offset
                band_sums[index][members].add_(band, alpha=weight)
                weight_sums[index][members] += weight
                if consolidation.preserve_energy:
                    energy_sums[index][members].add_(_energy(band), alpha=weight)

    averaged = [total.div_(weights) for total, weights in zip(band_sums, weight_sums)]
    if consolidation.preserve_energy:
        targets = [energy.div_(weights) for energy, weights in zip(energy_sums, weight_sums)]
        for target, own in zip(targets, deepest or ()):
            target[-1] = torch.maximum(target[-1], own)
        averaged = [
            _keep_energy(band, target, weights > 1) for band, target, weights in zip(averaged, targets, weight_sums)
        ]
    if pinned is None or not pinned.any():
        return collapse_laplacian_pyramid(averaged)[count - levels :]
    return _carry_pins(x, averaged, pinned, layout, height, width, levels_at)[count - levels :]


def _observed(layout: ZoomLayout, height: int, width: int, levels_at: list[int], depth: int):
    """``(window, members)`` pairs: runs of consecutive positions whose level ``depth`` coarser sees them there.

    ``levels_at[position]`` is the level at each position of the (possibly
    unrolled) stack; positions whose window is not usable are left out. With
    one target for every level this is one run of all positions from ``depth``.
    """
    runs: list[tuple[Window, slice]] = []
    for position in range(depth, len(levels_at)):
        window = layout.nested_window(height, width, levels_at[position - depth], depth)
        if window is None:
            continue
        if runs and runs[-1][0] == window and runs[-1][1].stop == position:
            runs[-1] = (window, slice(runs[-1][1].start, position + 1))
        else:
            runs.append((window, slice(position, position + 1)))
    return runs


def _carry_pins(
    x: torch.Tensor,
    bands: list[torch.Tensor],
    pinned: torch.Tensor,
    layout: ZoomLayout,
    height: int,
    width: int,
    levels_at: list[int],
) -> torch.Tensor:
    """Collapse the blended ``bands`` of ``x``: pinned levels as they are, the levels below continuing them.

    A pinned level is its own value. Coarse to fine, a sampled level whose parent is pinned, or holds bands
    from a pinned level, takes those bands from its parent alone, as the
    collapsed parent sees it through its child's footprint, and passes them on
    to its own child. Only parents are asked: a parent always sees its child on
    whole pixels, whereas off-centre a deeper level's footprint in the pinned
    level can fall between its pixels.

    Returns:
        The collapsed stack ``(positions, C, H, W)``.
    """
    result = torch.where(pinned.to(x.device)[:, None, None, None], x, collapse_laplacian_pyramid(bands))
    octaves = layout.octaves_per_level
    shared = len(bands) - octaves
    # held[band][position]: that band of that level comes from a pinned level. Plain bools: no device syncs.
    held = [[bool(value) for value in pinned.tolist()] for _ in bands]
    for position in range(1, len(levels_at)):
        taken = [
            offset for offset in range(shared) if held[offset][position - 1] and not held[octaves + offset][position]
        ]
        if not taken:
            continue
        window = layout.child_window(height, width, levels_at[position - 1])
        seen = build_laplacian_pyramid(result[position - 1 : position, :, window.rows, window.cols], shared - 1)
        own = [band[position : position + 1] for band in bands]
        for offset in taken:
            own[octaves + offset] = seen[offset]
            held[octaves + offset][position] = True
        result[position] = collapse_laplacian_pyramid(own)[0]
    return result


def _energy(band: torch.Tensor) -> torch.Tensor:
    """Mean square of each level's band, per channel: ``(N, C, h, w)`` -> ``(N, C, 1, 1)``."""
    # A norm reduces without a squared copy of the band.
    return torch.linalg.vector_norm(band, dim=(-2, -1), keepdim=True).square_().div_(band.shape[-2] * band.shape[-1])


def _keep_energy(band: torch.Tensor, target: torch.Tensor, averaged: torch.Tensor) -> torch.Tensor:
    """``band`` rescaled in place to ``target`` energy where it is an average of several observations.

    Where the observations agree the average already has their energy and the
    gain is 1, which is what keeps a consistent stack a fixed point.
    """
    current = _energy(band)
    gain = torch.where(current > 0, (target / current.clamp(min=torch.finfo(band.dtype).tiny)).sqrt(), 1.0)
    return band.mul_(torch.where(averaged, gain, 1.0))
