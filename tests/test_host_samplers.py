"""Every sampler ComfyUI lists, through Zoom KSampler and through Zoom Guider + SamplerCustomAdvanced: consistent views.

On the tiny checkpoint (its real UNet), 2 levels of 64 px, a few steps: what
must hold for any sampler is that the returned levels agree where they overlap
and stay finite. The list is the running ComfyUI's own
(``comfy.samplers.SAMPLER_NAMES``: 42 in v0.3.64, 44 in v0.8.0, which adds
``exp_heun_2_x0`` and ``exp_heun_2_x0_sde``), so each version's new samplers
are covered as they come. How well each keeps detail is measured on an exact
prior (``test_quality.py``, ``benchmarks/bench_sampler_quality.py``).
"""

import pytest
import torch
from helpers import run_node, seam

STEPS = 3


@pytest.fixture(scope="module")
def setup(comfy):
    from comfy.samplers import KSampler

    model, clip, _ = comfy.nodes.CheckpointLoaderSimple().load_checkpoint(comfy.checkpoint_name)
    latent, zoom = run_node(comfy, "P10_EmptyZoomLatent", width=64, height=64, levels=2, zoom_factor="2")
    plan = run_node(comfy, "P10_ZoomPrompts", clip=clip, zoom=zoom, prompts="a\nb", prefix="", suffix="", negative="")[
        0
    ]
    return model, latent, plan, KSampler.SAMPLERS


def test_every_sampler_of_this_comfyui_is_offered_and_tested(comfy, setup):
    from comfy.samplers import KSAMPLER_NAMES, SAMPLER_NAMES

    *_, samplers = setup
    offered = comfy.NODE_CLASS_MAPPINGS["P10_ZoomKSampler"].define_schema().inputs
    options = next(option for option in offered if option.id == "sampler_name").options
    assert list(samplers) == list(SAMPLER_NAMES) == list(options)
    assert set(KSAMPLER_NAMES) <= set(samplers) and len(samplers) >= 42


def check(comfy, samples, name, failures):
    if not torch.isfinite(samples).all():
        failures.append(f"{name}: not finite")
    elif seam(samples, comfy=comfy) > 1e-4:
        failures.append(f"{name}: views disagree by {seam(samples, comfy=comfy):.2g}")


def test_every_sampler_through_zoom_ksampler(comfy, setup):
    model, latent, plan, samplers = setup
    failures = []
    for name in samplers:
        settings = dict(seed=1, steps=STEPS, cfg=5.0, sampler_name=name, scheduler="karras", denoise=1.0)
        result = run_node(comfy, "P10_ZoomKSampler", model=model, zoom_plan=plan, latent_image=latent, **settings)[0]
        check(comfy, result["samples"], name, failures)
    assert not failures, failures


def test_every_sampler_through_zoom_guider_and_sampler_custom_advanced(comfy, setup):
    model, latent, plan, samplers = setup
    core = comfy.NODE_CLASS_MAPPINGS
    guider = run_node(comfy, "P10_ZoomGuider", model=model, zoom_plan=plan, cfg=5.0)[0]
    noise = core["RandomNoise"]().get_noise(noise_seed=1)[0]
    sigmas = core["BasicScheduler"]().get_sigmas(model, "karras", STEPS, 1.0)[0]
    failures = []
    for name in samplers:
        sampler = core["KSamplerSelect"]().get_sampler(name)[0]
        output = core["SamplerCustomAdvanced"]().sample(noise, guider, sampler, sigmas, latent)[0]
        check(comfy, output["samples"], name, failures)
    assert not failures, failures


