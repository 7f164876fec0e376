"""Zooming toward any point: footprints anywhere in their parents, for random layouts and non-square stacks.

Every property the concentric zoom has must hold wherever the targets put the
levels: blend-then-render is a fixed point of consistent stacks, rendered noise
is unit-variance and white, each view's footprint is the next view box-shrunk
(and deeper footprints, between pixels, are its exact area average), and the
camera of a zoom video moves toward each footprint without a jump or a kink.
"""

import dataclasses
import math
import random
from fractions import Fraction

import pytest
import torch
from helpers import FieldPrior, fractal_texture, kept_above, level_seam_ratios, sample_field_zoom

from powers_of_ten.blending import (
    CENTRE,
    Window,
    ZoomLayout,
    blend,
    box_downsample,
    consolidate_estimates,
    overlap_difference,
    render_image,
    render_noise,
    render_zoom_frames,
)
from powers_of_ten.blending.frames import CameraPath
from powers_of_ten.sampler import FixedLevels, grounding_loss

SHAPES = [(2, 5, 32, 48), (4, 4, 64, 32), (2, 6, 24, 40), (8, 3, 32, 48)]
"""(zoom factor, levels, height, width): square and not, every footprint size from 1/8 of a pixel up."""


def random_layout(zoom_factor: int, levels: int, seed: int) -> ZoomLayout:
    """One target per level, uniform on a 1/20 grid of the parent, edges and corners included."""
    rng = random.Random(seed)
    return ZoomLayout(
        zoom_factor,
        targets=tuple((Fraction(rng.randint(0, 20), 20), Fraction(rng.randint(0, 20), 20)) for _ in range(levels - 1)),
    )


def layouts():
    return [
        pytest.param(p, shape, random_layout(p, shape[0], seed), id=f"p{p}-{shape}-{seed}")
        for seed, (p, *shape) in enumerate(SHAPES)
    ]


def paste_reference(stack: torch.Tensor, layout: ZoomLayout) -> torch.Tensor:
    """Algorithm 1 on a fine canvas: each level magnified by pixel repetition, every deeper one laid on whole
    canvas pixels where its footprint is, and the canvas box-shrunk back: exact area averaging, written out."""
    levels, _, height, width = stack.shape
    views = []
    for level in range(levels):
        scale = layout.zoom_factor ** (levels - 1 - level)
        canvas = stack[level].repeat_interleave(scale, -2).repeat_interleave(scale, -1)
        for depth in range(1, levels - level):
            top, left, _, _ = (int(v * scale) for v in layout.footprint(height, width, level, depth))
            repeat = scale // layout.zoom_factor**depth
            patch = stack[level + depth].repeat_interleave(repeat, -2).repeat_interleave(repeat, -1)
            canvas[:, top : top + patch.shape[-2], left : left + patch.shape[-1]] = patch
        views.append(box_downsample(canvas[None], scale)[0])
    return torch.stack(views)


def test_footprints_are_centred_on_their_targets_and_pushed_inside_at_the_edges():
    layout = ZoomLayout(4, targets=((Fraction(1, 4), Fraction(3, 4)), (0, 0), (1, Fraction(1, 2)), (Fraction(1, 5), 1)))
    height, width = 64, 96
    # Level 1 is 16 x 24, centred on (24, 48): rows 40-56, columns 12-36.
    assert layout.child_window(height, width, 0) == Window(40, 12, 16, 24)
    # (0, 0): the top-left corner. x = 1: against the right edge. y = 1: against the bottom, and x = 1/5 puts
    # the centre at column 19.2, so columns 7-31 (the nearest whole pixels).
    assert [layout.child_window(height, width, level) for level in range(1, 4)] == [
        Window(0, 0, 16, 24),
        Window(24, 72, 16, 24),
        Window(48, 7, 16, 24),
    ]


@pytest.mark.parametrize("zoom_factor, shape, layout", layouts())
def test_each_footprint_is_the_next_view_box_shrunk_and_deeper_ones_area_averaged(zoom_factor, shape, layout):
    levels, height, width = shape
    stack = torch.randn(levels, 2, height, width, generator=torch.Generator().manual_seed(0), dtype=torch.float64)
    views = render_image(stack, layout)
    assert torch.equal(views[-1], stack[-1])
    for level in range(levels - 1):
        window = layout.child_window(height, width, level)
        shrunk = box_downsample(views[level + 1 : level + 2], zoom_factor)[0]
        torch.testing.assert_close(views[level, :, window.rows, window.cols], shrunk, rtol=0, atol=1e-12)
    # Deeper footprints fall between a coarse level's pixels: repeated shrinking is their exact area average.
    torch.testing.assert_close(
        render_image(stack, layout, ring_width=0), paste_reference(stack, layout), rtol=0, atol=1e-12
    )


