"""Rendering a zoom stack into per-level views: Π_image and Π_noise (paper Algorithm 1)."""

from functools import lru_cache

import torch
import torch.nn.functional as F

from .geometry import Window, ZoomLayout, check_stack
from .precision import working_dtype
from .pyramid import box_downsample, upsample

RING_WIDTH = 4.0
"""How far a coarser level's ring continues the finer level pasted into it, per band: band ``b`` (pixel
scale ``2^b``) is carried over ``RING_WIDTH * 2^b`` pixels, but never more than half the pasted window's size
past it (:func:`_fade_steps`). Measured (docs/design.md, "The ring"): on the exact prior
4 brings sampled zooms' seam ratio to 0.95-1.06 (2: 1.01-1.13) with as much energy in every octave or more;
on TAESD-decoded photo stacks it keeps every border within 2.6x the photo's own (2: 3.6x), where a wider
ring's slower fade hides the decoder's blur of an edge that lies just outside the footprint."""


def render_image(
    stack: torch.Tensor,
    zoom: ZoomLayout | int,
    *,
    ring_width: float = RING_WIDTH,
    value_range: tuple[float, float] | None = None,
    pinned: torch.Tensor | None = None,
) -> torch.Tensor:
    """Π_image for every level: each level with all finer levels pasted into its footprint.

    Paper Algorithm 1: level ``i``'s view is ``L_i`` with ``D_{j-i}(L_j)`` pasted
    into its footprint for ``j = i+1 … N-1``, finer levels overwriting coarser
    ones. It is computed finest-first as ``view_i = L_i`` with ``D_1(view_{i+1})``
    pasted, which is the same thing because box shrinks compose; levels too deep
    to cover a whole pixel of level ``i`` are area-averaged into the pixels they
    fall in.

    The footprint is pasted with a hard edge, as in the paper. Where the paper
    leaves the coarser level's own ring as it is, the ring here continues the
    pasted level: the difference the paste makes at the footprint's border is
    carried outward band by band (a multiresolution spline, Burt & Adelson
    1983), band ``b`` over ``ring_width * 2^b`` pixels, never past the
    level's edge nor more than half the footprint's size beyond it, so a view
    shows no step at the border. ``ring_width=0`` is the
    paper's plain paste. Either way each view's footprint is exactly the next
    view box-shrunk, and a consistent stack is returned unchanged.

    Args:
        stack: zoom stack, level 0 the widest.
        zoom: the :class:`~.geometry.ZoomLayout`, or the zoom factor ``p`` (2, 4, 8, ...).
        ring_width: how far the ring continues the pasted level, see :data:`RING_WIDTH`.
        value_range: ``(low, high)`` to keep every view in (images: ``(0, 1)``).
            Each view is clamped before it is shrunk into the coarser one, so the
            footprints still nest exactly; the ring's continuation is what can
            overshoot.
        pinned: ``(N,)`` bool, levels held fixed, whose rings are left as they
            are (see :func:`~.blend.consolidate_estimates`).

    Returns:
        The views, same shape and dtype as ``stack``. The finest level's view is
        the level itself (clamped to ``value_range``), and every view's footprint
        is the box-shrunk next view.

    Shape:
        ``(N, C, H, W)`` -> ``(N, C, H, W)``; ``H`` and ``W`` multiples of ``2p``.
    """
    layout = check_stack(stack, zoom)
    return paste_finer_levels(stack, layout, 1.0, ring_width, value_range, pinned)


