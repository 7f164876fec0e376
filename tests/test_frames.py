"""Continuous zoom frames and their timing: exact at the levels, sharp, continuous, streamed, validated."""

import math

import pytest
import torch
import torch.nn.functional as F
from helpers import fractal_texture

from powers_of_ten.blending import (
    DIRECTIONS,
    EASINGS,
    ZoomLayout,
    beat_level_seconds,
    iter_zoom_frames,
    render_image,
    render_zoom_frames,
    rotation_inset,
    zoom_angles,
    zoom_positions,
)


def coarse_only_zoom(views, zoom_factor, positions):
    """The blur baseline: level floor(s)'s view, magnified, with no finer level pasted in."""
    levels = positions.floor().long().clamp(max=views.shape[0] - 1)
    scales = torch.pow(float(zoom_factor), levels - positions).float()
    theta = torch.zeros(len(positions), 2, 3)
    theta[:, 0, 0] = theta[:, 1, 1] = scales
    grid = F.affine_grid(theta, (len(positions), *views.shape[1:]), align_corners=False)
    return F.grid_sample(views[levels], grid, align_corners=False)


def coordinate_stack(layout, levels, height, width):
    """A stack whose pixels hold their own centre ``(x, y)`` in fractions of level 0, and each level's extent there.

    Box-shrinking a level into its footprint gives the coarser level's pixels exactly, so the stack is
    consistent, and a frame's pixels read back where in level 0 they were sampled.
    """
    corner, size, levels_out, extents = torch.zeros(2, dtype=torch.float64), 1.0, [], []
    for level in range(levels):
        y = corner[0] + (torch.arange(height, dtype=torch.float64) + 0.5) / height * size
        x = corner[1] + (torch.arange(width, dtype=torch.float64) + 0.5) / width * size
        levels_out.append(torch.stack([x[None, :].expand(height, width), y[:, None].expand(height, width)]))
        extents.append((corner.clone(), size))
        if level + 1 < levels:
            window = layout.child_window(height, width, level)
            corner += torch.tensor([window.top / height, window.left / width], dtype=torch.float64) * size
            size /= layout.zoom_factor
    return torch.stack(levels_out), extents


def high_frequency_energy(image):
    return (image - F.avg_pool2d(image, 3, 1, 1, count_include_pad=False)).pow(2).mean().item()


@pytest.mark.parametrize("zoom_factor, size", [(2, (72, 128)), (4, (64, 64)), (8, (144, 256))])
def test_integer_positions_are_the_rendered_views(zoom_factor, size):
    stack = torch.rand(3, 3, *size, generator=torch.Generator().manual_seed(0))
    frames = render_zoom_frames(stack, zoom_factor, torch.arange(3.0), size)
    torch.testing.assert_close(frames, render_image(stack, zoom_factor), rtol=0, atol=1e-6)


def test_smaller_frames_at_integer_positions_are_the_box_shrunk_views():
    stack = torch.rand(4, 3, 64, 96, generator=torch.Generator().manual_seed(1))
    frames = render_zoom_frames(stack, 2, torch.arange(4.0), (32, 48))
    torch.testing.assert_close(frames, F.avg_pool2d(render_image(stack, 2), 2), rtol=0, atol=1e-6)


@pytest.mark.parametrize("zoom_factor, position", [(4, 1.5), (2, 1.0)])
def test_magnified_frames_show_the_finer_level_pixel_for_pixel(zoom_factor, position):
    # Twice the stack's size: level j = position + log_p(2) lands 1:1 in the middle of the frame,
    # so it must appear there untouched, not as a magnified coarser level.
    stack = torch.rand(4, 3, 32, 48, generator=torch.Generator().manual_seed(2))
    frame = render_zoom_frames(stack, zoom_factor, [position], (64, 96))[0]
    level = round(position + math.log(2, zoom_factor))
    torch.testing.assert_close(frame[:, 16:48, 24:72], render_image(stack, zoom_factor)[level], rtol=0, atol=1e-6)


