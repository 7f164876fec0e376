"""The joint multi-scale GUIDER: per-level CFG estimates, made consistent by the joint step (paper Algorithm 2)."""

import dataclasses
import inspect
import logging
import time

import comfy.k_diffusion.sampling
import comfy.model_management
import comfy.model_patcher
import comfy.samplers
import node_helpers
import torch
from comfy_api.latest import io

from ..sampler import Grounding, JointStep, PixelSpace, SamplingWindow, rendered_noise_sampler
from .conditioning import LevelGroup, group_levels
from .schema import CATEGORY, MAX_LEVELS, check_percent_range, percent_input, schema_error
from .types import GroundingSocket, PhotoGrounding, PixelConsolidation, ZoomPlan, ZoomPlanSocket

log = logging.getLogger(__name__)

PIXEL_TOLERANCE = 1 / 255
"""Levels whose decoded image consolidation moves by less than a grey level (images in [0, 1]) are not encoded
back: the round trip could only add the VAE's own error (``benchmarks/bench_decoded_seams.py``)."""


class ZoomGuider(comfy.samplers.CFGGuider):
    """CFGGuider whose estimate of every level agrees with the others where they overlap.

    Like core's small guiders (``Guider_DualCFG``): the conditioning is set up
    here, and ``predict_noise`` (which returns denoised estimates) makes the
    model calls, every level's classifier-free-guided estimate with all levels
    that share a model and batchable conditioning in one call, and hands them to
    the pack's :class:`~..sampler.JointStep` (grounding, blending and rendering).
    ``sample`` starts from the step's initial noise (rendered) and gives samplers
    that take a ``noise_sampler`` rendered noise, so ancestral and SDE samplers
    inject noise that agrees across levels; CFG++ samplers' hooks see the whole,
    consistent stack (:class:`SamplerParts`). Works with any SAMPLER and SIGMAS
    through core SamplerCustomAdvanced.

    The zoom's fixed levels (Extend Zoom, Regenerate Zoom Levels) are held at
    the latent's values and never evaluated; only the levels within reach of a
    sampled level take part (:class:`~..sampler.SamplingWindow`), the rest of
    the latent comes back untouched.

    Args:
        model_patcher: the MODEL for every level the plan does not override.
        plan: per-level conditioning and models.
        cfg: classifier-free guidance scale, for every level.
        node: the node the user placed (named in error messages).
        grounding: photos from Zoom Photo Grounding.
        pixel_space: a VAE to consolidate through, and when.
        max_batch: at most this many levels per model call (None: as many as batch exactly);
            memory then follows the cap, not the number of levels.
    """

    def __init__(
        self,
        model_patcher,
        plan: ZoomPlan,
        cfg: float,
        *,
        node: str,
        grounding: PhotoGrounding | None = None,
        pixel_space: PixelConsolidation | None = None,
        max_batch: int | None = None,
    ):
        super().__init__(model_patcher)
        self.set_cfg(cfg)
        self.plan, self.node = plan, node
        self.groups = group_levels(plan, model_patcher, node, max_batch)
        for group in self.groups:
            check_compatible_model(group.model, model_patcher, group.levels)
        self.inner_set_conds(level_conds(self.groups, model_patcher))
        if self.model_patcher is not model_patcher:
            # ComfyUI 0.16+ (Dynamic VRAM): a cond with hooks (a level's hook LoRA) makes core's
            # inner_set_conds swap in a non-dynamic copy of the model, with weights of its own. The levels
            # follow it, and the clones of the old model become separate models loaded with it.
            self.groups = [
                dataclasses.replace(group, model=self.model_patcher) if group.model is model_patcher else group
                for group in self.groups
            ]
            self.inner_set_conds(level_conds(self.groups, self.model_patcher))
        self.models = LevelModels(self.model_patcher)
        self.step = joint_step(self.model_patcher, plan, grounding, pixel_space)
        self.window = range(plan.zoom.levels)

    def sample(
        self, noise, latent_image, sampler, sigmas, denoise_mask=None, callback=None, disable_pbar=False, seed=None
    ):
        check_latent(noise, self.plan, self.step, self.node)
        zoom = self.plan.zoom
        try:
            window = SamplingWindow.around(zoom.layout, *noise.shape[-2:], zoom.fixed_mask())
        except ValueError as error:
            raise ValueError(f"{self.node}: {error}") from None
        if denoise_mask is not None and denoise_mask.shape[0] == zoom.levels:
            denoise_mask = window.cut(denoise_mask)
        start = time.perf_counter()
        full_step, base_model, device = self.step, self.model_patcher.model, self.model_patcher.load_device
        # Moved once here: every evaluation puts the fixed levels in place of their estimates, on the model's device.
        values = base_model.process_latent_in(window.cut(latent_image)).to(device) if zoom.fixed else None
        try:
            window_step = window.joint_step(full_step, values)
        except ValueError as error:
            raise ValueError(f"Zoom Photo Grounding: {error}") from None
        try:
            self.step, self.window = window_step, window.levels
            sampler = with_rendered_noise(sampler, noise, sigmas, self.step, seed, window.rows, device)
            samples = super().sample(
                self.step.initial_noise(window.cut(noise)),
                window.cut(latent_image),
                sampler,
                sigmas,
                denoise_mask,
                callback,
                disable_pbar,
                seed,
            )
            samples = base_model.process_latent_out(self.step.finish(base_model.process_latent_in(samples)))
        finally:
            self.models.release()
            self.step, self.window = full_step, range(zoom.levels)
        result = window.paste(samples, latent_image, zoom.layout)
        log.info(
            "Zoom sampling: %d levels (%d sampled, %d-%d involved), zoom factor %d, %d steps, %.1f s",
            zoom.levels,
            len(zoom.sampled),
            window.levels.start,
            window.levels.stop - 1,
            zoom.zoom_factor,
            max(len(sigmas) - 1, 0),
            time.perf_counter() - start,
        )
        return result

    def predict_noise(self, x, timestep, model_options=None, seed=None):
        model_options = model_options or {}
        own = self.model_options.get("sampler_post_cfg_function", [])
        hooks = [hook for hook in model_options.get("sampler_post_cfg_function", []) if hook not in own]
        parts = SamplerParts(x) if hooks else None
        denoised = self.step(self.estimate_levels(x, timestep, model_options, seed, parts), float(timestep.max()))
        if parts is not None:
            denoised = parts.hand_to(hooks, denoised, self.step, self.cfg, self.inner_model, timestep, model_options)
        return denoised

    def estimate_levels(self, x, timestep, model_options, seed, parts=None):
        """Every level's own CFG estimate, before blending: ``(N, C, H, W)`` denoised latents.

        With ``parts``, the sampler's own post-CFG hooks are held back (they get
        the whole, consistent stack afterwards) and each level's conditional and
        unconditional estimates are recorded in ``parts`` instead.
        """
        estimates = torch.empty_like(x)
        for number, group in enumerate(self.groups):
            comfy.model_management.throw_exception_if_processing_interrupted()
            rows = [level - self.window.start for level in group.levels]
            whole = rows == list(range(x.shape[0]))
            options = model_options
            if group.model is not self.model_patcher:
                options = override_model_options(group.model, model_options)
            if parts is not None:
                own = group.model.model_options.get("sampler_post_cfg_function", [])
                options = {**options, "sampler_post_cfg_function": [*own, parts.recorder(rows)]}
            estimates[rows] = comfy.samplers.sampling_function(
                self.models.use(group.model),
                x if whole else x[rows],
                timestep if whole else timestep[rows],
                self.conds.get(f"negative_{number}"),
                self.conds.get(f"positive_{number}"),
                self.cfg,
                model_options=options,
                seed=seed,
            )
        self.models.use(self.model_patcher)
        return estimates


