"""Sampling quality on an exact prior, for every sampler ComfyUI offers: seams and per-octave energy of every view.

A Gaussian random field with a 1/f² spectrum (natural images have one) has a
closed-form MMSE denoiser (``tests/helpers.py``: ``FieldPrior``), so sampling
with it draws exact samples, and every rendered view of a good zoom must look
like one: seamless, with the right energy in every octave. This runs the
pack's real sampling path on it: ComfyUI in-process, the tiny test checkpoint
with its UNet replaced by the denoiser (a ``model_function_wrapper``), the Zoom
Guider with each ComfyUI sampler, Karras schedule, cfg 1. Each channel of the
latent is an independent field, so one run holds many samples.

For each zoom factor, layout (``centre``: the paper's concentric zoom;
``corners``: each level in a corner of its parent, alternating), sampler and
step count it prints, for the pack's joint
step and, as baselines in the same run, the paper's literal choices (equal
band weights, hard paste, independent initial noise) and plain averaging of
upsampled crops (MultiDiffusion-style):

- seam: gradient energy across the paste borders over that just beside them (1: seamless);
- high / mid / low: each deep level's band energy over that of independent
  sampling with the same sampler, steps and seeds, averaged over the deep
  levels: the top two octaves, the three octaves from the first one several
  levels share (octaves 1-3 at zoom factor 2, 2-4 at 4), and the rest;
- calls: model evaluations (rows of the UNet's batch) per run.

The first lines give the same figures for exact consistent stacks (drawn by
Gaussian conditioning, level by level): what a perfect joint sampler reaches.

With ``--per-octave`` it prints instead, for the pack's joint step alone, every
octave of every deeper level over independent sampling: the median over seeds
and the spread (min-max), octave 0 the finest; ``*`` marks the octaves a level
shares with two or more coarser levels, where averaging across levels weighs most.

    python benchmarks/bench_sampler_quality.py [--samplers euler dpmpp_2m ...] [--steps 10 20 30 50]
        [--zoom-factors 2 4] [--layouts centre corners] [--channels 16] [--size 64] [--levels 4] [--seeds 1]
        [--threads N] [--per-octave] [--consolidation weighting=equal preserve_energy=false ring_width=2]

``--consolidation`` changes the pack's own choices (``blending.Consolidation``) for the pack's columns, to measure
what each does.
"""

import argparse
import dataclasses
import importlib
import itertools
import statistics
import sys
import time

import torch
from common import REPO_ROOT, boot_comfyui, log, parse_arguments

sys.path.insert(0, str(REPO_ROOT / "tests"))
from helpers import (  # noqa: E402
    FieldPrior,
    band_energy,
    level_seam_ratios,
    octave_groups,
    plain_average,
    seam_ratio,
)


