"""Multi-resolution blending (paper Fig. 5): fixed points, sharpness, and blend-then-render."""

import pytest
import torch
import torch.nn.functional as F
from helpers import band_energy, plain_average, seam

from powers_of_ten.blending import (
    PAPER,
    Consolidation,
    blend,
    box_downsample,
    consolidate_estimates,
    render_image,
)


def high_frequency_energy(images):
    """Energy above half the Nyquist frequency: what a 2x box shrink and bilinear expand lose."""
    smooth = F.interpolate(box_downsample(images, 2), scale_factor=2, mode="bilinear", align_corners=False)
    return (images - smooth).pow(2).mean(dim=(1, 2, 3))


@pytest.mark.parametrize(
    "zoom_factor, shape", [(2, (5, 4, 64, 64)), (4, (4, 3, 64, 128)), (8, (3, 2, 128, 128)), (2, (16, 4, 64, 64))]
)
def test_consistent_stack_is_a_fixed_point(zoom_factor, shape):
    consistent = render_image(torch.randn(*shape, generator=torch.Generator().manual_seed(0)), zoom_factor)
    torch.testing.assert_close(blend(consistent, zoom_factor), consistent, rtol=0, atol=1e-5)
    torch.testing.assert_close(consolidate_estimates(consistent, zoom_factor), consistent, rtol=0, atol=1e-5)


def test_widest_level_is_its_own_estimate_and_constants_survive():
    estimates = torch.randn(4, 3, 32, 32, generator=torch.Generator().manual_seed(1))
    torch.testing.assert_close(blend(estimates, 2)[0], estimates[0], rtol=0, atol=1e-5)
    constant = torch.full((4, 3, 32, 32), 0.7)
    torch.testing.assert_close(blend(constant, 2), constant)


def test_blend_keeps_fine_detail_that_plain_averaging_blurs():
    # Independent white-noise estimates per level: maximally inconsistent, all detail.
    estimates = torch.randn(6, 4, 64, 64, generator=torch.Generator().manual_seed(2))
    original = high_frequency_energy(estimates)
    blended = high_frequency_energy(blend(estimates, 2)) / original
    averaged = high_frequency_energy(plain_average(estimates, 2)) / original
    # Level i averages i + 1 observations, and upsampled crops carry almost no fine
    # energy, so plain averaging keeps about 1/(i+1)^2 of it (measured 0.03 at level 5).
    assert blended[1:].min() > 0.95
    assert averaged[5] < 0.1
    assert (blended[2:] > 5 * averaged[2:]).all()


def test_the_deepest_level_keeps_its_own_estimates_energy_in_every_band():
    # A consistent stack whose deepest level sees detail its coarser observations lack (added white noise).
    # Measured: 0.997-1.002 of its own estimate's energy in octaves 0-4; keeping the observations' weighted mean
    # energy instead gave 0.95-0.98.
    generator = torch.Generator().manual_seed(5)
    estimates = render_image(torch.randn(4, 8, 64, 64, generator=generator), 2)
    estimates[-1] += 0.5 * torch.randn(8, 64, 64, generator=generator)
    ratio = band_energy(blend(estimates, 2), 5)[-1, :5] / band_energy(estimates, 5)[-1, :5]
    assert (ratio - 1).abs().max() < 0.01, ratio


@pytest.mark.parametrize("consolidation, bound", [(PAPER, 0.6), (Consolidation(), 0.9)])
def test_blend_pulls_overlaps_together(consolidation, bound):
    # The paper's equal weights pull hardest; information weights leave the finer level more say (measured 0.82).
    estimates = torch.randn(4, 3, 64, 64, generator=torch.Generator().manual_seed(3))

    assert seam(blend(estimates, 2, consolidation), measure="mse") < bound * seam(estimates, measure="mse")
    assert seam(consolidate_estimates(estimates, 2), measure="mse") < 1e-10


@pytest.mark.parametrize("dtype, tolerance", [(torch.float16, 4e-3), (torch.bfloat16, 3e-2)])
def test_half_precision_matches_float32(dtype, tolerance):
    estimates = torch.randn(5, 4, 64, 64, generator=torch.Generator().manual_seed(4)).clamp(-3, 3)
    result = consolidate_estimates(estimates.to(dtype), 2)
    assert result.dtype == dtype
    reference = consolidate_estimates(estimates.to(dtype).float(), 2)
    torch.testing.assert_close(result.float(), reference, rtol=tolerance, atol=tolerance * 4)