class LevelModels:
    """The models the levels use during one sampling run, made live in turn.

    An override MODEL loaded separately (another checkpoint) is loaded and
    cleaned up by ComfyUI with the sampler's own model, through the
    conditioning's ``additional_models`` (:func:`level_conds`). One that is a
    clone of the sampler's model (a LoRA loaded on the same checkpoint) shares
    its weights, and ComfyUI keeps only one clone of a model patched at a time
    (``load_models_gpu`` detaches the others). Such a clone is therefore made
    live before its levels' model call and the sampler's model after the
    calls: one re-patch per evaluation and clone. Hook LoRAs on a level's
    conditioning need no switching.

    Known limit: with Dynamic VRAM (ComfyUI 0.16+), hooks on any level make
    core sample with a non-dynamic copy of the model (:class:`ZoomGuider`
    follows it); a LoRA clone of the original model is then a separate model
    beside that copy, so its base weights are held twice.
    """

    def __init__(self, main):
        self.main = main
        self.live = main
        self.started: set[int] = set()
        self.clones_used: dict[int, object] = {}

    def use(self, model_patcher):
        """Make ``model_patcher`` the one whose weights are live and return its model."""
        if model_patcher is not self.main and not model_patcher.is_clone(self.main):
            if id(model_patcher) not in self.started:
                model_patcher.pre_run()
                self.started.add(id(model_patcher))
            return model_patcher.model
        if model_patcher is not self.live:
            comfy.model_management.load_models_gpu([model_patcher])
            model_patcher.pre_run()
            self.live = model_patcher
            if model_patcher is not self.main:
                self.clones_used[id(model_patcher)] = model_patcher
        return model_patcher.model

    def release(self) -> None:
        """Clean up the clones that were made live; ComfyUI cleans up the rest."""
        for clone in self.clones_used.values():
            clone.cleanup()
        self.clones_used.clear()
        self.started.clear()
        self.live = self.main


