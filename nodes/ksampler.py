"""Zoom KSampler: core KSampler's job, done with the joint multi-scale guider."""

import comfy.model_management
import comfy.sample
import comfy.samplers
import comfy.utils
import latent_preview
from comfy_api.latest import io

from .guider import cfg_input, consolidation_input_error, consolidation_inputs, make_zoom_guider, model_and_plan_inputs
from .schema import CATEGORY, schema_error


class ZoomKSampler(io.ComfyNode):
    @classmethod
    def define_schema(cls) -> io.Schema:
        return io.Schema(
            node_id="P10_ZoomKSampler",
            display_name="Zoom KSampler",
            category=CATEGORY,
            description=(
                "KSampler for zoom stacks: denoises all zoom levels together, each with its own prompt, so that "
                "every level is a plausible image for its prompt and all levels agree where they overlap. "
                "Every sampler and scheduler works; the defaults (euler_ancestral, the paper's ancestral DDPM "
                "step, Karras, 30 steps) are the ones measured best per model call."
            ),
            inputs=[
                *model_and_plan_inputs(),
                io.Latent.Input(
                    "latent_image", tooltip="The zoom latent (Empty Zoom Latent, Extend Zoom), one image per level."
                ),
                io.Int.Input(
                    "seed",
                    default=0,
                    min=0,
                    max=0xFFFFFFFFFFFFFFFF,
                    control_after_generate=True,
                    tooltip="Seed for the initial noise and the noise injected at each step.",
                ),
                io.Int.Input(
                    "steps",
                    default=30,
                    min=1,
                    max=10000,
                    tooltip="Denoising steps (the paper used 256; on an exact prior 20-30 already reach full detail).",
                ),
                cfg_input(),
                io.Combo.Input(
                    "sampler_name",
                    options=comfy.samplers.KSampler.SAMPLERS,
                    default="euler_ancestral",
                    tooltip="Any sampler: ancestral and SDE samplers inject noise that agrees across levels, "
                    "deterministic ones start from noise that does.",
                ),
                io.Combo.Input(
                    "scheduler",
                    options=comfy.samplers.KSampler.SCHEDULERS,
                    default="karras",
                    tooltip="How the noise level falls over the steps, as in KSampler.",
                ),
                io.Float.Input(
                    "denoise",
                    default=1.0,
                    min=0.0,
                    max=1.0,
                    step=0.01,
                    tooltip="Fraction of the schedule to run; below 1 it refines the input latent.",
                ),
                *consolidation_inputs(),
            ],
            outputs=[io.Latent.Output(display_name="latent")],
        )

    @classmethod
    def validate_inputs(
        cls, pixel_start_percent=None, pixel_end_percent=None, sampler_name=None, scheduler=None
    ) -> bool | str:
        error = schema_error(cls, sampler_name=sampler_name, scheduler=scheduler)
        return error or consolidation_input_error(cls, pixel_start_percent, pixel_end_percent) or True

    @classmethod
    def execute(
        cls, model, zoom_plan, latent_image, seed, steps, cfg, sampler_name, scheduler, denoise, **consolidation
    ) -> io.NodeOutput:
        samples = comfy.sample.fix_empty_latent_channels(model, latent_image["samples"])
        noise = comfy.sample.prepare_noise(samples, seed, latent_image.get("batch_index"))
        sigmas = comfy.samplers.KSampler(
            model,
            steps=steps,
            device=model.load_device,
            sampler=sampler_name,
            scheduler=scheduler,
            denoise=denoise,
            model_options=model.model_options,
        ).sigmas
        callback = latent_preview.prepare_callback(model, sigmas.shape[-1] - 1)
        guider = make_zoom_guider(model, zoom_plan, cfg, "Zoom KSampler", **consolidation)
        result = guider.sample(
            noise,
            samples,
            comfy.samplers.sampler_object(sampler_name),
            sigmas,
            denoise_mask=latent_image.get("noise_mask"),
            callback=callback,
            disable_pbar=not comfy.utils.PROGRESS_BAR_ENABLED,
            seed=seed,
        )
        output = latent_image.copy()
        output["samples"] = result.to(comfy.model_management.intermediate_device())
        return io.NodeOutput(output)
