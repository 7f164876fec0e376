"""Joint multi-scale sampling (paper Algorithm 2) with a closed-form denoiser."""

import pytest
import torch
from helpers import (
    CHANNELS,
    LEVELS,
    SIZE,
    ZOOM,
    gaussian_denoiser,
    independent_sampling,
    initial_noise,
    level_means,
    seam,
)

from powers_of_ten.blending import ZoomLayout, box_downsample, render_image
from powers_of_ten.sampler import ancestral_step, rendered_noise_sampler, sample_zoom_stack

SIGMAS = torch.tensor([14.6, 8.0, 4.0, 2.0, 1.0, 0.5, 0.2, 0.0])


def test_output_views_agree_where_independent_sampling_does_not():
    denoise = gaussian_denoiser(level_means())
    joint = sample_zoom_stack(denoise, initial_noise(), SIGMAS, ZOOM, generator=torch.Generator().manual_seed(1))
    independent = independent_sampling(denoise, initial_noise(), SIGMAS, torch.Generator().manual_seed(1))
    assert seam(joint) < 1e-5
    assert seam(independent) > 0.5
    torch.testing.assert_close(render_image(joint, ZOOM), joint, rtol=0, atol=1e-5)


def test_reproducible_for_a_fixed_generator():
    denoise = gaussian_denoiser(level_means())

    def run(seed):
        return sample_zoom_stack(denoise, initial_noise(), SIGMAS, ZOOM, generator=torch.Generator().manual_seed(seed))

    assert torch.equal(run(3), run(3))
    assert (run(3) - run(4)).abs().max() > 1e-2


def test_consistent_denoiser_output_is_a_fixed_point():
    target = render_image(level_means(), ZOOM)
    result = sample_zoom_stack(lambda x, sigma: target, initial_noise(), SIGMAS, ZOOM)
    torch.testing.assert_close(result, target, rtol=0, atol=1e-5)


def test_sampling_follows_each_levels_own_prompt():
    # Each level's exclusive border (not covered by a finer level) ends near its own mean.
    means = level_means()
    result = sample_zoom_stack(gaussian_denoiser(means, spread=0.05), initial_noise(), SIGMAS, ZOOM)
    window = ZoomLayout(ZOOM).child_window(SIZE, SIZE, 0)
    border = torch.ones(SIZE, SIZE, dtype=torch.bool)
    border[window.rows, window.cols] = False
    own = (result[..., border] - means[..., border]).abs().mean()
    other = (result[..., border] - means.roll(1, dims=0)[..., border]).abs().mean()
    assert own < 0.5 * other


def test_callback_sees_every_step_with_consistent_estimates():
    seen = []
    sample_zoom_stack(gaussian_denoiser(level_means()), initial_noise(), SIGMAS, ZOOM, callback=seen.append)
    assert [info["i"] for info in seen] == list(range(len(SIGMAS) - 1))
    assert all(seam(info["denoised"]) < 1e-5 for info in seen)


def test_noise_sampler_draws_fresh_rendered_noise():
    x = torch.zeros(LEVELS, CHANNELS, SIZE, SIZE, dtype=torch.float16)
    noise_sampler = rendered_noise_sampler(x, ZOOM, generator=torch.Generator().manual_seed(5))
    first, second = noise_sampler(1.0, 0.5), noise_sampler(0.5, 0.2)
    assert first.dtype == torch.float16 and first.shape == x.shape
    assert (first - second).abs().max() > 1
    window = ZoomLayout(ZOOM).child_window(SIZE, SIZE, 0)
    shrunk = box_downsample(first[1:].float(), ZOOM) * ZOOM
    torch.testing.assert_close(first[:-1, :, window.rows, window.cols].float(), shrunk, rtol=0, atol=1e-2)


