"""The joint multi-scale GUIDER: per-level CFG estimates, blended and rendered (paper Algorithm 2)."""

import inspect
import logging
import time
from dataclasses import replace

import comfy.model_management
import comfy.model_patcher
import comfy.samplers
import node_helpers
import torch
from comfy_api.latest import io

from ..blending import child_window, consolidate_estimates, consolidate_through_codec
from ..sampler import Grounding, check_grounding, ground_estimates, grounding_sigma, rendered_noise_sampler
from .conditioning import group_levels
from .types import GroundingSocket, PixelConsolidation, ZoomPlan, ZoomPlanSocket

log = logging.getLogger(__name__)


class ZoomGuider(comfy.samplers.CFGGuider):
    """CFGGuider whose estimate of every level agrees with the others where they overlap.

    ``predict_noise`` (which returns denoised estimates) evaluates every level's
    classifier-free-guided estimate, with all levels that share a model and
    batchable conditioning in one call, then blends the estimates into a zoom
    stack and renders each level from it. When the sampler takes a
    ``noise_sampler``, it is given rendered noise, so ancestral and SDE
    samplers inject noise that agrees across levels; deterministic samplers
    need nothing more. Works with any SAMPLER and SIGMAS through core
    SamplerCustomAdvanced.

    With a :class:`~..sampler.Grounding`, the estimates take a few Adam steps
    toward real photos before each blend (paper §4.4). With a
    :class:`~.types.PixelConsolidation`, blending and rendering run on the
    VAE-decoded images at the chosen steps, and only the change they make is
    encoded back (method.md, "Latent models").
    """

    def __init__(
        self,
        model_patcher,
        plan: ZoomPlan,
        cfg: float,
        grounding: Grounding | None = None,
        pixel_space: PixelConsolidation | None = None,
    ):
        super().__init__(model_patcher)
        self.plan = plan
        self.grounding = grounding
        self.pixel_space = pixel_space
        self.set_cfg(cfg)
        self.groups = group_levels(plan, model_patcher)
        for group in self.groups:
            check_compatible_model(group.model, model_patcher, group.levels)
        conds = {}
        for number, group in enumerate(self.groups):
            conds[f"positive_{number}"] = group.positive
            conds[f"negative_{number}"] = node_helpers.conditioning_set_values(
                group.negative, {"prompt_type": "negative"}
            )
        self.inner_set_conds(conds)
        self._active_model = model_patcher

    def sample(
        self, noise, latent_image, sampler, sigmas, denoise_mask=None, callback=None, disable_pbar=False, seed=None
    ):
        levels, zoom_factor = self.plan.zoom.levels, self.plan.zoom.zoom_factor
        if noise.ndim != 4 or noise.shape[0] != levels:
            raise ValueError(
                f"Zoom Guider: the latent holds {noise.shape[0]} images of shape {tuple(noise.shape[1:])}, "
                f"but the zoom plan has {levels} levels; use the latent from the same Empty Zoom Latent"
            )
        child_window(noise.shape[2], noise.shape[3], zoom_factor, name="Zoom Guider: the latent")
        if self.grounding is not None:
            try:
                check_grounding(self.grounding, noise.shape)
            except ValueError as error:
                raise ValueError(f"Zoom Photo Grounding: {error}") from error
        start = time.perf_counter()
        samples = super().sample(noise, latent_image, sampler, sigmas, denoise_mask, callback, disable_pbar, seed)
        log.info(
            "Zoom sampling: %d levels, zoom factor %d, %d steps, %.1f s",
            levels,
            zoom_factor,
            max(len(sigmas) - 1, 0),
            time.perf_counter() - start,
        )
        return samples

    def inner_sample(self, noise, latent_image, device, sampler, sigmas, denoise_mask, callback, disable_pbar, seed):
        sampler = with_rendered_noise(sampler, noise, self.plan.zoom.zoom_factor, seed)
        self.schedule = sigmas
        if self.grounding is not None:
            photos = {
                level: self.inner_model.process_latent_in(photo[None].to(device))[0]
                for level, photo in self.grounding.photos.items()
            }
            self.model_space_grounding = replace(self.grounding, photos=photos)
            self.ground_above = grounding_sigma(sigmas, self.grounding.fraction)
        return super().inner_sample(
            noise, latent_image, device, sampler, sigmas, denoise_mask, callback, disable_pbar, seed
        )

    def outer_sample(self, *args, **kwargs):
        self._active_model = self.model_patcher
        try:
            return super().outer_sample(*args, **kwargs)
        finally:
            for group in self.groups:
                if group.model is not self.model_patcher:
                    group.model.cleanup()

    def predict_noise(self, x, timestep, model_options=None, seed=None):
        estimates = self.estimate_levels(x, timestep, model_options or {}, seed)
        zoom_factor, sigma = self.plan.zoom.zoom_factor, float(timestep.max())
        if self.grounding is not None and sigma > self.ground_above:
            estimates = ground_estimates(estimates, zoom_factor, self.model_space_grounding)
        if self.pixel_space is not None and self.pixel_space.applies(self.step_of(sigma), sigma):
            return self.consolidate_in_pixels(estimates)
        return consolidate_estimates(estimates, zoom_factor)

    def step_of(self, sigma: float) -> int:
        """The schedule step a sigma belongs to; a sampler's sub-step sigmas count to the step they start from."""
        return int((self.schedule >= sigma).sum()) - 1

    def consolidate_in_pixels(self, estimates):
        """Blend and render the decoded estimates; encode back only the change (method.md, "Latent models")."""
        vae, model = self.pixel_space.vae, self.inner_model

        def decode(latents):
            return vae.decode(model.process_latent_out(latents)).movedim(-1, 1)

        def encode(images):
            return model.process_latent_in(vae.encode(images.movedim(1, -1)).to(estimates.device))

        consolidated = consolidate_through_codec(estimates, self.plan.zoom.zoom_factor, decode, encode)
        # Loading the VAE may have pushed the diffusion model out of VRAM.
        comfy.model_management.load_models_gpu([self.model_patcher])
        return consolidated

    def estimate_levels(self, x, timestep, model_options, seed):
        """Every level's own CFG estimate, before blending: ``(N, C, H, W)`` denoised latents."""
        estimates = torch.empty_like(x)
        for number, group in enumerate(self.groups):
            comfy.model_management.throw_exception_if_processing_interrupted()
            rows = list(group.levels)
            whole = rows == list(range(x.shape[0]))
            options = model_options
            if group.model is not self.model_patcher:
                options = override_model_options(group.model, model_options)
            estimates[rows] = comfy.samplers.sampling_function(
                self._activate(group.model),
                x if whole else x[rows],
                timestep if whole else timestep[rows],
                self.conds.get(f"negative_{number}"),
                self.conds.get(f"positive_{number}"),
                self.cfg,
                model_options=options,
                seed=seed,
            )
        self._activate(self.model_patcher)
        return estimates

    def _activate(self, model_patcher):
        """Make ``model_patcher``'s weights the live ones and return its model.

        An override MODEL that is a clone of the guider's (a LoRA loaded on the
        same checkpoint) shares its weights, so ComfyUI can patch only one of
        them at a time: switching re-patches, once per step and override.
        """
        if model_patcher is not self._active_model:
            comfy.model_management.load_models_gpu([model_patcher])
            model_patcher.pre_run()
            self._active_model = model_patcher
        return model_patcher.model