def level_conds(groups: list[LevelGroup], main) -> dict[str, list]:
    """The guider's conds: ``positive_k`` / ``negative_k`` for group ``k``; separate override models ride along.

    A separately loaded override model goes into its group's conditioning as
    ``additional_models``, so that ComfyUI's ``prepare_sampling`` loads it with
    the sampler's model and ``cleanup_models`` releases it.
    """
    conds = {}
    for number, group in enumerate(groups):
        positive = group.positive
        if group.model is not main and not group.model.is_clone(main):
            positive = node_helpers.conditioning_set_values(positive, {"additional_models": [group.model]})
        conds[f"positive_{number}"] = positive
        conds[f"negative_{number}"] = node_helpers.conditioning_set_values(group.negative, {"prompt_type": "negative"})
    return conds


def joint_step(
    model_patcher, plan: ZoomPlan, grounding: PhotoGrounding | None, pixel_space: PixelConsolidation | None
) -> JointStep:
    """The pack's joint step for this model: photos moved into the model's latent space, percents into sigmas."""
    base_model = model_patcher.model
    model_sampling = model_patcher.get_model_object("model_sampling")
    model_grounding = None
    if grounding is not None:
        photos = {
            level: base_model.process_latent_in(photo[None])[0].to(model_patcher.load_device)
            for level, photo in grounding.photos.items()
        }
        model_grounding = Grounding(photos, grounding.steps, grounding.strength, grounding.when.sigmas(model_sampling))
    model_pixel_space = None
    if pixel_space is not None:
        decode, encode = vae_codec(pixel_space.vae, model_patcher)
        model_pixel_space = PixelSpace(decode, encode, pixel_space.when.sigmas(model_sampling), PIXEL_TOLERANCE)
    return JointStep(plan.zoom.layout, grounding=model_grounding, pixel_space=model_pixel_space)


def vae_codec(vae, model_patcher):
    """Decode and encode between the model's latent space and images ``(B, C, H, W)``, through a VAE.

    Latents are ``(B, C, H, W)`` as the joint step holds them: for a model whose
    latents have a frames axis (Qwen-Image's ``(B, C, 1, H, W)``, Wan 2.1's VAE)
    that is its one frame, which the VAE is given back, so each level decodes
    to one image; and each image is encoded on its own, since a video VAE
    takes a batch of images for the frames of one video.
    """
    base_model = model_patcher.model
    frames = model_patcher.get_model_object("latent_format").latent_dimensions == 3

    def decode(latents):
        images = vae.decode(base_model.process_latent_out(latents[:, :, None] if frames else latents))
        return (images[:, 0] if frames else images).movedim(-1, 1)

    def encode(images):
        pixels = images.movedim(1, -1)
        if frames:
            latents = torch.cat([vae.encode(image[None]) for image in pixels])
            latents = base_model.process_latent_in(latents)[:, :, 0]
        else:
            latents = base_model.process_latent_in(vae.encode(pixels))
        # Loading the VAE may have pushed the diffusion model out of VRAM.
        comfy.model_management.load_models_gpu([model_patcher])
        return latents

    return decode, encode


def check_latent(noise, plan: ZoomPlan, step: JointStep, node: str) -> None:
    """The latent the sampler was given must be the zoom's: one image per level, of a size that holds the zoom."""
    levels = plan.zoom.levels
    # 5-D latents (Qwen-Image: (N, C, 1, H, W)) are one image per level too; the joint step folds their frames.
    if noise.ndim not in (4, 5) or noise.shape[0] != levels:
        raise ValueError(
            f"{node}: the latent holds {noise.shape[0]} images of shape {tuple(noise.shape[1:])}, but the zoom plan "
            f"has {levels} levels; use the latent that came with the zoom (Empty Zoom Latent, Extend Zoom)"
        )
    step.layout.check_size(noise.shape[-2], noise.shape[-1], name=f"{node}: the latent")
    if step.grounding is not None:
        try:
            step.grounding.check(noise.shape)
        except ValueError as error:
            raise ValueError(f"Zoom Photo Grounding: {error}") from None