def render_noise(noise: torch.Tensor, zoom: ZoomLayout | int) -> torch.Tensor:
    """Π_noise for every level: rendered noise that stays unit-variance and white.

    Paper Algorithm 1 applied to a noise stack ``E``: like :func:`render_image`
    with a hard paste, but each pasted patch is multiplied by ``p`` per level of
    depth, since a ``p x p`` box average of unit Gaussians has standard deviation
    ``1/p``. Outside the pasted patches, level ``i``'s noise is ``E_i`` itself.
    When ``noise`` is i.i.d. ``N(0, 1)``, every output level is too (levels are
    correlated with each other where they overlap, which is the point). Around
    a loop, the few pixels that hold the loop's own centre average a block that
    contains themselves, which raises their variance to
    ``(1 - p^-2N) / (1 - p^-N)^2`` (1.29 for ``p^N = 8``, 1.03 for 64).

    Args:
        noise: noise stack, usually i.i.d. unit Gaussian.
        zoom: the layout, or the zoom factor ``p``.

    Returns:
        Rendered noise, same shape and dtype as ``noise``.

    Shape:
        ``(N, C, H, W)`` -> ``(N, C, H, W)``.
    """
    return render_noise_levels(noise, check_stack(noise, zoom, "noise"))


def render_noise_levels(noise: torch.Tensor, layout: ZoomLayout) -> torch.Tensor:
    """:func:`render_noise` without validation, for callers that validated once (every sampling step)."""
    return paste_finer_levels(noise, layout, patch_gain=float(layout.zoom_factor))


def upscale_stack(stack: torch.Tensor, zoom: ZoomLayout | int, factor: int) -> torch.Tensor:
    """Every level ``factor`` times larger, smooth, consistent, and box-shrinking back to the level it was.

    The start of a hi-res refine (docs/design.md, "Hi-res zooms"): sampling
    from it at a partial denoise adds the detail the larger size can hold,
    with the same joint step. Each level is expanded ``log2 factor`` times
    with the pyramid's bilinear expansion of a slightly sharpened copy, the
    one whose expansion box-shrinks back to the level exactly (the bilinear
    expansion alone, box-shrunk, blurs each axis by ``[1/8, 3/4, 1/8]``, which
    the sharpening inverts). The larger stack is then pasted as in Algorithm 1 with a hard
    edge: the two levels' expansions differ only in detail finer than the
    original pixels, and a ring continuing that detail would no longer
    box-shrink back (measured: 0.11 rms of a unit field's 1.0), whereas the
    refine redraws it anyway. So a consistent stack comes back consistent and,
    box-shrunk by ``factor``, exactly as it was.

    Args:
        stack: zoom stack, level 0 the widest.
        zoom: the :class:`~.geometry.ZoomLayout`, or the zoom factor ``p``.
        factor: 2, 4, 8, ...

    Returns:
        The larger, rendered stack, in ``stack``'s dtype.

    Shape:
        ``(N, C, H, W)`` -> ``(N, C, factor * H, factor * W)``.
    """
    layout = check_stack(stack, zoom)
    if not (isinstance(factor, int) and not isinstance(factor, bool) and factor >= 2 and factor & (factor - 1) == 0):
        raise ValueError(f"factor must be a power of two >= 2; got {factor!r}")
    x = stack.to(working_dtype(stack.dtype))
    for _ in range(factor.bit_length() - 1):
        x = upsample(_unblur(_unblur(x, (2, 1)), (1, 2)))
    return paste_finer_levels(x, layout, 1.0).to(stack.dtype)


UNBLUR_ITERATIONS = 32
"""Richardson iterations of :func:`_unblur`: each shrinks the error by 3, so 32 reach float64 rounding."""


def _unblur(x: torch.Tensor, scale: tuple[int, int]) -> torch.Tensor:
    """The ``z`` whose bilinear expansion along one axis (``scale`` (2, 1): rows), box-shrunk back, is ``x``.

    That blur is ``[1/8, 3/4, 1/8]`` (``[7/8, 1/8]`` at the edges), with eigenvalues in ``[1/2, 1]``, so
    Richardson's iteration with step 4/3 shrinks the error by 3 each time.
    """
    z = x
    for _ in range(UNBLUR_ITERATIONS):
        blurred = F.avg_pool2d(F.interpolate(z, scale_factor=scale, mode="bilinear", align_corners=False), scale)
        z = z + (x - blurred) * (4 / 3)
    return z


