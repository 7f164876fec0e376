"""The joint multi-scale GUIDER: per-level CFG estimates, blended and rendered (paper Algorithm 2)."""

import inspect
import logging
import time

import comfy.model_management
import comfy.model_patcher
import comfy.samplers
import node_helpers
import torch
from comfy_api.latest import io

from ..blending import child_window, consolidate_estimates
from ..sampler import rendered_noise_sampler
from .conditioning import group_levels
from .types import ZoomPlan, ZoomPlanSocket

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
    """

    def __init__(self, model_patcher, plan: ZoomPlan, cfg: float):
        super().__init__(model_patcher)
        self.plan = plan
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
        return consolidate_estimates(estimates, self.plan.zoom.zoom_factor)

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
                io.Model.Input("model", tooltip="The model for every level the zoom plan does not override."),
                ZoomPlanSocket.Input(
                    "zoom_plan", tooltip="Per-level prompts from Zoom Prompts (and Zoom Level Override)."
                ),
                io.Float.Input(
                    "cfg",
                    default=7.0,
                    min=0.0,
                    max=100.0,
                    step=0.1,
                    round=0.01,
                    tooltip="Classifier-free guidance scale, applied to every level.",
                ),
            ],
            outputs=[io.Guider.Output()],
        )

    @classmethod
    def execute(cls, model, zoom_plan, cfg) -> io.NodeOutput:
        return io.NodeOutput(ZoomGuider(model, zoom_plan, cfg))
