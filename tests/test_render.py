"""Π_image and Π_noise (paper Algorithm 1): identity, composition, and noise statistics."""

import functools

import pytest
import torch
import torch.nn.functional as F
from helpers import FieldPrior, seam_ratio

from powers_of_ten.blending import (
    RING_WIDTH,
    ZoomLayout,
    box_downsample,
    build_laplacian_pyramid,
    overlap_difference,
    render_image,
    render_noise,
    upscale_stack,
)
from powers_of_ten.blending.pyramid import upsample
from powers_of_ten.blending.render import _fade_steps, _octaves, _ring_continuation

paste = functools.partial(render_image, ring_width=0.0)
"""The paper's Algorithm 1: a hard paste, the coarser level's ring left as it is."""


def paste_reference(stack, zoom_factor, gain):
    """Algorithm 1 as written: start with L_i, paste D_{j-i}(L_j) for j = i+1 … N-1."""
    levels, _, height, width = stack.shape
    views = stack.clone()
    for i in range(levels):
        for j in range(i + 1, levels):
            window = ZoomLayout(zoom_factor).nested_window(height, width, i, j - i)
            patch = box_downsample(stack[j : j + 1], zoom_factor ** (j - i))[0]
            views[i, :, window.rows, window.cols] = patch * gain ** (j - i)
    return views


@pytest.mark.parametrize("zoom_factor, size", [(2, (32, 48)), (4, (64, 64)), (8, (128, 64))])
def test_finest_level_is_identity_and_outside_is_untouched(zoom_factor, size):
    stack = torch.randn(3, 4, *size, generator=torch.Generator().manual_seed(0))
    views = paste(stack, zoom_factor)
    assert torch.equal(views[-1], stack[-1])
    window = ZoomLayout(zoom_factor).child_window(*size, 0)
    outside = torch.ones(size, dtype=torch.bool)
    outside[window.rows, window.cols] = False
    assert torch.equal(views[:-1][..., outside], stack[:-1][..., outside])


@pytest.mark.parametrize("zoom_factor", [2, 4])
def test_nested_pastes_compose(zoom_factor):
    stack = torch.randn(5, 3, 64, 64, generator=torch.Generator().manual_seed(1))
    views = render_image(stack, zoom_factor)
    window = ZoomLayout(zoom_factor).child_window(64, 64, 0)
    for level in range(4):
        shrunk = box_downsample(views[level + 1 : level + 2], zoom_factor)[0]
        assert torch.equal(views[level, :, window.rows, window.cols], shrunk)


@pytest.mark.parametrize("render, gain", [(paste, 1), (render_noise, 2)])
def test_matches_algorithm_one_where_every_footprint_is_whole(render, gain):
    stack = torch.randn(5, 2, 64, 32, generator=torch.Generator().manual_seed(2), dtype=torch.float64)
    torch.testing.assert_close(render(stack, 2), paste_reference(stack, 2, gain), rtol=0, atol=1e-12)


@pytest.mark.parametrize("zoom_factor", [2, 4])
def test_the_ring_continues_the_pasted_level(zoom_factor):
    # Independent draws of a 1/f² field: pasted with a hard edge, each view has a visible step at the border.
    field = FieldPrior(64, 64)
    stack = field.sample((4, 8, 64, 64), torch.Generator().manual_seed(7))
    views, pasted = render_image(stack, zoom_factor), paste(stack, zoom_factor)
    window = ZoomLayout(zoom_factor).child_window(64, 64, 0)
    for level in range(3):
        # The footprint is still exactly the next view box-shrunk.
        shrunk = box_downsample(views[level + 1 : level + 2], zoom_factor)[0]
        torch.testing.assert_close(views[level, :, window.rows, window.cols], shrunk, rtol=0, atol=1e-12)
    # Measured: 4.4 (p = 2) and 4.5 (p = 4) with the hard paste, 0.94 and 1.05 with the ring continued.
    assert seam_ratio(pasted, zoom_factor) > 3
    assert seam_ratio(views, zoom_factor) < 1.2
    # Away from the footprint the ring fades back to the level itself: its corners move 1-2% as much.
    change = (views - pasted).abs()[:3]
    assert change[..., :2, :2].mean() < 0.05 * change[..., window.top - 1, window.cols].mean()


def test_the_ring_reaches_half_the_window_past_it():
    # At p = 4 the footprint is 16 px of a 64 px level with 24 px of ring on each side. Carried further than
    # half the window, the coarse bands' change put 1.4-2.7x independent sampling's energy into the shared
    # octaves (docs/design.md, "The ring").
    stack = FieldPrior(64, 64).sample((3, 4, 64, 64), torch.Generator().manual_seed(9))
    views, pasted = render_image(stack, 4), paste(stack, 4)
    window = ZoomLayout(4).child_window(64, 64, 0)
    reach = window.height // 2
    beyond = torch.ones(64, 64, dtype=torch.bool)
    rows = slice(window.top - reach, window.top + window.height + reach)
    beyond[rows, window.left - reach : window.left + window.width + reach] = False
    assert torch.equal(views[:2, :, beyond], pasted[:2, :, beyond])
    near = ~beyond
    near[window.rows, window.cols] = False
    assert (views[:2, :, near] - pasted[:2, :, near]).abs().mean() > 0.01