@pytest.mark.parametrize("name", ["euler", "dpmpp_2m", "res_multistep"])
def test_cfg_pp_samplers_read_the_consistent_unconditional_estimate(comfy, setup, name):
    # With each level's negative prompt its positive one, a CFG++ sampler is its plain sampler exactly, if the
    # unconditional estimate its hook reads is the blended and rendered one; raw per-level estimates (what the
    # hook would see otherwise) are not.
    model, latent, plan, _ = setup
    types = comfy.pack.nodes.types
    plan = types.ZoomPlan(
        plan.zoom, tuple(types.LevelConditioning(level.positive, level.positive) for level in plan.levels)
    )
    settings = dict(seed=1, steps=STEPS, cfg=1.0, scheduler="karras", denoise=1.0)
    plain, cfg_pp = (
        run_node(
            comfy, "P10_ZoomKSampler", model=model, zoom_plan=plan, latent_image=latent, sampler_name=s, **settings
        )
        for s in (name, f"{name}_cfg_pp")
    )
    torch.testing.assert_close(cfg_pp[0]["samples"], plain[0]["samples"], rtol=0, atol=1e-4)


def test_injected_noise_comes_on_the_models_device(comfy, setup):
    # ComfyUI hands the guider its noise on the CPU and moves the latents to the model's device afterwards;
    # the rendered draws must come where the latents are. "meta" stands in for a GPU here.
    from comfy.samplers import sampler_object

    model, latent, plan, _ = setup
    guider = comfy.pack.nodes.guider
    step = guider.make_zoom_guider(model, plan, 5.0, "test").step
    noise = torch.randn(2, 4, 8, 8)
    sigmas = torch.tensor([14.6, 1.0, 0.0])
    sampler = sampler_object("euler_ancestral")
    wrapped = guider.with_rendered_noise(sampler, noise, sigmas, step, 0, slice(0, 2), torch.device("meta"))
    draw = wrapped.extra_options["noise_sampler"](sigmas[0], sigmas[1])
    assert draw.device.type == "meta" and draw.shape == noise.shape


def sample_with_guider(comfy, setup, sampler, sigmas):
    model, latent, plan, _ = setup
    guider = run_node(comfy, "P10_ZoomGuider", model=model, zoom_plan=plan, cfg=5.0)[0]
    noise = comfy.NODE_CLASS_MAPPINGS["RandomNoise"]().get_noise(noise_seed=1)[0]
    return comfy.NODE_CLASS_MAPPINGS["SamplerCustomAdvanced"]().sample(noise, guider, sampler, sigmas, latent)[0]


def test_seeds_2_at_r_1_asks_for_an_empty_interval_and_stays_finite(comfy, setup):
    # exp_heun_2_x0_sde (v0.8.0) is SEEDS-2 at r = 1: its second half-step runs from sigma_next to sigma_next,
    # where a Brownian increment divided by the interval's length is 0/0; scaled by zero it still made NaN views.
    # The same call through v0.3.64's seeds_2 (which takes r) reproduces it on either version.
    from comfy.k_diffusion.sampling import sample_seeds_2
    from comfy.samplers import KSAMPLER

    model, *_ = setup
    sigmas = comfy.NODE_CLASS_MAPPINGS["BasicScheduler"]().get_sigmas(model, "karras", STEPS, 1.0)[0]
    output = sample_with_guider(comfy, setup, KSAMPLER(sample_seeds_2, extra_options={"r": 1.0}), sigmas)
    failures = []
    check(comfy, output["samples"], "seeds_2 at r=1", failures)
    assert not failures, failures


@pytest.mark.parametrize("name", ["lcm", "euler_ancestral", "dpmpp_sde"])
def test_a_repeated_sigma_gets_unit_noise_not_nan(comfy, setup, name):
    # A schedule may hold a sigma twice (custom SIGMAS, split and joined schedules); LCM then adds sigma_next times
    # the noise of an empty interval, which must be unit noise as ComfyUI's default noise sampler gives (its
    # variance: test_sampler.py), not the Brownian tree's 0/0.
    sigmas = torch.tensor([14.6, 3.0, 3.0, 0.5, 0.0])
    sampler = comfy.NODE_CLASS_MAPPINGS["KSamplerSelect"]().get_sampler(name)[0]
    output = sample_with_guider(comfy, setup, sampler, sigmas)
    failures = []
    check(comfy, output["samples"], name, failures)
    assert not failures, failures