@pytest.mark.parametrize("zoom_factor", [2, 4, 8])
def test_between_levels_the_centre_is_as_sharp_as_the_finer_level(zoom_factor):
    # Halfway between levels 0 and 1, the frame's centre lies inside level 1's footprint. Its
    # high-frequency energy is compared with level 1's view shrunk by the same factor by an
    # independent anti-aliased resize (triangle filter, a little softer than our box): at least
    # 0.8 of it, and at least twice that of the magnified level 0 that a coarse-only zoom shows.
    stack = fractal_texture(3, 128, 128, seed=3)
    views = render_image(stack, zoom_factor)
    frame = render_zoom_frames(stack, zoom_factor, [0.5], (128, 128))
    half = int(64 * zoom_factor**-0.5) - 2
    centre = slice(64 - half, 64 + half)
    shrunk = round(128 * zoom_factor**-0.5)
    reference = F.interpolate(views[1:2], size=(shrunk, shrunk), mode="bilinear", antialias=True)
    reference = reference[..., shrunk // 2 - half : shrunk // 2 + half, shrunk // 2 - half : shrunk // 2 + half]
    blurred = coarse_only_zoom(views, zoom_factor, torch.tensor([0.5]))
    ours = high_frequency_energy(frame[..., centre, centre])
    assert ours >= 0.8 * high_frequency_energy(reference)
    assert ours >= 2 * high_frequency_energy(blurred[..., centre, centre])


@pytest.mark.parametrize("zoom_factor, size", [(2, (64, 64)), (4, (48, 48)), (8, (64, 64)), (2, (100, 100))])
def test_frames_are_continuous_at_level_boundaries(zoom_factor, size):
    # At integer positions, and where the sharpest level in use changes (s - log_p(W / w) an
    # integer), frames a millionth of a level apart differ by at most 1e-3: no pop anywhere.
    stack = fractal_texture(4, 64, 64, seed=4)
    shift = math.log(64 / size[0], zoom_factor)
    boundaries = {float(k) for k in range(1, 3)} | {k + shift for k in range(-3, 5) if 0.01 < k + shift < 2.99}
    delta = 1e-6
    positions = torch.tensor([[b - delta, b, b + delta] for b in sorted(boundaries)], dtype=torch.float64)
    frames = render_zoom_frames(stack, zoom_factor, positions.flatten(), size).unflatten(0, (-1, 3))
    assert (frames[:, 1:] - frames[:, :-1]).abs().max() < 1e-3


@pytest.mark.parametrize("zoom_factor, size", [(2, (64, 64)), (4, (64, 64)), (2, (72, 128))])
def test_level_crossings_do_not_stand_out_in_frame_differences(zoom_factor, size):
    # 64 frames per level, none on an integer. The mean absolute frame-to-frame difference across
    # a level crossing is at most 1.5x the median difference; the coarse-only zoom, which pops
    # from blurred to sharp there, exceeds that bound (the check can see a pop).
    stack = fractal_texture(4, *size, seed=5)
    positions = (torch.arange(3 * 64) + 0.5) / 64
    crossing = torch.floor(positions[1:]) != torch.floor(positions[:-1])

    def crossing_ratio(frames):
        steps = (frames[1:] - frames[:-1]).abs().mean((1, 2, 3))
        return (steps[crossing] / steps.median()).max().item()

    assert crossing_ratio(render_zoom_frames(stack, zoom_factor, positions, size)) <= 1.5
    assert crossing_ratio(coarse_only_zoom(render_image(stack, zoom_factor), zoom_factor, positions)) > 1.5


def test_streamed_chunks_are_the_full_render():
    stack = fractal_texture(4, 32, 48, seed=6)
    positions = zoom_positions(4, fps=10, seconds_per_level=1.0, direction="in_out")
    chunks = list(iter_zoom_frames(stack, 2, positions, (32, 48), chunk_size=3))
    assert [chunk.shape[0] for chunk in chunks] == [3] * 20 + [1]
    torch.testing.assert_close(torch.cat(chunks), render_zoom_frames(stack, 2, positions, (32, 48)), rtol=0, atol=0)


@pytest.mark.parametrize("dtype, tolerance", [(torch.float64, 1e-6), (torch.float16, 2e-3), (torch.bfloat16, 1e-2)])
def test_dtypes_are_kept_and_half_types_computed_in_float32(dtype, tolerance):
    stack = fractal_texture(3, 32, 32, seed=7)
    positions = torch.linspace(0, 2, 9)
    frames = render_zoom_frames(stack.to(dtype), 2, positions, (48, 48))
    assert frames.dtype == dtype and frames.shape == (9, 3, 48, 48)
    reference = render_zoom_frames(stack.to(dtype).float(), 2, positions, (48, 48))
    torch.testing.assert_close(frames.float(), reference, rtol=0, atol=tolerance)


@pytest.mark.parametrize(
    "positions, size, message",
    [
        ([0.0, 1.0], (64, 64), "size 64x64 .* aspect 64x96: for width 64 use height 43"),
        ([0.0, 1.0], (0, 96), "two positive integers"),
        ([0.0, 3.5], (64, 96), r"\[0, 3\] for a stack of 4 levels; got \[0.0, 3.5\]"),
        ([-0.1], (64, 96), r"got \[-0.1, -0.1\]"),
        ([0.0, float("nan")], (64, 96), "finite"),
        ([[0.0, 1.0]], (64, 96), r"1-D .* shape \(1, 2\)"),
        ([], (64, 96), "non-empty"),
    ],
)
def test_bad_frame_requests_raise(positions, size, message):
    stack = torch.rand(4, 3, 64, 96)
    with pytest.raises(ValueError, match=message):
        render_zoom_frames(stack, 2, positions, size)


def test_bad_stacks_and_chunk_sizes_raise_before_streaming():
    with pytest.raises(ValueError, match="zoom_factor"):
        iter_zoom_frames(torch.rand(4, 3, 64, 64), 3, [0.0], (64, 64))
    with pytest.raises(ValueError, match="multiple of 2 x zoom_factor"):
        iter_zoom_frames(torch.rand(4, 3, 60, 64), 4, [0.0], (60, 64))
    with pytest.raises(ValueError, match="chunk_size must be a positive integer or None; got 0"):
        iter_zoom_frames(torch.rand(4, 3, 64, 64), 2, [0.0], (64, 64), chunk_size=0)


def test_positions_count_and_reach_both_ends():
    positions = zoom_positions(6, fps=24, seconds_per_level=1.5)
    assert positions.dtype == torch.float64
    assert positions.numel() == round(5 * 1.5 * 24) + 1
    assert positions[0] == 0 and positions[-1] == 5
    assert (positions.diff() > 0).all()
    torch.testing.assert_close(positions.diff(), torch.full((180,), 5 / 180, dtype=torch.float64))


def test_positions_hold_and_ping_pong():
    forward = zoom_positions(4, fps=10, seconds_per_level=1.0, first_level=1, last_level=2.5)
    assert forward.numel() == 16 and forward[0] == 1 and forward[-1] == 2.5
    held = zoom_positions(4, fps=10, seconds_per_level=1.0, hold_start=3, hold_end=2, first_level=1, last_level=2.5)
    torch.testing.assert_close(held, torch.cat([forward[:1].repeat(3), forward, forward[-1:].repeat(2)]))
    backward = zoom_positions(4, fps=10, seconds_per_level=1.0, direction="out", first_level=1, last_level=2.5)
    torch.testing.assert_close(backward, forward.flip(0))
    ping_pong = zoom_positions(4, fps=10, seconds_per_level=1.0, direction="in_out", hold_end=2)
    forward = zoom_positions(4, fps=10, seconds_per_level=1.0)
    torch.testing.assert_close(ping_pong, torch.cat([forward, forward[-1:].repeat(2), forward.flip(0)[1:]]))
    assert ping_pong.numel() == 31 + 2 + 30 and ping_pong[0] == ping_pong[-1] == 0


@pytest.mark.parametrize("easing", EASINGS)
def test_easings_start_and_end_on_the_levels_and_shape_the_speed(easing):
    positions = zoom_positions(3, fps=30, seconds_per_level=1.0, easing=easing)
    assert positions.numel() == 61 and positions[0] == 0 and positions[-1] == 2
    assert (positions.diff() >= 0).all()
    steps = positions.diff()
    # Average step 1/30; an eased end moves at under a tenth of it in its first/last step.
    slow_start, slow_end = steps[0] < 1 / 300, steps[-1] < 1 / 300
    assert slow_start == (easing in ("ease_in", "ease_in_out"))
    assert slow_end == (easing in ("ease_out", "ease_in_out"))


def test_time_per_level_reaches_each_level_when_it_says_with_no_jump_in_speed():
    seconds, fps = [1.0, 2.0, 0.5, 3.0], 20
    positions = zoom_positions(5, fps=fps, seconds_per_level=seconds)
    reached = [0.0, *torch.tensor(seconds, dtype=torch.float64).cumsum(0).tolist()]
    assert positions.numel() == round(reached[-1] * fps) + 1
    for level, time in enumerate(reached):
        assert positions[round(time * fps)].item() == pytest.approx(level, abs=1e-9)
    assert (positions.diff() > 0).all()
    # A path straight from one level to the next changes its step at each crossing frame by the difference of
    # the two speeds (1/20 - 1/40 = 0.025 at the first, 0.075 and 0.083 at the others); this one eases from one
    # speed to the next over the levels beside it. Measured: 0.0025, 0.018 and 0.018 at the crossings, 0.030
    # at most anywhere.
    steps = positions.diff()
    jumps = (1 / (fps * torch.tensor(seconds, dtype=torch.float64))).diff().abs()
    for crossing, jump in zip((20, 60, 70), jumps):
        assert (steps[crossing] - steps[crossing - 1]).abs() < 0.3 * jump
    assert steps.diff().abs().max() < 0.4 * jumps.max()
    # One time for every level is the constant-speed path, exactly.
    assert torch.equal(
        zoom_positions(5, fps=fps, seconds_per_level=[1.5] * 4), zoom_positions(5, fps=fps, seconds_per_level=1.5)
    )


def test_holds_stop_the_zoom_on_the_frames_they_name():
    positions = zoom_positions(5, fps=10, seconds_per_level=[1.0, 2.0, 1.0, 3.0], holds={2: 1.5, 3: 0.5})
    # Level 2 is reached at 3 s and held 1.5 s; level 3 a second later, held 0.5 s.
    held = (positions == 2).nonzero().flatten().tolist()
    assert held == list(range(30, 46))
    assert (positions == 3).nonzero().flatten().tolist() == list(range(55, 61))
    assert positions.numel() == round((7 + 2) * 10) + 1 and (positions.diff() >= 0).all()
    # It slows into the hold and out of it: the steps next to a hold are a small part of the fastest beside it.
    steps = positions.diff()
    assert steps[29] < 0.25 * steps[:29].max() and steps[45] < 0.25 * steps[45:54].max()


@pytest.mark.parametrize(
    "changes, message",
    [
        ({"seconds_per_level": [1.0, 2.0]}, "one time per level but the deepest, 3 for 4 levels; got 2"),
        ({"seconds_per_level": [1.0, 0.0, 1.0]}, r"seconds_per_level\[1\] must be a positive number; got 0.0"),
        ({"holds": {0: 1.0}}, "holds must be at whole levels between first_level 0.0 and last_level 3"),
        ({"holds": {1: -1.0}}, "the hold at level 1 must last a positive number of seconds; got -1.0"),
        ({"holds": {1: 1.0}, "loop": True}, "it needs one seconds_per_level and no holds"),
        ({"levels": 1}, "levels must be an integer >= 2; got 1"),
        ({"fps": 0}, "fps must be a positive number; got 0"),
        ({"seconds_per_level": float("inf")}, "seconds_per_level must be a positive number; got inf"),
        ({"easing": "bounce"}, f"easing must be one of {', '.join(EASINGS)}; got 'bounce'"),
        ({"direction": "sideways"}, f"direction must be one of {', '.join(DIRECTIONS)}; got 'sideways'"),
        ({"hold_start": -1}, "hold_start must be a whole number of frames >= 0; got -1"),
        ({"hold_end": 1.5}, "hold_end must be a whole number of frames >= 0; got 1.5"),
        ({"first_level": 2, "last_level": 2}, "first_level 2, last_level 2"),
        ({"last_level": 4}, r"last_level <= 3 for 4 levels; got first_level 0.0, last_level 4"),
    ],
)
def test_bad_timing_raises_naming_the_argument(changes, message):
    arguments = {"levels": 4, "fps": 30.0, "seconds_per_level": 1.0} | changes
    with pytest.raises(ValueError, match=message):
        zoom_positions(**arguments)


@pytest.mark.parametrize("zoom_factor, stack_size, size", [(2, (32, 32), (32, 32)), (4, (24, 40), (30, 50))])
def test_turned_frames_show_the_turned_field_of_view(zoom_factor, stack_size, size):
    # A centred zoom turning 37 degrees per level: every frame pixel reads back the point of level 0 that
    # the turned, inset frame puts there, to within 0.75 of a pixel of the level that supplies it (measured:
    # 0.27 and 0.48; unturned frames 0.25 and 0.35), the box filter over piecewise-constant pixels being the
    # only difference. A wrong sense, centre, inset or level is off by many pixels.
    height, width = stack_size
    stack, _ = coordinate_stack(ZoomLayout(zoom_factor), 3, height, width)
    positions = torch.linspace(0, 2, 41, dtype=torch.float64)
    angles = 37.0 * positions
    inset = rotation_inset(torch.deg2rad(angles), height, width)
    frames = render_zoom_frames(stack, zoom_factor, positions, size, angles=angles)
    extent = (inset * zoom_factor**-positions)[:, None, None]
    across = ((torch.arange(size[1], dtype=torch.float64) + 0.5) / size[1] - 0.5)[None, None, :] * extent
    down = ((torch.arange(size[0], dtype=torch.float64) + 0.5) / size[0] - 0.5)[None, :, None] * extent
    turn, aspect = torch.deg2rad(angles)[:, None, None], width / height
    x = 0.5 + turn.cos() * across - turn.sin() * down / aspect
    y = 0.5 + turn.sin() * across * aspect + turn.cos() * down
    # The level that supplies a pixel: the finest whose footprint holds it, but none finer than the frame needs.
    sharp = torch.ceil(positions - math.log(inset * width / size[1], zoom_factor) - 1e-9).clamp(0, 2)
    holding = torch.floor(-torch.log(2 * torch.maximum((x - 0.5).abs(), (y - 0.5).abs())) / math.log(zoom_factor))
    level = torch.minimum(holding.clamp(0, 2), sharp[:, None, None])
    error = torch.maximum((frames[:, 0] - x).abs() * width, (frames[:, 1] - y).abs() * height) * zoom_factor**level
    assert error.max() < 0.75


@pytest.mark.parametrize("targets", [[(0.5, 0.5)], [(0.0, 0.0), (1.0, 0.3), (0.8, 1.0)]])
def test_turned_frames_stay_inside_the_level_that_holds_them(targets):
    # Off-centre too: the frame at s reads only points of level floor(s), for any angle, so no corner is empty.
    layout = ZoomLayout(2, targets=tuple(targets))
    stack, extents = coordinate_stack(layout, 4, 32, 48)
    positions = torch.linspace(0, 3, 61, dtype=torch.float64)
    angles = torch.linspace(0, 400, 61, dtype=torch.float64)
    frames = render_zoom_frames(stack, layout, positions, (32, 48), angles=angles)
    for frame, position in zip(frames, positions):
        corner, extent = extents[min(int(position), 3)]
        for axis, (x_or_y, low) in enumerate(zip(frame[:2], corner.flip(0))):
            assert low - 1e-9 <= x_or_y.min() and x_or_y.max() <= low + extent + 1e-9, (position, axis)


@pytest.mark.parametrize("position", [0.0, 0.6, 1.0, 2.3])
def test_a_quarter_turn_is_the_frame_turned(position):
    # A square frame fits inside its view at every multiple of 90 degrees, so nothing is inset: the turned
    # frames are the unturned frame turned, and a whole turn is the unturned frame, to float rounding.
    stack = fractal_texture(4, 48, 48, seed=8)
    unturned = render_zoom_frames(stack, 2, [position], (48, 48))
    for quarters in range(5):
        turned = render_zoom_frames(stack, 2, [position], (48, 48), angles=[90.0 * quarters])
        torch.testing.assert_close(turned, torch.rot90(unturned, quarters, (2, 3)), rtol=0, atol=1e-5)


def test_turning_frames_are_continuous_at_level_boundaries():
    stack = fractal_texture(4, 64, 64, seed=9)
    positions = torch.tensor([[b - 1e-6, b, b + 1e-6] for b in (1.0, 1.5, 2.0)], dtype=torch.float64).flatten()
    frames = render_zoom_frames(stack, 2, positions, (64, 64), angles=25.0 * positions)
    frames = frames.unflatten(0, (-1, 3))
    assert (frames[:, 1:] - frames[:, :-1]).abs().max() < 1e-3


def test_the_inset_is_the_largest_turned_frame_that_fits():
    assert rotation_inset(torch.tensor([math.pi / 4]), 64, 64) == pytest.approx(2**-0.5)
    assert rotation_inset(torch.tensor([math.pi / 2]), 36, 64) == pytest.approx(36 / 64)
    assert rotation_inset(torch.tensor([0.0, math.pi], dtype=torch.float64), 36, 64) == pytest.approx(1.0, abs=1e-12)
    # The turned frame's corners at the inset lie inside the view, and one of them touches its edge.
    for angle in torch.linspace(0.05, 3.1, 23, dtype=torch.float64):
        inset = rotation_inset(angle[None], 36, 64)
        corners = torch.tensor([[32.0, 18.0], [32.0, -18.0]], dtype=torch.float64) * inset
        turned = corners @ torch.tensor([[angle.cos(), angle.sin()], [-angle.sin(), angle.cos()]])
        reach = (turned.abs() / torch.tensor([32.0, 18.0], dtype=torch.float64)).max()
        assert reach == pytest.approx(1.0, abs=1e-9)


def test_angles_turn_per_level_with_no_jump_in_turning_speed():
    positions = zoom_positions(4, fps=20, seconds_per_level=1.0)
    torch.testing.assert_close(zoom_angles(positions, 30.0, 4), 30.0 * positions, rtol=0, atol=0)
    angles = zoom_angles(positions, [90.0, 10.0, -40.0], 4)
    for level, angle in enumerate([0.0, 90.0, 100.0, 60.0]):
        assert angles[20 * level].item() == pytest.approx(angle, abs=1e-9)
    # Straight from level to level the step would change by 4 degrees at the first crossing and 2.5 at the
    # second; the cubic eases across (measured: 1.3 and 0.9), and it turns back through a standstill.
    steps = angles.diff()
    assert (steps[20] - steps[19]).abs() < 0.4 * 4.0 and (steps[40] - steps[39]).abs() < 0.4 * 2.5
    assert steps.diff().abs().max() < 1.5
    assert torch.equal(zoom_angles(positions, [15.0] * 3, 4), zoom_angles(positions, 15.0, 4))


@pytest.mark.parametrize(
    "degrees, loop, message",
    [
        ([10.0, 20.0], False, "one angle per level but the deepest, 3 for 4 levels, and a loop one angle; got 2"),
        ([10.0] * 3, True, "a loop one angle; got 3"),
        (100.0, True, "4 levels x 100 degrees is 400; use a multiple of 90 degrees per level"),
        (float("nan"), False, "degrees_per_level must be finite; got nan"),
    ],
)
def test_bad_turns_raise_naming_the_argument(degrees, loop, message):
    with pytest.raises(ValueError, match=message):
        zoom_angles(torch.linspace(0, 3, 7), degrees, 4, loop=loop)


def test_bad_angles_raise_before_streaming():
    stack = fractal_texture(3, 32, 32, seed=10)
    with pytest.raises(ValueError, match=r"one angle per position, 3; got shape \(2,\)"):
        iter_zoom_frames(stack, 2, [0.0, 1.0, 2.0], (32, 32), angles=[0.0, 1.0])
    with pytest.raises(ValueError, match="angles must be finite"):
        iter_zoom_frames(stack, 2, [0.0, 1.0], (32, 32), angles=[0.0, float("inf")])


def test_a_turning_loop_repeats_seamlessly():
    # Around a loop, 90 degrees per level over 4 levels is one whole turn: the frame after the last is the first.
    stack = fractal_texture(4, 32, 32, seed=11)
    layout = ZoomLayout(2, cyclic=True)
    positions = zoom_positions(4, fps=8, seconds_per_level=1.0, loop=True)
    ahead = torch.cat([positions, positions[:1] + 4])
    frames = render_zoom_frames(stack, layout, ahead, (32, 32), angles=zoom_angles(ahead, 90.0, 4, loop=True))
    torch.testing.assert_close(frames[-1], frames[0], rtol=0, atol=1e-5)
    steps = (frames[1:] - frames[:-1]).abs().mean((1, 2, 3))
    assert steps[-1] < 1.5 * steps.median()


def test_beats_time_every_crossing_to_the_first_beat_far_enough_after_the_last():
    beats = [0.3, 0.8, 1.1, 1.4, 2.0, 2.15, 3.9, 4.0]
    seconds = beat_level_seconds(beats, 4, min_seconds=1.0)
    assert torch.tensor(seconds, dtype=torch.float64).cumsum(0).tolist() == pytest.approx([1.1, 2.15, 3.9])
    # Dense beats: the minimum time per level decides; the crossings stay on beats.
    dense = [0.1 * k for k in range(1, 100)]
    crossings = torch.tensor(beat_level_seconds(dense, 6, min_seconds=0.75), dtype=torch.float64).cumsum(0)
    assert all(min(abs(c - b) for b in dense) < 1e-9 for c in crossings.tolist())
    assert (crossings.diff() >= 0.75 - 1e-9).all() and crossings[0] >= 0.75 - 1e-9
    with pytest.raises(ValueError, match=r"8 beats \(the last at 4.00 s\) place 3 of the 4 level crossings at least 1"):
        beat_level_seconds(beats, 5, min_seconds=1.0)
