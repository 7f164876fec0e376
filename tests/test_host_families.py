"""Every model family users run, in the real ComfyUI: SDXL (eps, v, KOALA), SD3 / SD3.5, Flux, SD2 v-prediction,
and the 2026 families Flux.2, HunyuanImage 2.1, Qwen-Image, Z-Image, Chroma and HiDream.

Tiny random-weight models (``scripts/make_tiny_models.py``, cached in
``.cache/models``) load through ComfyUI's own loaders (UNETLoader,
CheckpointLoaderSimple), except the tiny DiTs (Flux, Flux.2, Qwen-Image,
Z-Image, Chroma, HiDream), which ComfyUI's detection cannot size and the test pack's
``P10Test_TinyDiT`` loads through the family's own ComfyUI model class. SD3 runs
from text (its checkpoint carries a CLIP-L, encoded by Zoom Prompts); the
others, whose text encoders ComfyUI only builds at full size, run from
hand-built conditioning of the family's shapes (``P10Test_TextEncoder``).
3 levels of 128 px, a few steps each. Qwen-Image's latents are 5-D,
``(N, 16, 1, H, W)``, once ComfyUI has prepared them; Flux.2's are 128 channels
at 1/16, HunyuanImage 2.1's 64 at 1/32 (detected by UNETLoader from the tiny
file). A family this ComfyUI has no model class for (Flux.2 and Z-Image before
v0.8.0) skips, saying so.
"""

import dataclasses
import logging

import pytest
import torch
from helpers import REPO_ROOT, import_path, node_id, recording, run_node, seam

# family: how it loads, model class ComfyUI detects, latent channels, model type, text, the family's TAESD or tiny
# VAE (:func:`vae_file`; None: no VAE of its latents here)
FAMILIES = {
    "sdxl": ("unet", "SDXL", 4, "EPS", "sdxl", "taesdxl"),
    "sdxl_vpred": ("unet", "SDXL", 4, "V_PREDICTION", "sdxl", "taesdxl"),
    "koala": ("unet", "KOALA_700M", 4, "EPS", "sdxl", "taesdxl"),
    "sd3": ("checkpoint", "SD3", 16, "FLOW", "checkpoint", "taesd3"),
    "sd35": ("unet", "SD3", 16, "FLOW", None, "taesd3"),
    "flux": ("stand-in", "Flux", 16, "FLUX", "flux", "taef1"),
    "sd2_v": ("unet", "SD20", 4, "V_PREDICTION", "sd2", "taesd"),
    "qwen_image": ("stand-in", "QwenImage", 16, "FLUX", "qwen_image", "wan21_vae"),
    "zimage": ("stand-in", "ZImage", 16, "FLOW", "zimage", "taef1"),
    "flux2": ("stand-in", "Flux2", 128, "FLUX", "flux2", "flux2_vae"),
    "hunyuan_image": ("unet", "HunyuanImage21", 64, "FLOW", "hunyuan_image", None),
    "chroma": ("stand-in", "Chroma", 16, "FLUX", "chroma", "taef1"),
    "hidream": ("stand-in", "HiDream", 16, "FLOW", "hidream", "taef1"),
}
DOWNSCALE = {"flux2": 16, "hunyuan_image": 32}  # image pixels per latent pixel, where not 8
PROMPTS = "a spiral galaxy\na blue planet\na city at night"
STEPS = 3


@dataclasses.dataclass
class Family:
    name: str
    model: object
    clip: object
    vae: object
    cfg: float