@pytest.mark.parametrize("zoom_factor, shape, layout", layouts())
def test_blend_then_render_is_a_fixed_point_of_consistent_stacks(zoom_factor, shape, layout):
    levels, height, width = shape
    consistent = render_image(torch.randn(levels, 4, height, width, generator=torch.Generator().manual_seed(1)), layout)
    torch.testing.assert_close(render_image(consistent, layout), consistent, rtol=0, atol=1e-6)
    torch.testing.assert_close(blend(consistent, layout), consistent, rtol=0, atol=1e-5)
    torch.testing.assert_close(consolidate_estimates(consistent, layout), consistent, rtol=0, atol=1e-5)


@pytest.mark.parametrize("zoom_factor, shape, layout", layouts())
def test_rendered_noise_is_unit_variance_white_and_agrees_across_levels(zoom_factor, shape, layout):
    # 3000 draws, one per channel: a per-pixel variance has standard error sqrt(2/3000) = 0.026 and a
    # per-position correlation 1/sqrt(3000) = 0.018; bounds are 6 standard errors.
    levels, height, width = shape
    draws = 3000
    rendered = render_noise(
        torch.randn(levels, draws, height, width, generator=torch.Generator().manual_seed(2), dtype=torch.float64),
        layout,
    )
    variance = rendered.pow(2).mean(dim=1)
    assert (variance - 1).abs().max() < 0.155
    assert abs(variance.mean().item() - 1) < 0.01
    for shifted, base in ((rendered[..., 1:, :], rendered[..., :-1, :]), (rendered[..., 1:], rendered[..., :-1])):
        correlation = (shifted * base).mean(dim=1)
        assert correlation.abs().max() < 0.11
        assert abs(correlation.mean().item()) < 0.005
    for level in range(levels - 1):
        window = layout.child_window(height, width, level)
        patch = box_downsample(rendered[level + 1 : level + 2], zoom_factor)[0] * zoom_factor
        torch.testing.assert_close(rendered[level, :, window.rows, window.cols], patch, rtol=0, atol=1e-12)


def test_every_target_at_the_centre_is_bit_identical_to_the_concentric_zoom():
    stack = torch.randn(5, 3, 32, 48, generator=torch.Generator().manual_seed(3))
    concentric, per_level = ZoomLayout(2), ZoomLayout(2, targets=(CENTRE,) * 4)
    for function in (render_image, render_noise, blend, consolidate_estimates):
        assert torch.equal(function(stack, per_level), function(stack, concentric))
    positions = torch.linspace(0, 4, 17)
    assert torch.equal(
        render_zoom_frames(stack, per_level, positions, (32, 48)),
        render_zoom_frames(stack, concentric, positions, (32, 48)),
    )


def test_the_camera_path_of_a_centred_zoom_is_the_concentric_zoom():
    # One camera path serves every zoom: centred, each frame is the middle p^-tau of its level, to rounding.
    for zoom_factor, height, width in ((2, 48, 64), (4, 64, 64), (8, 64, 128)):
        camera = CameraPath(ZoomLayout(zoom_factor), list(range(4)), height, width)
        positions = torch.linspace(0, 3, 31, dtype=torch.float64)
        k, origin, z = camera.origin(positions)
        torch.testing.assert_close(origin, ((1 - z) / 2)[:, None].expand(-1, 2), rtol=0, atol=1e-15)
        for level in range(4):
            at = torch.full_like(k, level)
            scale = torch.pow(float(zoom_factor), at.double() - positions)
            expected = ((1 - scale) / 2)[:, None].expand(-1, 2)
            torch.testing.assert_close(camera.in_level(k, origin, at), expected, rtol=0, atol=1e-12)
    # A target a millionth of a level off the centre places every footprint where the centre does: same frames.
    stack = fractal_texture(4, 48, 64, seed=4)
    nudged = ZoomLayout(2, targets=((Fraction(1, 2), Fraction(1, 2) + Fraction(1, 10**6)),))
    assert not nudged.centred and nudged.child_window(48, 64, 0) == ZoomLayout(2).child_window(48, 64, 0)
    positions = torch.linspace(0, 3, 31)
    for size in ((48, 64), (24, 32), (96, 128)):
        frames = render_zoom_frames(stack, nudged, positions, size)
        assert torch.equal(frames, render_zoom_frames(stack, 2, positions, size))


