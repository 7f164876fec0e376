"""Bad input gets a ValueError that names the argument and the numbers."""

import math

import pytest
import torch

from powers_of_ten.blending import blend, consolidate_estimates, render_image, render_noise
from powers_of_ten.sampler import FixedLevels, JointStep, rendered_noise_sampler, sample_zoom_stack

STACK_FUNCTIONS = [render_image, render_noise, blend, consolidate_estimates]
SIGMAS = torch.tensor([2.0, 1.0, 0.0])


@pytest.mark.parametrize("function", STACK_FUNCTIONS)
@pytest.mark.parametrize(
    "shape, zoom_factor, message",
    [
        ((4, 32, 32), 2, r"4-D tensor .* got \(4, 32, 32\)"),
        ((1, 4, 32, 32), 2, "at least 2 zoom levels; got 1"),
        ((3, 4, 50, 32), 2, "height must be a multiple of 2 x zoom_factor = 4 .* got height 50"),
        ((3, 4, 32, 24), 8, "width must be a multiple of 2 x zoom_factor = 16 .* got width 24"),
        ((3, 4, 32, 32), 3, "power of two .* got 3"),
        ((3, 4, 32, 32), 1, "power of two .* got 1"),
        ((3, 4, 32, 32), 2.0, "power of two .* got 2.0"),
        ((3, 4, 32, 32), True, "power of two .* got True"),
    ],
)
def test_bad_stacks_raise(function, shape, zoom_factor, message):
    with pytest.raises(ValueError, match=message):
        function(torch.zeros(shape), zoom_factor)


def test_integer_stacks_raise():
    with pytest.raises(ValueError, match="floating-point .* torch.int64"):
        render_image(torch.zeros(3, 4, 32, 32, dtype=torch.long), 2)


def test_argument_is_named():
    with pytest.raises(ValueError, match="^estimates "):
        blend(torch.zeros(3, 4, 30, 32), 2)
    with pytest.raises(ValueError, match="^noise "):
        render_noise(torch.zeros(3, 4, 30, 32), 2)
    with pytest.raises(ValueError, match="^x "):
        rendered_noise_sampler(torch.zeros(3, 4, 30, 32), 2)


@pytest.mark.parametrize(
    "sigmas, message",
    [
        (torch.tensor([[2.0, 0.0]]), r"1-D tensor .* got \(1, 2\)"),
        (torch.tensor([0.0]), r"at least 2 entries; got \(1,\)"),
        (torch.tensor([2.0, 1.0, 0.5]), "must end in 0; the last of 3 is 0.5"),
        (torch.tensor([2.0, 3.0, 0.0]), r"strictly decreasing; sigmas\[0\] = 2 is followed by sigmas\[1\] = 3"),
        (torch.tensor([2.0, 2.0, 0.0]), r"strictly decreasing; sigmas\[0\] = 2"),
        (torch.tensor([math.nan, 1.0, 0.0]), "must be finite"),
    ],
)
def test_bad_sigmas_raise(sigmas, message):
    with pytest.raises(ValueError, match=message):
        sample_zoom_stack(lambda x, sigma: x, torch.zeros(3, 4, 32, 32), sigmas, 2)


def test_denoiser_returning_the_wrong_shape_raises():
    with pytest.raises(ValueError, match=r"denoise returned \(3, 4, 16, 16\) at step 0; expected .* \(3, 4, 32, 32\)"):
        sample_zoom_stack(lambda x, sigma: x[..., :16, :16], torch.zeros(3, 4, 32, 32), SIGMAS, 2)


def test_denoiser_returning_nan_names_level_and_step():
    def denoise(x, sigma):
        estimates = torch.zeros_like(x)
        if sigma < 2:
            estimates[2, 0, 5, 5] = math.inf
        return estimates

    with pytest.raises(ValueError, match=r"NaN or inf for level 2 at step 1 \(sigma 1\)"):
        sample_zoom_stack(denoise, torch.zeros(3, 4, 32, 32), SIGMAS, 2)


@pytest.mark.parametrize(
    "values, mask, message",
    [
        (torch.zeros(3, 4, 32, 32), torch.tensor([True, False]), r"fixed mask must be 3 bools, .* \(2,\)"),
        (
            torch.zeros(3, 4, 32, 32),
            torch.tensor([1, 0, 0]),
            "fixed mask must be 3 bools, one per level; got torch.int64",
        ),
        (
            torch.zeros(3, 4, 16, 16),
            torch.tensor([True, False, False]),
            r"stack's shape \(3, 4, 32, 32\); got \(3, 4, 16",
        ),
    ],
)
def test_bad_fixed_levels_raise(values, mask, message):
    step = JointStep(2, fixed=FixedLevels(values, mask))
    with pytest.raises(ValueError, match=message):
        sample_zoom_stack(lambda x, sigma: x, torch.zeros(3, 4, 32, 32), SIGMAS, step)