@pytest.fixture(scope="module")
def families(comfy):
    import comfy.supported_models as comfy_models

    maker = import_path("make_tiny_models", REPO_ROOT / "scripts" / "make_tiny_models.py")
    loaded = {}

    def load(name):
        if name not in loaded:
            how, model_class, *_, text, taesd = FAMILIES[name]
            if not hasattr(comfy_models, model_class):
                pytest.skip(f"this ComfyUI has no {model_class} model class")
            path = maker.ensure_tiny_model(name)
            clip = None
            if how == "unet":
                model = comfy.nodes.UNETLoader().load_unet(path.name, "default")[0]
            elif how == "checkpoint":
                model, clip, _ = comfy.nodes.CheckpointLoaderSimple().load_checkpoint(path.name)
            else:
                model = run_node(comfy, "P10Test_TinyDiT", family=name)[0]
            if text not in (None, "checkpoint"):
                clip = run_node(comfy, "P10Test_TextEncoder", family=text)[0]
            if text is None:  # SD3.5 ships without text encoders: SD3's CLIP-L speaks its conditioning
                clip = load("sd3").clip
            vae_name = vae_file(taesd)
            vae = comfy.nodes.VAELoader().load_vae(vae_name)[0] if vae_name else None
            loaded[name] = Family(name, model, clip, vae, cfg=1.0 if name in ("flux", "flux2") else 5.0)
        return loaded[name]

    return load


def zoom(comfy, family: Family, prompts=PROMPTS):
    """Empty Zoom Latent (channels from the model) and Zoom Prompts for the family; SD3.5 borrows SD3's text encoder."""
    latent, spec = run_node(
        comfy, "P10_EmptyZoomLatent", width=128, height=128, levels=3, zoom_factor="2", model=family.model
    )
    clip = family.clip
    plan = run_node(comfy, "P10_ZoomPrompts", clip=clip, zoom=spec, prompts=prompts, prefix="", suffix="", negative="")[
        0
    ]
    return latent, spec, plan


@pytest.fixture(params=list(FAMILIES))
def family(request, families):
    return families(request.param)


def test_the_family_is_detected_as_itself(family):
    _, model_class, channels, model_type, *_ = FAMILIES[family.name]
    assert type(family.model.model.model_config).__name__ == model_class
    assert family.model.get_model_object("latent_format").latent_channels == channels
    assert family.model.model.model_type.name == model_type


def test_the_tiny_flux_takes_this_comfyuis_flux_config_but_its_widths(families):
    # ComfyUI's Flux config gains fields between versions (v0.8.0: txt_ids_dims, yak_mlp, txt_norm, ...): the
    # tiny model is built from what this version's detection reads from the file, with the widths it hard-codes
    # replaced, so the DiT ComfyUI runs is the Flux-1 model of this version at hidden 64.
    from comfy.ldm.flux.model import FluxParams

    maker = import_path("make_tiny_models", REPO_ROOT / "scripts" / "make_tiny_models.py")
    params = families("flux").model.model.diffusion_model.params
    missing = dataclasses.MISSING
    required = {f.name for f in dataclasses.fields(FluxParams) if f.default is missing and f.default_factory is missing}
    config = maker.tiny_dit_config("flux")
    assert required <= config.keys()
    assert {key: getattr(params, key) for key in config.keys() - {"image_model"}} == {
        key: value for key, value in config.items() if key != "image_model"
    }
    assert (params.hidden_size, params.num_heads, list(params.axes_dim)) == (64, 2, [8, 12, 12])
    assert (params.depth, params.depth_single_blocks, params.guidance_embed) == (1, 1, True)


def model_space(family, samples):
    """The samples in the model's space, as a 4-D stack: Qwen-Image's frames axis (of 1) folded away."""
    return family.model.get_model_object("latent_format").process_in(samples).flatten(1, -3)