def test_noise_sampler_gives_empty_intervals_fresh_unit_noise_not_the_draws_nan():
    # A Brownian increment normalised by its interval's length (k-diffusion's BrownianTreeNoiseSampler) is 0/0 on an
    # empty interval, which SEEDS-2 at r = 1 (exp_heun_2_x0_sde) asks for; its ends may differ by a float32 ulp.
    x = torch.zeros(LEVELS, CHANNELS, 32, 32)
    asked = []

    def brownian_like(sigma, sigma_next):
        asked.append((sigma, sigma_next))
        return torch.zeros(x.shape) / abs(sigma_next - sigma) ** 0.5

    noise_sampler = rendered_noise_sampler(x, ZOOM, generator=torch.Generator().manual_seed(5), draw=brownian_like)
    half = torch.tensor(0.5)
    for sigma_next in (half, torch.nextafter(half, torch.tensor(0.0))):
        noise = noise_sampler(half, sigma_next)
        assert torch.isfinite(noise).all()
        # 3 x 4 x 32 x 32 rendered unit draws: the std of each level is 1 within a few percent
        assert (noise.std(dim=(1, 2, 3)) - 1).abs().max() < 0.1
        window = ZoomLayout(ZOOM).child_window(32, 32, 0)
        shrunk = box_downsample(noise[1:], ZOOM) * ZOOM
        torch.testing.assert_close(noise[:-1, :, window.rows, window.cols], shrunk, rtol=0, atol=1e-5)
    assert not asked
    assert (noise_sampler(1.0, 0.5) == 0).all() and asked == [(1.0, 0.5)]


@pytest.mark.parametrize("sigma, sigma_next", [(10.0, 5.0), (1.0, 0.1)])
def test_ancestral_step_keeps_the_variance_of_the_next_sigma(sigma, sigma_next):
    sigma_down, sigma_up = ancestral_step(sigma, sigma_next)
    assert sigma_down**2 + sigma_up**2 == pytest.approx(sigma_next**2)
    assert ancestral_step(sigma, 0.0) == (0.0, 0.0)


def test_five_d_latents_blend_render_and_draw_noise_exactly_like_their_planes():
    # Qwen-Image's latents are (N, C, 1, H, W): each step, start, finish and noise draw on them must be the 4-D
    # stack's, bit for bit, with the frames axis where it was.
    from powers_of_ten.sampler import FixedLevels, JointStep, SamplingWindow

    generator = torch.Generator().manual_seed(5)
    flat = torch.randn(LEVELS, CHANNELS, SIZE, SIZE, generator=generator)
    frames = flat[:, :, None]
    step = JointStep(ZOOM)
    for method in (step.initial_noise, step.consolidate, step.finish, lambda x: step(x, 3.0)):
        five_d = method(frames)
        assert five_d.shape == frames.shape
        assert torch.equal(five_d[:, :, 0], method(flat))
    mask = torch.tensor([True] + [False] * (LEVELS - 1))
    held = JointStep(ZOOM, fixed=FixedLevels(flat, mask))
    torch.testing.assert_close(held(frames, 3.0)[:, :, 0], held(flat, 3.0), rtol=0, atol=0)
    window = SamplingWindow.around(ZoomLayout(ZOOM), SIZE, SIZE, mask)
    values = torch.randn(frames.shape, generator=generator)
    cut = window.joint_step(step, window.cut(values))
    torch.testing.assert_close(cut(window.cut(frames), 3.0)[:, :, 0], cut(window.cut(flat), 3.0), rtol=0, atol=0)
    pasted = window.paste(window.cut(frames), values, ZoomLayout(ZOOM))
    assert pasted.shape == frames.shape
    assert torch.equal(pasted[:, :, 0], window.paste(window.cut(flat), values[:, :, 0], ZoomLayout(ZOOM)))
    samplers = [rendered_noise_sampler(x, ZOOM, generator=torch.Generator().manual_seed(9)) for x in (frames, flat)]
    draws = [noise_sampler(torch.tensor(2.0), torch.tensor(1.0)) for noise_sampler in samplers]
    assert draws[0].shape == frames.shape and torch.equal(draws[0][:, :, 0], draws[1])