class SamplerParts:
    """Each level's conditional and unconditional estimates of one evaluation, for the sampler's post-CFG hooks.

    CFG++ samplers (``*_cfg_pp``) read the unconditional estimate through a
    post-CFG hook and step along it. Called per group of levels, a hook would
    see a part of the stack, unblended, beside a consolidated estimate; so the
    guider records both estimates of every level here and hands the hooks the
    whole stack, consistent: each estimate blended and rendered like the
    denoised one (in latent space), which at cfg 1 makes the unconditional
    estimate the denoised one exactly.
    """

    def __init__(self, x: torch.Tensor):
        self.x = x
        self.cond = torch.zeros_like(x)
        self.uncond = torch.zeros_like(x)

    def recorder(self, rows: list[int]):
        """A post-CFG function that records its levels' estimates and changes nothing."""

        def record(args):
            self.cond[rows] = args["cond_denoised"]
            if args["uncond_denoised"] is not None:
                self.uncond[rows] = args["uncond_denoised"]
            return args["denoised"]

        return record

    def hand_to(self, hooks, denoised, step: JointStep, cfg, model, timestep, model_options):
        """Run the sampler's hooks on the whole stack, as ``cfg_function`` would, with consistent estimates."""
        cond, uncond = (step.consolidate(estimates) for estimates in (self.cond, self.uncond))
        for hook in hooks:
            args = {
                "denoised": denoised,
                "cond": None,
                "uncond": None,
                "cond_scale": cfg,
                "model": model,
                "uncond_denoised": uncond,
                "cond_denoised": cond,
                "sigma": timestep,
                "model_options": model_options,
                "input": self.x,
            }
            denoised = hook(args)
        return denoised


def override_model_options(model_patcher, model_options):
    """The override model's own options, carrying what the sampler set for this run: the schedule, and CFG at 1."""
    options = comfy.model_patcher.create_model_options_clone(model_patcher.model_options)
    sample_sigmas = model_options.get("transformer_options", {}).get("sample_sigmas")
    if sample_sigmas is not None:
        options.setdefault("transformer_options", {})["sample_sigmas"] = sample_sigmas
    if model_options.get("disable_cfg1_optimization"):
        options["disable_cfg1_optimization"] = True
    return options


def check_compatible_model(model_patcher, reference, levels) -> None:
    """Override models must share the guider model's latent space and noise schedule."""
    if model_patcher is reference:
        return
    described = []
    for patcher in (model_patcher, reference):
        latent_format = type(patcher.get_model_object("latent_format")).__name__
        sampling = patcher.get_model_object("model_sampling")
        schedule = getattr(sampling, "sigmas", None)
        described.append((latent_format, type(sampling).__name__, None if schedule is None else tuple(schedule.shape)))
    if described[0] != described[1]:
        first, last = levels[0], levels[-1]
        raise ValueError(
            f"Zoom Level Override: the model for levels {first}-{last} samples latent space {described[0][0]} "
            f"with {described[0][1]}, but the guider's model uses {described[1][0]} with {described[1][1]}; "
            "all levels must share one latent space and noise schedule"
        )


def with_rendered_noise(sampler, noise, sigmas, step: JointStep, seed, rows: slice, device):
    """The same sampler, given rendered noise for the levels ``rows`` when its function takes a ``noise_sampler``.

    ``noise`` is the sampler's initial noise as ComfyUI prepares it (on the CPU); the draws are
    rendered and returned on ``device``, where the sampler adds them to the latents.

    The draws come from k-diffusion's Brownian tree, as ComfyUI's SDE samplers
    draw by default, so that solvers stepping inside an interval see increments of
    one Brownian motion (see :func:`~..sampler.rendered_noise_sampler`). The
    tree spans every level of the zoom and ``rows`` are cut from its draws, so
    a level gets the same noise whichever levels are sampled with it.
    """
    if not isinstance(sampler, comfy.samplers.KSAMPLER) or not takes_noise_sampler(sampler.sampler_function):
        return sampler
    positive = sigmas[sigmas > 0]
    if len(positive) < 2:
        return sampler
    tree = comfy.k_diffusion.sampling.BrownianTreeNoiseSampler(
        noise, positive.min(), positive.max(), seed=seed if seed is not None else 0, cpu=True
    )

    def draw(sigma, sigma_next):
        return tree(sigma, sigma_next)[rows]

    noise_sampler = rendered_noise_sampler(noise[rows].to(device), step.layout, draw=draw)
    return comfy.samplers.KSAMPLER(
        sampler.sampler_function,
        {**sampler.extra_options, "noise_sampler": noise_sampler},
        dict(sampler.inpaint_options),
    )