def test_both_paths_give_consistent_o1_views_with_the_models_channels(comfy, family):
    latent, _, plan = zoom(comfy, family)
    size = 128 // DOWNSCALE.get(family.name, 8)  # Empty Zoom Latent takes the downscale from the model
    assert latent["samples"].shape == (3, FAMILIES[family.name][2], size, size)
    settings = dict(
        seed=1, steps=STEPS, cfg=family.cfg, sampler_name="euler_ancestral", scheduler="karras", denoise=1.0
    )
    through_ksampler = run_node(
        comfy, "P10_ZoomKSampler", model=family.model, zoom_plan=plan, latent_image=latent, **settings
    )[0]
    core = comfy.NODE_CLASS_MAPPINGS
    guider = run_node(comfy, "P10_ZoomGuider", model=family.model, zoom_plan=plan, cfg=family.cfg)[0]
    through_guider = core["SamplerCustomAdvanced"]().sample(
        core["RandomNoise"]().get_noise(noise_seed=1)[0],
        guider,
        core["KSamplerSelect"]().get_sampler("dpmpp_2m")[0],
        core["BasicScheduler"]().get_sigmas(family.model, "karras", STEPS, 1.0)[0],
        latent,
    )[0]
    for output in (through_ksampler, through_guider):
        samples = model_space(family, output["samples"])
        assert torch.isfinite(samples).all()
        assert 0.1 < samples.std() < 5, samples.std()
        assert seam(samples, comfy=comfy) < 1e-4
        assert output["samples"].ndim == (5 if family.name == "qwen_image" else 4)


def first_step_estimates(comfy, family, plan, latent, max_batch=0):
    """Each level's conditional model output at the first step, in level order, and the model calls.

    A call is counted when it holds conditional rows (ComfyUI runs the
    unconditional rows in the same call when their shapes allow, else apart).
    """
    from comfy.sample import fix_empty_latent_channels
    from comfy.samplers import calculate_sigmas, sampler_object

    calls = []
    model = recording(family.model, calls)
    guider = comfy.pack.nodes.guider.make_zoom_guider(model, plan, family.cfg, "test", max_batch=max_batch)
    sigmas = calculate_sigmas(model.get_model_object("model_sampling"), "karras", 4)[:2]
    samples = fix_empty_latent_channels(family.model, latent["samples"])  # as every sampler node does first
    noise = torch.randn(samples.shape, generator=torch.Generator().manual_seed(3))
    guider.sample(noise, samples, sampler_object("euler"), sigmas, disable_pbar=True, seed=3)
    conditional = [call for call in calls if 0 in call.cond_or_uncond]
    # The calls run the guider's groups in turn, each group's levels row by row.
    levels = torch.tensor([level for group in guider.groups for level in group.levels])
    return torch.cat([call.conditional() for call in conditional])[levels.argsort()], conditional


def token_length(level) -> tuple:
    """A level's prompt length: its cross-attention's and, for HiDream, its Llama hidden states'."""
    text, options = level.positive[0]
    return (text.shape[1], *(options[key].shape[2] for key in ("conditioning_llama3",) if key in options))


def test_each_levels_prompt_reaches_that_level_and_batching_is_exact(comfy, family):
    latent, spec, plan = zoom(comfy, family)
    batched, calls = first_step_estimates(comfy, family, plan, latent)
    # Qwen-Image's text has one token per word, and a joint-attention DiT runs each length in a call of its own.
    lengths = {token_length(level) for level in plan.levels}
    # Z-Image counts the call's masked text tokens (num_tokens), which stacking would add up: a call per level.
    assert len(calls) == (3 if family.name == "zimage" else len(lengths)), "levels of one length in one model call"
    by_level, calls = first_step_estimates(comfy, family, plan, latent, max_batch=1)
    assert len(calls) == 3, "max_batch 1: a call per level"
    torch.testing.assert_close(batched, by_level, rtol=1e-4, atol=1e-4)
    _, _, changed = zoom(comfy, family, PROMPTS.replace("a city at night", "a red sports car on a beach"))
    other, _ = first_step_estimates(comfy, family, changed, latent)
    change = (other - batched).flatten(1).abs().amax(dim=1)
    assert change[2] > 1e-3 and change[:2].max() < 1e-5, change