@pytest.mark.parametrize("zoom_factor, shape, layout", layouts())
def test_frames_at_integer_positions_are_the_views_and_continuous_between(zoom_factor, shape, layout):
    levels, height, width = shape
    stack = fractal_texture(levels, height, width, seed=5)
    views = render_image(stack, layout)
    torch.testing.assert_close(
        render_zoom_frames(stack, layout, torch.arange(float(levels)), (height, width)), views, rtol=0, atol=1e-6
    )
    delta = 1e-6
    positions = torch.tensor([[k - delta, k, k + delta] for k in range(1, levels - 1)], dtype=torch.float64)
    for size in ((height, width), (2 * height, 2 * width)):
        frames = render_zoom_frames(stack, layout, positions.flatten(), size).unflatten(0, (-1, 3))
        assert (frames[:, 1:] - frames[:, :-1]).abs().max() < 1e-3


@pytest.mark.parametrize("zoom_factor", [2, 4])
def test_level_crossings_do_not_stand_out_in_frame_differences(zoom_factor):
    # As for the concentric zoom (test_frames): across a crossing, frames change by at most 1.5x the median step.
    layout = ZoomLayout(zoom_factor, targets=((0, 0), (1, 1), (1, 0)))
    stack = fractal_texture(4, 64, 96, seed=6)
    positions = (torch.arange(3 * 64) + 0.5) / 64
    crossing = torch.floor(positions[1:]) != torch.floor(positions[:-1])
    frames = render_zoom_frames(stack, layout, positions, (64, 96))
    steps = (frames[1:] - frames[:-1]).abs().mean((1, 2, 3))
    assert (steps[crossing] / steps.median()).max() <= 1.5


def anchor(layout: ZoomLayout, height: int, width: int, level: int) -> torch.Tensor:
    """``t_k = f_k / (1 - 1/p)`` as (x, y): the point of level ``level`` that stays put as the camera enters the next.

    ``f_k`` is the corner of the next level's footprint, in fractions of this level (``blending.frames.CameraPath``).
    """
    window = layout.child_window(height, width, level)
    corner = torch.tensor([window.left / width, window.top / height], dtype=torch.float64)
    return corner / (1 - 1 / layout.zoom_factor)


def ramp_stack(layout: ZoomLayout, levels: int, height: int, width: int) -> torch.Tensor:
    """Each level holds its own pixels' (x, y) in level 0, as fractions: the frame's mean is where its centre is."""
    channels = []
    for level in range(levels):
        top, left, size_h, size_w = (float(v) for v in layout.footprint(height, width, 0, level))
        y = (top + (torch.arange(height, dtype=torch.float64) + 0.5) * size_h / height) / height
        x = (left + (torch.arange(width, dtype=torch.float64) + 0.5) * size_w / width) / width
        channels.append(torch.stack([x[None, :].expand(height, width), y[:, None].expand(height, width)]))
    return torch.stack(channels)


@pytest.mark.parametrize("zoom_factor, shape, seed", [(2, (5, 32, 48), 7), (4, (4, 64, 32), 8)])
def test_the_camera_moves_toward_each_footprint_without_a_kink(zoom_factor, shape, seed):
    # On a stack of coordinate ramps a frame's mean is where its centre is in level 0, read off the frames.
    # At constant zoom speed its velocity, in frame widths per level, just before and just after each crossing
    # differs by at most 0.012 (measured; resampling a ramp ripples a little with position), where a camera
    # heading straight for each footprint (a fixed anchor per level) turns by ln p |t_k+1 - t_k|: 0.52-0.69 here.
    # The camera's own path (blending.frames.CameraPath) has no kink at all, to rounding.
    levels, height, width = shape
    layout = random_layout(zoom_factor, levels, seed)
    stack = ramp_stack(layout, levels, height, width)
    camera = CameraPath(layout, list(range(levels)), height, width)
    size = float(zoom_factor)

    def frame_centre(positions):
        return render_zoom_frames(stack, layout, positions, (height, width)).mean((2, 3))

    def camera_centre(positions):
        level, corner, extent = camera.origin(torch.tensor(positions, dtype=torch.float64))
        corner = camera.in_level(level, corner, torch.zeros_like(level))
        return (corner + (extent * size ** -level.double())[:, None] / 2).flip(1)

    for centre, delta, bound in ((frame_centre, 1e-3, 0.03), (camera_centre, 1e-6, 1e-4)):
        for crossing in range(1, levels - 1):
            positions = [crossing - delta, crossing, crossing + delta]
            before, after = (centre(positions).diff(dim=0) / delta / size**-crossing).unbind()
            assert (after - before).abs().max() < bound
    kinks = [
        math.log(zoom_factor) * (anchor(layout, height, width, level) - anchor(layout, height, width, level - 1))
        for level in range(1, levels - 1)
    ]
    assert max(kink.abs().max() for kink in kinks) > 0.5
    # The frame at a crossing is that level's view: its centre is the footprint's centre.
    for crossing in range(1, levels - 1):
        top, left, size_h, size_w = (float(v) for v in layout.footprint(height, width, 0, crossing))
        expected = torch.tensor([(left + size_w / 2) / width, (top + size_h / 2) / height], dtype=torch.float64)
        torch.testing.assert_close(frame_centre([crossing])[0], expected, rtol=0, atol=1e-9)
        torch.testing.assert_close(camera_centre([crossing])[0], expected, rtol=0, atol=1e-12)