def override_model_options(model_patcher, model_options):
    """The override model's own options, carrying the schedule the sampler set for this run."""
    options = comfy.model_patcher.create_model_options_clone(model_patcher.model_options)
    sample_sigmas = model_options.get("transformer_options", {}).get("sample_sigmas")
    if sample_sigmas is not None:
        options.setdefault("transformer_options", {})["sample_sigmas"] = sample_sigmas
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


def with_rendered_noise(sampler, noise, zoom_factor, seed):
    """The same sampler, given rendered noise when its function takes a ``noise_sampler``."""
    if not isinstance(sampler, comfy.samplers.KSAMPLER) or not takes_noise_sampler(sampler.sampler_function):
        return sampler
    generator = torch.Generator().manual_seed(seed if seed is not None else 0)
    noise_sampler = rendered_noise_sampler(noise, zoom_factor, generator=generator)
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
            tooltip="Optional: blend and render each step's estimates as decoded images instead of latents. "
            "More faithful for latent models, at the cost of a decode and encode per step (TAESD is cheap).",
        ),
        io.Int.Input(
            "pixel_every",
            default=1,
            min=1,
            max=1000,
            optional=True,
            tooltip="With a VAE: work in pixel space on every n-th step only (latent space in between).",
        ),
        io.Float.Input(
            "pixel_max_sigma",
            default=0.0,
            min=0.0,
            max=1000.0,
            step=0.01,
            optional=True,
            tooltip="With a VAE: work in pixel space only at noise levels up to this sigma; 0: at all levels.",
        ),
    ]


def make_zoom_guider(model, zoom_plan, cfg, grounding=None, vae=None, pixel_every=1, pixel_max_sigma=0.0):
    """The guider the nodes build from their inputs."""
    pixel_space = PixelConsolidation(vae, pixel_every, pixel_max_sigma) if vae is not None else None
    return ZoomGuider(model, zoom_plan, cfg, grounding=grounding, pixel_space=pixel_space)


class ZoomGuiderNode(io.ComfyNode):
    @classmethod
    def define_schema(cls) -> io.Schema:
        return io.Schema(
            node_id="P10_ZoomGuider",
            display_name="Zoom Guider",
            category="powers_of_ten",
            description=(
                "A guider for SamplerCustomAdvanced that samples every zoom level at once, each with its own "
                "prompt, and keeps them consistent: each step's estimates are blended across levels and every "
                "level is re-rendered from the blend; ancestral/SDE samplers also get noise that agrees across "
                "levels. Works with any sampler, scheduler and noise."
            ),
            inputs=[
                *model_and_plan_inputs(),
                cfg_input(),
                *consolidation_inputs(),
            ],
            outputs=[io.Guider.Output()],
        )

    @classmethod
    def execute(cls, model, zoom_plan, cfg, **consolidation) -> io.NodeOutput:
        return io.NodeOutput(make_zoom_guider(model, zoom_plan, cfg, **consolidation))