@pytest.mark.parametrize("name", ["sd3", "flux", "flux2", "hunyuan_image", "qwen_image", "zimage", "chroma", "hidream"])
def test_prompts_of_different_token_lengths_batch_exactly_on_joint_attention_models(comfy, families, name):
    # Repeating a shorter sequence up to a longer one is exact for a UNet's cross-attention, not for the joint
    # attention of SD3 and Flux (measured before: an error of 1.34 against a spread of 16.6 on SD3): such levels
    # must run in calls of their own, and equal the level-by-level result. HiDream's T5 text is always 128 tokens
    # and its Llama's at least 128: there only the Llama's length of the long prompt differs. ComfyUI pads
    # Flux.2's Mistral text to no fixed length (min_length 1, as Qwen-Image's and Z-Image's), so every length
    # differs there.
    family = families(name)
    long = " ".join(["a very long prompt about a city"] * 50)
    latent, _, plan = zoom(comfy, family, f"a spiral galaxy\n{long}\na city at night")
    lengths = [token_length(level) for level in plan.levels]
    assert lengths[1] not in (lengths[0], lengths[2]), lengths
    batched, calls = first_step_estimates(comfy, family, plan, latent)
    # The long prompt apart; the short ones together where their lengths are equal (Chroma's T5 is not padded).
    expected = [2, 1] if lengths[0] == lengths[2] and name != "zimage" else [1, 1, 1]
    assert [len(call.conditional()) for call in calls] == expected, "a call per length"
    by_level, _ = first_step_estimates(comfy, family, plan, latent, max_batch=1)
    torch.testing.assert_close(batched, by_level, rtol=1e-4, atol=1e-4)


@pytest.mark.parametrize("name", ["sdxl", "sd2_v"])
def test_prompts_of_different_token_lengths_share_a_call_exactly_on_unets(comfy, families, name):
    # A UNet's cross-attention gives the same result for a sequence repeated to a multiple of its length, so levels
    # of 77 and 154 tokens share a call (ComfyUI's own rule, up to 4 repeats) and equal the level-by-level result.
    family = families(name)
    long = " ".join(["a very long prompt about a city"] * 15)  # 105 words: two CLIP chunks
    latent, _, plan = zoom(comfy, family, f"a spiral galaxy\n{long}\na city at night")
    assert [token_length(level) for level in plan.levels] == [(77,), (154,), (77,)]
    batched, calls = first_step_estimates(comfy, family, plan, latent)
    assert [len(call.conditional()) for call in calls] == [3], "one call for every level"
    by_level, _ = first_step_estimates(comfy, family, plan, latent, max_batch=1)
    torch.testing.assert_close(batched, by_level, rtol=1e-4, atol=1e-4)


@pytest.mark.parametrize("name", ["flux", "flux2"])
def test_flux_guidance_reaches_each_level(comfy, families, name):
    family = families(name)
    latent, _, plan = zoom(comfy, family)
    everywhere = run_node(comfy, "P10_ZoomFluxGuidance", zoom_plan=plan, guidance=2.0, first_level=0, last_level=-1)[0]
    deepest = run_node(comfy, "P10_ZoomFluxGuidance", zoom_plan=everywhere, guidance=6.0, first_level=2, last_level=-1)[
        0
    ]
    _, calls = first_step_estimates(comfy, family, deepest, latent)
    # Guidance is one number per model call: levels 0-1 share a call at 2.0, level 2 has its own at 6.0.
    assert sorted(round(call.c["guidance"].flatten()[0].item(), 3) for call in calls) == [2.0, 6.0]
    plain, _ = first_step_estimates(comfy, family, plan, latent)
    guided, _ = first_step_estimates(comfy, family, everywhere, latent)
    assert (plain - guided).abs().max() > 1e-4, "guidance changes the estimate"


