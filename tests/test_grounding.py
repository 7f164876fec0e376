"""Photo-grounded zoom (paper §4.4) in the core sampler, with a closed-form denoiser."""

import pytest
import torch
from test_sampler import CHANNELS, LEVELS, SIZE, ZOOM, level_means
from test_sampler import gaussian_denoiser as posterior_mean

from powers_of_ten.blending import render_image
from powers_of_ten.sampler import Grounding, ground_estimates, grounding_loss, grounding_sigma, sample_zoom_stack

SIGMAS = torch.cat([torch.exp(torch.linspace(2.7, -2.3, 20)), torch.zeros(1)])


def gaussian_denoiser(means):
    """Unit-variance level priors, N(means[i], 1): broad enough for a photo drawn from them to be plausible."""
    return posterior_mean(means, spread=1.0)


def photo_of(level, means, seed):
    """A photo the level's prompt could describe: a draw from that level's prior."""
    return means[level] + torch.randn(CHANNELS, SIZE, SIZE, generator=torch.Generator().manual_seed(seed))


def sample_views(grounding):
    means = level_means()
    noise = torch.randn(LEVELS, CHANNELS, SIZE, SIZE, generator=torch.Generator().manual_seed(0))
    stack = sample_zoom_stack(
        gaussian_denoiser(means), noise, SIGMAS, ZOOM, generator=torch.Generator().manual_seed(1), grounding=grounding
    )
    return render_image(stack, ZOOM)


def mse(a, b):
    return (a - b).pow(2).mean().item()


def test_grounded_level_matches_its_photo_where_an_ungrounded_run_does_not():
    photo = photo_of(0, level_means(), seed=42)
    grounded, free = sample_views({0: photo}), sample_views(None)
    # Measured: 0.35 vs 1.83. What is left is the detail the prior re-samples once
    # grounding stops (the last 20% of the schedule), as in the paper.
    assert mse(grounded[0], photo) < 0.25 * mse(free[0], photo)


def test_photos_at_two_levels_ground_together():
    means = level_means()
    wide, close = photo_of(0, means, seed=42), photo_of(2, means, seed=43)
    grounded, free = sample_views({0: wide, 2: close}), sample_views(None)
    assert mse(grounded[0], wide) < 0.3 * mse(free[0], wide)
    assert mse(grounded[2], close) < 0.3 * mse(free[2], close)


def test_grounding_the_whole_schedule_reproduces_the_photo():
    photo = photo_of(1, level_means(), seed=44)
    grounded = sample_views(Grounding({1: photo}, fraction=1.0))
    assert mse(grounded[1], photo) < 0.1


def test_loss_vanishes_on_a_stack_rendered_from_the_photos_levels():
    stack = render_image(torch.randn(LEVELS, CHANNELS, SIZE, SIZE, generator=torch.Generator().manual_seed(5)), ZOOM)
    for level in range(LEVELS):
        assert grounding_loss(stack, ZOOM, {level: stack[level]}) < 1e-8
    assert grounding_loss(stack + 0.1, ZOOM, {1: stack[1]}) > 1


def test_adam_steps_reduce_the_loss_even_under_inference_mode():
    estimates = torch.randn(LEVELS, CHANNELS, SIZE, SIZE, generator=torch.Generator().manual_seed(6))
    photos = {0: torch.zeros(CHANNELS, SIZE, SIZE), 3: torch.ones(CHANNELS, SIZE, SIZE)}
    with torch.inference_mode():
        grounded = ground_estimates(estimates, ZOOM, Grounding(photos))
    assert grounding_loss(grounded, ZOOM, photos) < 0.6 * grounding_loss(estimates, ZOOM, photos)
    # Each Adam step moves a value by at most about the learning rate.
    assert (grounded - estimates).abs().max() < 5 * 0.1 + 1e-3


def test_grounding_runs_for_the_first_fraction_of_the_steps():
    threshold = grounding_sigma(SIGMAS, 0.8)
    assert int((SIGMAS[:-1] > threshold).sum()) == 16
    assert grounding_sigma(SIGMAS, 1.0) == 0.0
    assert int((SIGMAS[:-1] > grounding_sigma(SIGMAS, 0.0)).sum()) == 0


@pytest.mark.parametrize(
    "grounding, message",
    [
        ({0: torch.zeros(3, 16, 32)}, r"level 0 is \(3, 16, 32\) .* stack's levels are \(3, 32, 32\)"),
        ({4: torch.zeros(3, 32, 32)}, "names level 4, but the stack has levels 0-3"),
        (Grounding({0: torch.zeros(3, 32, 32)}, fraction=1.5), "fraction 1.5"),
    ],
)
def test_bad_grounding_raises(grounding, message):
    with pytest.raises(ValueError, match=message):
        sample_zoom_stack(lambda x, s: x, torch.zeros(LEVELS, CHANNELS, SIZE, SIZE), SIGMAS, ZOOM, grounding=grounding)