def overlap_difference(stack: torch.Tensor, zoom: ZoomLayout | int) -> torch.Tensor:
    """Where consecutive levels disagree: each level's footprint minus the next level, box-shrunk.

    Zero for a consistent stack (any output of :func:`render_image`). This is
    the measure the tests, the benchmarks and docs/quality.md use for consistency;
    take ``.abs().max()`` or ``.pow(2).mean()`` (and a PSNR from it) as needed.
    Around a loop the deepest level's footprint is compared with level 0 too.

    Args:
        stack: zoom stack, level 0 the widest.
        zoom: the layout, or the zoom factor ``p``.

    Returns:
        The differences, in the stack's dtype.

    Shape:
        ``(N, C, H, W)`` -> ``(N - 1, C, H / p, W / p)``, or ``(N, ...)`` for a cyclic layout.
    """
    layout = check_stack(stack, zoom)
    height, width = stack.shape[-2:]
    levels = layout.unrolled(stack.shape[0], finer=1)
    shrunk = box_downsample(stack[levels[1:]], layout.zoom_factor)
    footprints = []
    for level in levels[:-1]:
        window = layout.child_window(height, width, level)
        footprints.append(stack[level, :, window.rows, window.cols])
    return torch.stack(footprints) - shrunk


def paste_finer_levels(
    stack: torch.Tensor,
    layout: ZoomLayout,
    patch_gain: float,
    ring_width: float = 0.0,
    value_range: tuple[float, float] | None = None,
    pinned: torch.Tensor | None = None,
) -> torch.Tensor:
    """Algorithm 1's pasting, finest level first, patches scaled by ``patch_gain``; not validated.

    ``ring_width`` > 0 makes each ring continue its patch, and ``value_range``
    clamps each view before it is shrunk into the next (see :func:`render_image`).
    The rings of ``pinned`` levels (``(N,)`` bool, levels held fixed) are left
    as they are: what is pasted into them was blended to agree with them, and
    a fixed level changes only where a finer level covers it.

    Around a loop the deepest level's child is view 0, which itself depends on
    every level: the views are the fixed point of pasting turn after turn,
    each turn starting from the last turn's view 0 (the first from level 0
    itself). A turn shrinks the change in view 0 by at least ``p^-N``, so a few
    turns reach it to rounding.
    """
    levels, _, height, width = stack.shape
    source = stack.to(working_dtype(stack.dtype))
    child = source[0] if layout.cyclic else None
    for _ in range(MAX_TURNS if layout.cyclic else 1):
        guess = child
        views = source.clone()
        for level in range(levels - 1, -1, -1):
            if child is not None:
                window = layout.child_window(height, width, level)
                patch = box_downsample(child[None], layout.zoom_factor)[0] * patch_gain
                if ring_width > 0 and not (pinned is not None and pinned[level]):
                    change = patch - views[level, :, window.rows, window.cols]
                    views[level] += _ring_continuation(change, window, height, width, ring_width)
                views[level, :, window.rows, window.cols] = patch
            if value_range is not None:
                views[level].clamp_(*value_range)
            child = views[level]
        if guess is None or _settled(child, guess):
            break
    return views.to(stack.dtype)


MAX_TURNS = 64
"""Most turns a loop is pasted around before its view 0 is taken as settled (a few are usual)."""


def _settled(view: torch.Tensor, previous: torch.Tensor) -> bool:
    """Whether another turn around the loop changed view 0 by no more than rounding."""
    scale = previous.abs().max().clamp(min=1.0)
    return bool((view - previous).abs().max() <= 8 * torch.finfo(view.dtype).eps * scale)