def test_conditioning_without_pooled_output_names_the_level(comfy, families):
    family = families("sdxl")
    _, spec, plan = zoom(comfy, family)
    types = comfy.pack.nodes.types
    bare = [[plan.levels[1].positive[0][0], {}]]
    broken = types.ZoomPlan(
        spec,
        tuple(
            types.LevelConditioning(bare if i == 1 else lv.positive, lv.negative) for i, lv in enumerate(plan.levels)
        ),
    )
    with pytest.raises(
        ValueError, match="Zoom KSampler: level 1's conditioning has no pooled_output, which SDXL models"
    ):
        comfy.pack.nodes.guider.make_zoom_guider(family.model, broken, family.cfg, "Zoom KSampler")


@pytest.mark.parametrize(
    "name", ["sd3", "sd35", "flux", "flux2", "hunyuan_image", "qwen_image", "zimage", "chroma", "hidream"]
)
def test_ancestral_samplers_on_flow_models_get_rendered_noise(comfy, families, name, monkeypatch):
    family = families(name)
    latent, _, plan = zoom(comfy, family)
    guider_module, draws = comfy.pack.nodes.guider, []
    rendered = guider_module.rendered_noise_sampler

    def counting(*args, **kwargs):
        sampler = rendered(*args, **kwargs)
        return lambda sigma, sigma_next: draws.append(sigma) or sampler(sigma, sigma_next)

    monkeypatch.setattr(guider_module, "rendered_noise_sampler", counting)
    settings = dict(
        seed=1, steps=STEPS, cfg=family.cfg, sampler_name="euler_ancestral", scheduler="simple", denoise=1.0
    )
    output = run_node(comfy, "P10_ZoomKSampler", model=family.model, zoom_plan=plan, latent_image=latent, **settings)[0]
    assert len(draws) == STEPS - 1, "the RF branch of euler_ancestral injects rendered noise at every step but the last"
    assert seam(model_space(family, output["samples"]), comfy=comfy) < 1e-4


def test_pixel_space_consolidation_runs_with_the_familys_vae(comfy, family, monkeypatch):
    if family.vae is None:
        pytest.skip(f"no TAESD or tiny VAE for {family.name} here")
    guider_module, shapes = comfy.pack.nodes.guider, []
    codec = guider_module.vae_codec

    def recording_codec(vae, model_patcher):
        decode, encode = codec(vae, model_patcher)
        return (lambda latents: shapes.append(latents.shape) or decode(latents)), encode

    monkeypatch.setattr(guider_module, "vae_codec", recording_codec)
    latent, _, plan = zoom(comfy, family)
    settings = dict(seed=1, steps=2, cfg=family.cfg, sampler_name="euler", scheduler="karras", denoise=1.0)
    output = run_node(
        comfy, "P10_ZoomKSampler", model=family.model, zoom_plan=plan, latent_image=latent, vae=family.vae, **settings
    )[0]
    images = family.vae.decode(output["samples"])
    assert images.shape[-3:] == (128, 128, 3) and images.shape[0] == 3, "one image per level, Qwen-Image's too"
    assert torch.isfinite(images).all()
    assert output["samples"].ndim == (5 if family.name == "qwen_image" else 4)
    # The joint step decodes its stack, frames folded: one image latent per level.
    assert shapes and all(shape[:2] == (3, FAMILIES[family.name][2]) and len(shape) == 4 for shape in shapes)


# The example's checkpoint, replaced by the family's tiny model, its stand-in text encoder and its TAESD.
EXAMPLES = {
    "sdxl_zoom": (
        ("UNETLoader", {"unet_name": "tiny_sdxl.safetensors", "weight_dtype": "default"}),
        ("P10Test_TextEncoder", {"family": "sdxl"}),
        ("VAELoader", {"vae_name": "taesdxl"}),
    ),
    "flux_zoom": (
        ("P10Test_TinyDiT", {"family": "flux"}),
        ("P10Test_TextEncoder", {"family": "flux"}),
        ("VAELoader", {"vae_name": "taef1"}),
    ),
}
# The split files' loaders, replaced node for node.
SPLIT_EXAMPLES = {
    "zimage_zoom": ("zimage", "taef1"),
    "qwen_image_zoom": ("qwen_image", "wan21_vae"),
    "flux2_zoom": ("flux2", "flux2_vae"),
}
"""Each split-file example's tiny family and VAE: a TAESD or a VAE family of ``make_tiny_models``. Where this ComfyUI
cannot load that VAE (:func:`vae_file` gives None), the example runs to its Zoom KSampler."""