@pytest.mark.parametrize("zoom_factor, size", [(2, 128), (4, 64), (8, 128)])
def test_the_ring_continuation_is_the_faded_sum_of_the_changes_bands(zoom_factor, size):
    # The continuation expands only the change's low-passes, which the faded band sum telescopes to; it must
    # still be that sum: each Laplacian band of the border-extended change, expanded to the level and faded.
    window = ZoomLayout(zoom_factor).child_window(size, size, 0)
    change = torch.randn(
        4, window.height, window.width, generator=torch.Generator().manual_seed(3), dtype=torch.float64
    )
    steps, shared = _fade_steps(window, size, size, _octaves(size, size) + 1, RING_WIDTH)
    fades = steps.flip(0).cumsum(0)
    pad = (window.left, size - window.left - window.width, window.top, size - window.top - window.height)
    bands = build_laplacian_pyramid(F.pad(change[None], pad, mode="replicate"), shared)
    reference = 0
    for band, (expanded, fade) in enumerate(zip(bands, fades)):
        for _ in range(band):
            expanded = upsample(expanded)
        reference = reference + fade * expanded[0]
    continued = _ring_continuation(change, window, size, size, RING_WIDTH)
    torch.testing.assert_close(continued, reference, rtol=0, atol=1e-12)
    # Inside the window every band's fade is 1, so the continuation is the change itself.
    torch.testing.assert_close(continued[:, window.rows, window.cols], change, rtol=0, atol=1e-12)


@pytest.mark.parametrize("factor", [2, 4])
@pytest.mark.parametrize(
    "layout", [ZoomLayout(2), ZoomLayout(4, targets=((0, 0), (1, 1), (1, 0))), ZoomLayout(2, cyclic=True)], ids=str
)
def test_an_upscaled_stack_is_consistent_smooth_and_shrinks_back_exactly(layout, factor):
    stack = render_image(FieldPrior(32, 32).sample((4, 3, 32, 32), torch.Generator().manual_seed(10)), layout)
    upscaled = upscale_stack(stack, layout, factor)
    assert upscaled.shape == (4, 3, 32 * factor, 32 * factor)
    assert overlap_difference(upscaled, layout).abs().max() < 1e-12
    torch.testing.assert_close(box_downsample(upscaled, factor), stack, rtol=0, atol=1e-12)
    # No blocks (which would shrink back exactly too): rows step as much inside each old pixel as between
    # two of them.
    steps = upscaled.diff(dim=-2).abs()
    inside, between = steps[..., 0::2, :].mean(), steps[..., 1::2, :].mean()
    assert inside > 0.5 * between, (inside, between)
    with pytest.raises(ValueError, match="factor must be a power of two >= 2; got 3"):
        upscale_stack(stack, layout, 3)


def test_views_kept_in_range_still_nest_exactly():
    # Images: the ring's continuation can overshoot [0, 1]; clamping inside the render keeps the nesting.
    stack = torch.rand(4, 3, 64, 64, generator=torch.Generator().manual_seed(8)).mul(1.4).sub(0.2)
    views = render_image(stack, 2, value_range=(0.0, 1.0))
    assert views.min() >= 0 and views.max() <= 1
    window = ZoomLayout(2).child_window(64, 64, 0)
    for level in range(3):
        assert torch.equal(
            views[level, :, window.rows, window.cols], box_downsample(views[level + 1 : level + 2], 2)[0]
        )
    clamped = render_image(stack, 2).clamp(0, 1)
    assert not torch.equal(clamped[0, :, window.rows, window.cols], box_downsample(clamped[1:2], 2)[0])


def test_rendering_is_idempotent_and_handles_sixteen_levels():
    stack = torch.randn(16, 4, 64, 64, generator=torch.Generator().manual_seed(3))
    views = render_image(stack, 2)
    torch.testing.assert_close(render_image(views, 2), views, rtol=0, atol=1e-6)
    # Level 15 covers 64 / 2^15 of a pixel of level 0: it only shifts that pixel's average.
    assert torch.isfinite(views).all()


def test_rendered_noise_is_unit_variance_and_white():
    # 4000 draws: a per-pixel variance has standard error sqrt(2/4000) = 0.022 and a
    # per-position correlation 1/sqrt(4000) = 0.016; bounds are 6 standard errors.
    draws = 4000
    noise = torch.randn(draws, 6, 1, 16, 16, generator=torch.Generator().manual_seed(4), dtype=torch.float64)
    rendered = torch.stack([render_noise(n, 2) for n in noise])
    variance = rendered.pow(2).mean(dim=0)
    assert (variance - 1).abs().max() < 0.134
    assert abs(variance.mean().item() - 1) < 0.01
    for shifted, base in (
        (rendered[..., 1:, :], rendered[..., :-1, :]),
        (rendered[..., :, 1:], rendered[..., :, :-1]),
    ):
        correlation = (shifted * base).mean(dim=0)
        assert correlation.abs().max() < 0.1
        assert abs(correlation.mean().item()) < 0.005


def test_rendered_noise_agrees_across_levels():
    noise = torch.randn(4, 4, 32, 32, generator=torch.Generator().manual_seed(5))
    rendered = render_noise(noise, 4)
    window = ZoomLayout(4).child_window(32, 32, 0)
    for level in range(3):
        patch = box_downsample(rendered[level + 1 : level + 2], 4)[0] * 4
        torch.testing.assert_close(rendered[level, :, window.rows, window.cols], patch)
    assert torch.equal(rendered[-1], noise[-1])


@pytest.mark.parametrize("dtype, tolerance", [(torch.float16, 2e-3), (torch.bfloat16, 1.6e-2), (torch.float64, 1e-6)])
@pytest.mark.parametrize("render", [render_image, render_noise])
def test_dtype_is_kept_and_values_match_float32(render, dtype, tolerance):
    stack = torch.randn(4, 3, 32, 32, generator=torch.Generator().manual_seed(6)).clamp(-3, 3)
    result = render(stack.to(dtype), 2)
    assert result.dtype == dtype
    reference = render(stack.to(dtype).float(), 2)
    torch.testing.assert_close(result.float(), reference, rtol=tolerance, atol=tolerance * 4)