def takes_noise_sampler(function) -> bool:
    parameters = inspect.signature(function).parameters
    return "noise_sampler" in parameters or any(p.kind is p.VAR_KEYWORD for p in parameters.values())


def model_and_plan_inputs() -> list:
    """The MODEL and zoom plan inputs that Zoom Guider and Zoom KSampler share."""
    return [
        io.Model.Input("model", tooltip="The model for every level the zoom plan does not override."),
        ZoomPlanSocket.Input("zoom_plan", tooltip="Per-level prompts from Zoom Prompts (and Zoom Level Override)."),
    ]


def cfg_input() -> io.Float.Input:
    return io.Float.Input(
        "cfg",
        default=7.0,
        min=0.0,
        max=100.0,
        step=0.1,
        round=0.01,
        tooltip="Classifier-free guidance scale, applied to every level.",
    )


def consolidation_inputs() -> list:
    """The photo-grounding and pixel-space inputs that Zoom Guider and Zoom KSampler share."""
    return [
        GroundingSocket.Input(
            "grounding", optional=True, tooltip="Photos that anchor some levels, from Zoom Photo Grounding."
        ),
        io.Vae.Input(
            "vae",
            optional=True,
            tooltip="Optional: blend and render the estimates as decoded images instead of latents, during the part "
            "of the schedule set below. More faithful for latent models, at the cost of a decode and encode per "
            "step (TAESD is cheap).",
        ),
        percent_input(
            "pixel_start_percent",
            PixelConsolidation.when.start,
            "With a VAE: where in the schedule pixel-space consolidation starts (0: the noisy start). Measured: the "
            "last 30% brings the decoded views as close as every step does, at 70% of the cost.",
        ),
        percent_input(
            "pixel_end_percent",
            PixelConsolidation.when.end,
            "With a VAE: where in the schedule pixel-space consolidation ends (1: the last step).",
        ),
        io.Int.Input(
            "max_batch",
            default=0,
            min=0,
            max=MAX_LEVELS,
            optional=True,
            tooltip="At most this many levels per model call; memory then follows this, not the number of levels, "
            "for zooms of any depth. 0: as many as batch together.",
        ),
    ]


def consolidation_input_error(node: type[io.ComfyNode], start: float | None, end: float | None) -> str | None:
    """What :func:`consolidation_inputs` alone show to be wrong, for the node's ``validate_inputs``."""
    return schema_error(node, pixel_start_percent=start, pixel_end_percent=end) or check_percent_range(
        node.define_schema().display_name, "pixel_", start, end
    )


def make_zoom_guider(
    model,
    zoom_plan,
    cfg,
    node: str,
    grounding=None,
    vae=None,
    pixel_start_percent=None,
    pixel_end_percent=None,
    max_batch=None,
) -> ZoomGuider:
    """The guider the nodes build from their inputs; an input not given keeps what the dataclasses say."""
    pixel_space = None
    if vae is not None:
        pixel_space = PixelConsolidation(vae, PixelConsolidation.when.given(pixel_start_percent, pixel_end_percent))
    return ZoomGuider(
        model, zoom_plan, cfg, node=node, grounding=grounding, pixel_space=pixel_space, max_batch=max_batch or None
    )


class ZoomGuiderNode(io.ComfyNode):
    @classmethod
    def define_schema(cls) -> io.Schema:
        return io.Schema(
            node_id="P10_ZoomGuider",
            display_name="Zoom Guider",
            category=CATEGORY,
            description=(
                "A guider for SamplerCustomAdvanced that samples every zoom level at once, each with its own "
                "prompt, and keeps them consistent: each step's estimates are blended across levels and every "
                "level is re-rendered from the blend; the initial noise, and the noise ancestral and SDE samplers "
                "inject, agree across levels too. Works with any sampler, scheduler and noise."
            ),
            inputs=[
                *model_and_plan_inputs(),
                cfg_input(),
                *consolidation_inputs(),
            ],
            outputs=[io.Guider.Output()],
        )

    @classmethod
    def validate_inputs(cls, pixel_start_percent=None, pixel_end_percent=None) -> bool | str:
        return consolidation_input_error(cls, pixel_start_percent, pixel_end_percent) or True

    @classmethod
    def execute(cls, model, zoom_plan, cfg, **consolidation) -> io.NodeOutput:
        return io.NodeOutput(make_zoom_guider(model, zoom_plan, cfg, "Zoom Guider", **consolidation))