def vae_file(vae: str | None) -> str | None:
    """The file Load VAE gets for ``vae`` (a TAESD, or a VAE ``make_tiny_models`` generates first), or None where
    this ComfyUI cannot load it."""
    import comfyui_version

    maker = import_path("make_tiny_models", REPO_ROOT / "scripts" / "make_tiny_models.py")
    if vae not in maker.FAMILIES:
        return vae
    # Before v0.8, ComfyUI builds the Wan 2.1 VAE at its full width (dim 96) whatever the file holds, and has no
    # Flux.2 VAE.
    if tuple(int(part) for part in comfyui_version.__version__.split(".")[:2]) < (0, 8):
        return None
    return maker.ensure_tiny_model(vae).name


def with_tiny_checkpoint(prompt: dict, name: str) -> dict:
    loader = node_id(prompt, "CheckpointLoaderSimple")
    del prompt[loader]
    stand_ins = {}
    for output, (class_type, inputs) in enumerate(EXAMPLES[name]):
        stand_ins[output] = f"stand_in_{output}"
        prompt[stand_ins[output]] = {"class_type": class_type, "inputs": inputs}
    for node in prompt.values():
        for key, value in node["inputs"].items():
            if isinstance(value, list) and value[0] == loader:
                node["inputs"][key] = [stand_ins[value[1]], 0]
    return prompt


def with_tiny_split_files(prompt: dict, name: str) -> dict:
    family, vae = SPLIT_EXAMPLES[name][0], vae_file(SPLIT_EXAMPLES[name][1])
    swaps = {
        "UNETLoader": ("P10Test_TinyDiT", {"family": family}),
        "CLIPLoader": ("P10Test_TextEncoder", {"family": family}),
        "VAELoader": ("VAELoader", {"vae_name": vae}),
    }
    for node in prompt.values():
        if node["class_type"] in swaps:
            node["class_type"], node["inputs"] = swaps[node["class_type"]]
    if vae is None:  # drop the VAE and everything after it
        dropped = {node_id(prompt, "VAELoader")}
        while True:
            after = {
                key
                for key, node in prompt.items()
                if key not in dropped and any(isinstance(v, list) and v[0] in dropped for v in node["inputs"].values())
            }
            if not after:
                break
            dropped |= after
        for key in dropped:
            del prompt[key]
    return prompt


@pytest.mark.parametrize("name", [*EXAMPLES, *SPLIT_EXAMPLES])
def test_family_example_runs_on_the_tiny_model(comfy, families, name):
    from helpers import at_test_scale, load_workflow

    split = name in SPLIT_EXAMPLES
    family = families(SPLIT_EXAMPLES[name][0] if split else name.removesuffix("_zoom"))  # generates the tiny model
    prompt = at_test_scale(load_workflow(name, api=True))
    prompt = with_tiny_split_files(prompt, name) if split else with_tiny_checkpoint(prompt, name)
    if "VAELoader" not in {node["class_type"] for node in prompt.values()}:
        sampler = node_id(prompt, "P10_ZoomKSampler")
        samples = comfy.execute(prompt, capture=[sampler]).raise_for_error().node_output(sampler)["samples"]
        samples = model_space(family, samples)
        assert samples.shape[:2] == (6, FAMILIES[family.name][2]) and torch.isfinite(samples).all()
        assert samples.shape[-1] == 128 // DOWNSCALE.get(family.name, 8)
        assert seam(samples, comfy=comfy) < 1e-4
        return
    render = node_id(prompt, "P10_RenderZoomStack")
    views = comfy.execute(prompt, capture=[render]).raise_for_error().node_output(render)
    assert views.shape == (6, 128, 128, 3) and torch.isfinite(views).all()
    assert views.std() > 1e-3, "the views show something"
    assert seam(views, comfy=comfy) < 1e-5