def test_grounding_compares_each_level_with_its_footprint_in_the_photo():
    layout = random_layout(2, 4, seed=9)
    stack = render_image(torch.randn(4, 3, 32, 48, generator=torch.Generator().manual_seed(10)), layout)
    for level in range(4):
        assert grounding_loss(stack, layout, {level: stack[level]}) < 1e-8
    # The same photo placed by the concentric layout is far off.
    assert grounding_loss(stack, ZoomLayout(2), {0: stack[0]}) > 1


def test_an_offcentre_zoom_extends_deeper_with_its_old_levels_kept():
    layout = ZoomLayout(2, targets=((0.2, 0.3), (0.75, 0.8), (0, 1), (0.6, 0.25), (0.5, 1), (1, 0.4)))
    old = sample_field_zoom(4, dataclasses.replace(layout, targets=layout.targets[:3]), seed=0)
    values = torch.cat([old, torch.zeros_like(old[:3])])
    mask = torch.tensor([True] * 4 + [False] * 3)
    extended = sample_field_zoom(7, layout, seed=5, fixed=FixedLevels(values, mask))
    assert kept_above(extended, old, layout)
    assert overlap_difference(extended, layout).abs().max() < 1e-12
    # Measured over seeds 5-9: the junction (view 3 with level 4 pasted in) 1.02 (concentric: 1.11,
    # test_loop_and_fixed); the new levels' borders 1.01-1.25 (concentric 0.85-1.13), where the footprints of
    # levels 5 and 6 fall between the fixed level 3's pixels and take its bands only through their parents.
    seams = level_seam_ratios(extended, layout)
    assert seams[3] < 1.2 and seams.max() < 1.4


def test_an_offcentre_loop_agrees_around_the_wrap_and_its_video_repeats():
    layout = ZoomLayout(2, cyclic=True, targets=((0.3, 0.3), (0.7, 0.6), (0.25, 0.75), (0.6, 0.4)))
    views = render_image(FieldPrior(32, 48).sample((4, 3, 32, 48), torch.Generator().manual_seed(11)), layout)
    assert overlap_difference(views, layout).abs().max() < 1e-12
    torch.testing.assert_close(consolidate_estimates(views, layout), views, rtol=0, atol=1e-12)
    positions = torch.tensor([0.0, 0.3, 1.7, 3.5], dtype=torch.float64)
    torch.testing.assert_close(
        render_zoom_frames(views, layout, positions + 4, (32, 48)),
        render_zoom_frames(views, layout, positions, (32, 48)),
        rtol=0,
        atol=1e-9,
    )
    # Across the wrap the camera comes out of the deepest level into level 0 as across any crossing.
    delta = 1e-6
    frames = render_zoom_frames(views, layout, torch.tensor([4 - delta, 4.0, 4 + delta]), (32, 48))
    assert (frames[1:] - frames[:-1]).abs().max() < 1e-3


def test_shrunk_frames_of_an_offcentre_zoom_do_not_alias():
    # A pixel-sized checkerboard on every level, seen at half size between levels: an area filter greys it
    # out (measured standard deviation 0.085-0.103, what a 1.2-2 pixel box leaves), where point sampling
    # would show a moiré of 0s and 1s (0.5).
    layout = random_layout(2, 4, seed=3)
    rows, cols = torch.meshgrid(torch.arange(64), torch.arange(96), indexing="ij")
    checker = ((rows + cols) % 2).double().expand(4, 1, 64, 96)
    frames = render_zoom_frames(checker, layout, [0.3, 0.5, 1.3, 2.7], (32, 48))
    assert frames.std(dim=(1, 2, 3)).max() < 0.15


def test_a_part_of_a_layout_keeps_each_levels_target():
    layout = random_layout(2, 6, seed=12)
    part = layout.part(range(2, 5))
    part.check_levels(3)
    for level in range(2):
        assert part.child_window(32, 48, level) == layout.child_window(32, 48, 2 + level)
    assert ZoomLayout(4).part(range(1, 3)) == ZoomLayout(4)
    loop = ZoomLayout(2, cyclic=True, targets=((0.2, 0.2), (0.7, 0.7), (0.5, 0.1)))
    assert loop.part(range(3)) == loop
    with pytest.raises(ValueError, match="a loop of 3 levels has no part 1-2"):
        loop.part(range(1, 3))