def _ring_continuation(
    change: torch.Tensor, window: Window, height: int, width: int, ring_width: float
) -> torch.Tensor:
    """The change a paste makes inside ``window``, continued over the level with a fade per band.

    The change is extended outward as its border values and split into
    Laplacian bands; each band, expanded to the level's resolution, is faded out
    with distance from the window over ``ring_width * 2^b`` pixels (but within
    the ring's own thickness, so that the level's far edge keeps its own
    values, and within half the window's size), and the bands are summed.

    Shape:
        ``change (C, h, w)`` -> ``(C, H, W)``, the level's size.
    """
    pad = (window.left, width - window.left - window.width, window.top, height - window.top - window.height)
    extended = F.pad(change[None], pad, mode="replicate")
    steps, shared = _fade_steps(window, height, width, _octaves(height, width) + 1, ring_width)
    # With L_b = G_b - U(G_{b+1}) the faded sum of the expanded bands telescopes,
    # sum_b F_b U^b(L_b) = F_0 G_0 + sum_{b>=1} (F_b - F_{b-1}) U^b(G_b), so only the low-passes G_b are expanded and
    # no band is subtracted out. The bands that reach across the whole ring on every side share one fade, so the
    # low-passes stop at the first of them.
    lows = [extended]
    for _ in range(shared):
        lows.append(box_downsample(lows[-1], 2))
    expanded = lows[-1]
    for low in reversed(lows[:-1]):
        expanded = torch.cat([upsample(expanded), low])
    return expanded.mul_(steps.to(expanded)).sum(dim=0)


def _octaves(height: int, width: int) -> int:
    """How many times both sides halve exactly, down to a band of at least 2 x 2: the change's pyramid depth."""
    return min((height & -height).bit_length(), (width & -width).bit_length()) - 2


@lru_cache(maxsize=256)
def _fade_steps(window: Window, height: int, width: int, bands: int, ring_width: float) -> tuple[torch.Tensor, int]:
    """Per band, the step ``F_b - F_{b-1}`` of the change's fade (``F_0`` for band 0), and ``shared``.

    ``F_b`` is the weight of band ``b`` of the continued change at each pixel
    (1 at the window, 0 far out). ``bands`` counts the change's whole pyramid,
    low-pass included. Each side's reach is the band's ``ring_width * 2^b``,
    but no more than the ring's thickness on that side or half the window's
    size along it. Bands ``shared`` and coarser reach that whole distance on
    every side, so they have one fade, given once.

    Returns:
        ``(shared + 1, 1, H, W)``, band ``shared`` first, then finer to band 0; and ``shared``.
    """
    ys = torch.arange(height, dtype=torch.float64)
    xs = torch.arange(width, dtype=torch.float64)
    above, below = (window.top - ys).clamp(min=0), (ys - (window.top + window.height - 1)).clamp(min=0)
    left, right = (window.left - xs).clamp(min=0), (xs - (window.left + window.width - 1)).clamp(min=0)
    # A change is carried at most half the window's own size past it: a band coarser than the window is what
    # the finer level says about the window as a whole, and carried further it adds energy to the coarse octaves
    # that independent samples do not have (docs/design.md, "The ring": 1.45-2.56x at p = 4 and 8 without it).
    half_height, half_width = window.height / 2, window.width / 2
    gaps = (
        min(window.top, half_height),
        min(height - window.top - window.height, half_height),
        min(window.left, half_width),
        min(width - window.left - window.width, half_width),
    )
    shared = next((b for b in range(bands) if all(ring_width * 2**b >= gap for gap in gaps)), bands - 1)
    fades = []
    for band in range(shared + 1):
        # Each side fades over the band's reach or the ring's thickness on that side, whichever is shorter.
        reach = [max(min(ring_width * 2**band, gap), 1e-9) for gap in gaps]
        t_y = torch.maximum(above / reach[0], below / reach[1])
        t_x = torch.maximum(left / reach[2], right / reach[3])
        fades.append((1 - torch.maximum(t_y[:, None], t_x[None, :])).clamp(min=0)[None])
    steps = [fades[0]] + [longer - shorter for shorter, longer in zip(fades, fades[1:])]
    return torch.stack(steps[::-1]), shared