def test_empty_zoom_latent_takes_flux2s_downscale_from_the_model_or_its_vae(comfy, families):
    family = families("flux2")
    for source in ({"model": family.model}, {"vae": family.vae}):
        latent, _ = run_node(comfy, "P10_EmptyZoomLatent", width=256, height=192, levels=3, zoom_factor="2", **source)
        assert latent["samples"].shape == (3, 128, 12, 16), source
    # 1/16 and zoom factor 2: the latent's sides must be multiples of 4, so the image's of 64 px.
    with pytest.raises(ValueError, match=r"width 96 px is not a multiple of 64 px.*\(96 px / 16\)") as refused:
        run_node(comfy, "P10_EmptyZoomLatent", width=96, height=128, levels=3, zoom_factor="2", model=family.model)
    assert "(64 px blends each level with the next 1, 128 px blends each level with the next 2" in str(refused.value)


def test_empty_zoom_latent_says_how_deep_hunyuan_image_levels_blend(comfy, families, caplog):
    family = families("hunyuan_image")
    with caplog.at_level(logging.INFO):
        latent, _ = run_node(
            comfy, "P10_EmptyZoomLatent", width=128, height=256, levels=4, zoom_factor="2", model=family.model
        )
    assert latent["samples"].shape == (4, 64, 8, 4)
    # 1/32: the 128 px side is 4 latent px, so the next level's footprint is 2 latent px and the one after 1.
    assert "at 128x256 px (latent 1/32) each level blends with the next 1;" in caplog.text
    assert "a shorter side of 512 px would reach all 3" in caplog.text
    with pytest.raises(
        ValueError,
        match=r"width 96 px is not a multiple of 128 px.*\(128 px blends each level with "
        r"the next 1, on the shorter side\)",
    ):
        run_node(comfy, "P10_EmptyZoomLatent", width=96, height=128, levels=4, zoom_factor="2", model=family.model)


@pytest.mark.parametrize("name", ["flux", "flux2", "qwen_image"])
def test_a_reference_latent_on_one_level_acts_on_that_level_only(comfy, families, name):
    # Edit models (Flux Kontext, Flux.2 with reference images, Qwen-Image-Edit) read ReferenceLatent's latents from
    # the conditioning: one attached to level 1's prompt, a latent of that level's size, changes level 1 alone, and
    # the level runs in a call without the others (ComfyUI cannot stack conditioning with and without it).
    family = families(name)
    latent, _, plan = zoom(comfy, family)
    shape = list(latent["samples"].shape[1:])
    if name == "qwen_image":  # the Wan 2.1 VAE encodes a photo as one frame
        shape.insert(1, 1)
    reference = {"samples": torch.randn([1, *shape], generator=torch.Generator().manual_seed(5))}
    positive = run_node(comfy, "ReferenceLatent", conditioning=plan.levels[1].positive, latent=reference)[0]
    edited = run_node(comfy, "P10_ZoomLevelOverride", zoom_plan=plan, first_level=1, last_level=1, positive=positive)
    edited = edited[0]
    assert "reference_latents" not in plan.levels[1].positive[0][1], "the plan it came from is unchanged"
    plain, _ = first_step_estimates(comfy, family, plan, latent, max_batch=1)
    by_level, _ = first_step_estimates(comfy, family, edited, latent, max_batch=1)
    change = (by_level - plain).flatten(1).abs().amax(dim=1)
    assert change[1] > 1e-3 and change[[0, 2]].max() < 1e-5, change
    batched, calls = first_step_estimates(comfy, family, edited, latent)
    assert any(len(call.conditional()) == 1 and "ref_latents" in call.c for call in calls)
    torch.testing.assert_close(batched, by_level, rtol=1e-4, atol=1e-4)