def prior_model(model, prior: FieldPrior, calls: list):
    """A clone of ``model`` whose model call (noisy latents in, denoised out) is the prior's exact denoiser."""

    def denoise(apply_model, args):
        x, sigma = args["input"], args["c"]["transformer_options"]["sigmas"]
        # One sigma per level; the batch holds each level once per conditioning (conditional, unconditional).
        sigma = sigma.repeat(len(x) // len(sigma))
        calls.append(len(x))
        return prior.denoise(x.double(), sigma.double()).to(x.dtype)

    clone = model.clone()
    clone.set_model_unet_function_wrapper(denoise)
    return clone


@dataclasses.dataclass
class Figures:
    seam: float
    high: float
    mid: float
    low: float
    calls: float

    def row(self, with_calls=True) -> str:
        text = f"{self.seam:5.2f} {self.high:5.2f} {self.mid:5.2f} {self.low:5.2f}"
        return text + (f" {self.calls:6.0f}" if with_calls else "")


LAYOUTS = {
    "centre": ((0.5, 0.5),),
    "corners": ((0, 0), (1, 1), (1, 0)),
}
"""Targets: the paper's concentric zoom, and each level in a corner of its parent, corners alternating."""


def figures(views, reference, layout, octaves, calls) -> Figures:
    """Seam ratio of ``views`` and their deep levels' band energy over ``reference``'s, by octave group."""
    ratio = band_energy(views, octaves) / band_energy(reference, octaves)
    deep = ratio[1:]
    groups = {name: deep[:, bands].mean().item() for name, bands in octave_groups(layout.zoom_factor, octaves).items()}
    return Figures(seam_ratio(views, layout), calls=calls, **groups)


def log_octave_rows(name, steps, ratios: torch.Tensor, several: int | None):
    """One line per deeper level: each octave's median (min-max) over seeds; ``ratios`` ``(seeds, N, octaves + 1)``.

    ``*`` marks the octaves from ``several`` on of levels 2 and deeper, those a level shares with two or more
    coarser levels.
    """
    median = ratios.quantile(0.5, dim=0)
    low, high = ratios.amin(dim=0), ratios.amax(dim=0)
    for level in range(1, ratios.shape[1]):
        cells = [
            f"{median[level, band]:.2f}({low[level, band]:.2f}-{high[level, band]:.2f})"
            + ("*" if several is not None and level >= 2 and band >= several else " ")
            for band in range(ratios.shape[2])
        ]
        log.info("%-26s %5s | level %d: %s", name, steps, level, " ".join(cells))


def consolidation_changes(changes: list[str], consolidation_class) -> dict:
    """``["field=value", ...]`` -> the ``consolidation_class`` fields to replace, each parsed as its default's type."""
    kinds = {field.name: type(field.default) for field in dataclasses.fields(consolidation_class)}
    parsed = {}
    for change in changes:
        name, _, text = change.partition("=")
        if name not in kinds:
            raise SystemExit(f"--consolidation: no field {name!r}; one of {', '.join(kinds)}")
        parsed[name] = text.lower() in ("1", "true", "yes") if kinds[name] is bool else kinds[name](text)
    return parsed


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--samplers", nargs="*", help="default: every sampler ComfyUI lists")
    parser.add_argument("--steps", nargs="*", type=int, default=[10, 20, 30, 50])
    parser.add_argument("--zoom-factors", nargs="*", type=int, default=[2, 4])
    parser.add_argument(
        "--layouts", nargs="*", choices=sorted(LAYOUTS), default=sorted(LAYOUTS), help="where each level sits"
    )
    parser.add_argument("--channels", type=int, default=16, help="independent fields per level and run")
    parser.add_argument("--size", type=int, default=64, help="latent side")
    parser.add_argument("--levels", type=int, default=4)
    parser.add_argument("--seeds", type=int, default=1)
    parser.add_argument(
        "--per-octave", action="store_true", help="every octave of every deeper level, pack only (see above)"
    )
    parser.add_argument(
        "--consolidation",
        nargs="*",
        default=[],
        metavar="FIELD=VALUE",
        help="the pack's consolidation with these fields changed, e.g. weighting=equal ring_width=2",
    )
    args = parse_arguments(parser)
    host = boot_comfyui()
    import comfy.k_diffusion.sampling
    import comfy.samplers

    pack = host.pack
    blending, sampler_core, types = pack.blending, pack.sampler, pack.nodes.types
    guider_module = pack.nodes.guider
    noise_module = importlib.import_module(f"{pack.sampler.__name__}.noise")
    prior = FieldPrior(args.size, args.size)
    octaves = args.size.bit_length() - 2
    calls: list[int] = []
    base, _, _ = host.nodes.CheckpointLoaderSimple().load_checkpoint(host.checkpoint_name)
    model = prior_model(base, prior, calls)
    sampling = model.get_model_object("model_sampling")
    nothing = [[torch.zeros(1, 77, 768), {}]]
    shape = (args.levels, args.channels, args.size, args.size)
    samplers = args.samplers or comfy.samplers.KSampler.SAMPLERS
    changes = consolidation_changes(args.consolidation, blending.Consolidation)

    class PlainAverage(sampler_core.JointStep):
        """MultiDiffusion-style baseline: each level the mean of itself and upsampled crops of the coarser ones."""

        def __call__(self, estimates, sigma):
            return blending.render_image(plain_average(estimates, self.layout), self.layout, ring_width=0)

    def zoom_guider(step_kind, layout):
        spec = types.ZoomSpec(args.levels, layout)
        plan = types.ZoomPlan(spec, tuple(types.LevelConditioning(nothing, nothing) for _ in range(args.levels)))
        guider = guider_module.ZoomGuider(model, plan, 1.0, node="benchmark")
        if step_kind == "pack" and changes:
            guider.step = dataclasses.replace(
                guider.step, consolidation=dataclasses.replace(guider.step.consolidation, **changes)
            )
        elif step_kind == "paper":
            guider.step = dataclasses.replace(guider.step, consolidation=blending.PAPER, rendered_initial_noise=False)
        elif step_kind == "plain":
            guider.step = PlainAverage(layout, consolidation=blending.PAPER, rendered_initial_noise=False)
        return guider

    def independent_guider():
        guider = comfy.samplers.CFGGuider(model)
        guider.set_conds(nothing, nothing)
        guider.set_cfg(1.0)
        return guider

    def run(guider, name, sigmas, seed):
        noise = torch.randn(shape, generator=torch.Generator().manual_seed(seed))
        sampler = comfy.samplers.sampler_object(name)
        if guider_module.takes_noise_sampler(getattr(sampler, "sampler_function", lambda: None)):
            # The reference draws the very noise the zoom renders: the Brownian tree the guider uses, same seed.
            positive = sigmas[sigmas > 0]
            tree = comfy.k_diffusion.sampling.BrownianTreeNoiseSampler(
                noise, positive.min(), positive.max(), seed=seed, cpu=True
            )
            fresh = torch.Generator().manual_seed(seed)

            def draw(sigma, sigma_next):
                # As the zoom's rendered noise does: an empty interval (SEEDS-2 with r = 1 asks for one) is
                # NaN from the tree, and recurses without end below its tolerance; a fresh draw stands in.
                if noise_module.is_empty_interval(sigma, sigma_next):
                    return torch.randn(noise.shape, generator=fresh).to(noise)
                return tree(sigma, sigma_next)

            options = {**sampler.extra_options, "noise_sampler": draw}
            sampler = comfy.samplers.KSAMPLER(sampler.sampler_function, options, dict(sampler.inpaint_options))
        calls.clear()
        with torch.inference_mode():
            result = guider.sample(noise, torch.zeros(shape), sampler, sigmas, disable_pbar=True, seed=seed)
        return result.double(), sum(calls)

    log.info(
        "%d levels of %d x %d latents, %d independent fields each, Karras schedule, cfg 1, %d seed(s); "
        "torch %s, %d threads",
        args.levels,
        args.size,
        args.size,
        args.channels,
        args.seeds,
        torch.__version__,
        torch.get_num_threads(),
    )
    for zoom_factor, layout_name in itertools.product(args.zoom_factors, args.layouts):
        targets = LAYOUTS[layout_name]
        layout = blending.ZoomLayout(
            zoom_factor, targets=tuple(targets[i % len(targets)] for i in range(args.levels - 1))
        )
        truth = prior.consistent_stack(args.levels, args.channels, layout, torch.Generator().manual_seed(0))
        exact = prior.sample(shape, torch.Generator().manual_seed(1))
        log.info("")
        log.info(
            "zoom factor %d, %s layout; octave groups %s", zoom_factor, layout_name, octave_groups(zoom_factor, octaves)
        )
        log.info(
            "exact consistent stacks:     seam high   mid   low  = %s",
            figures(truth, exact, layout, octaves, 0).row(False),
        )
        log.info(
            "independent exact samples:   seam %5.2f",
            seam_ratio(blending.render_image(exact, layout, ring_width=0), layout),
        )
        log.info(
            "%-26s %5s | %-29s | %-23s | %-23s | %5s | %s",
            "sampler",
            "steps",
            "pack: seam high  mid   low  calls",
            "paper: seam high mid low",
            "plain avg: seam high mid low",
            "indep",
            "s",
        )
        if args.per_octave:
            # Octave b of level i is seen by level i - k when b >= k log2 p and k is within the blending depth.
            depth = layout.blend_depth(args.size, args.size, args.levels)
            several = 2 * layout.octaves_per_level if depth >= 2 else None
            log.info(
                "%-26s %5s | each deeper level: octave 0 (finest) … %d, median (min-max) over %d seed(s)",
                "sampler",
                "steps",
                octaves,
                args.seeds,
            )

            # What an exact joint sampler shows: exact consistent stacks over independent exact samples, drawn
            # with unrelated noise, so their spread is wider than that of a sampler against itself.
            exact_ratios = []
            for seed in range(args.seeds):
                generator = torch.Generator().manual_seed(1000 + seed)
                stack = prior.consistent_stack(args.levels, args.channels, layout, generator)
                exact_ratios.append(band_energy(stack, octaves) / band_energy(prior.sample(shape, generator), octaves))
            log_octave_rows("exact consistent stacks", "", torch.stack(exact_ratios), several)
            for name in samplers:
                for steps in args.steps:
                    sigmas = comfy.samplers.calculate_sigmas(sampling, "karras", steps)
                    ratios, seams = [], []
                    for seed in range(args.seeds):
                        reference, _ = run(independent_guider(), name, sigmas, seed)
                        views, _ = run(zoom_guider("pack", layout), name, sigmas, seed)
                        ratios.append(band_energy(views, octaves) / band_energy(reference, octaves))
                        seams.append(level_seam_ratios(views, layout))
                    ratios, seams = torch.stack(ratios), torch.stack(seams)
                    log.info(
                        "%-26s %5d | seams of views 0..%d: %s",
                        name,
                        steps,
                        args.levels - 2,
                        " ".join(f"{seam:.2f}" for seam in seams.quantile(0.5, dim=0)),
                    )
                    log_octave_rows(name, steps, ratios, several)
            continue
        for name in samplers:
            for steps in args.steps:
                start = time.perf_counter()
                sigmas = comfy.samplers.calculate_sigmas(sampling, "karras", steps)
                results = {kind: [] for kind in ("pack", "paper", "plain")}
                independent_seams = []
                for seed in range(args.seeds):
                    reference, _ = run(independent_guider(), name, sigmas, seed)
                    independent_seams.append(seam_ratio(blending.render_image(reference, layout, ring_width=0), layout))
                    for kind in results:
                        views, count = run(zoom_guider(kind, layout), name, sigmas, seed)
                        results[kind].append(figures(views, reference, layout, octaves, count))
                mean = {
                    kind: Figures(
                        *(
                            statistics.mean(getattr(f, field.name) for f in runs)
                            for field in dataclasses.fields(Figures)
                        )
                    )
                    for kind, runs in results.items()
                }
                log.info(
                    "%-26s %5d | %s | %s | %s | %5.2f | %.1f",
                    name,
                    steps,
                    mean["pack"].row(),
                    mean["paper"].row(False),
                    mean["plain"].row(False),
                    statistics.mean(independent_seams),
                    time.perf_counter() - start,
                )


if __name__ == "__main__":
    main()
