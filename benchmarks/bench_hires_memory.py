"""Hi-res zooms in bounded memory: peak memory of a 2x refine against the 1x sampling run it refines.

Each run is a fresh subprocess (ComfyUI in-process on the tiny SD1.5 test
checkpoint, PyTorch attention, one CPU thread by default) and prints its peak
RSS (and the CUDA peak where there is a GPU) and the growth over the RSS with
the model loaded:

- ``1x``: Zoom KSampler over N levels of ``--latent``² from an empty latent,
  ``--max-batch`` levels per model call, then VAE Decode: a usual zoom.
- ``2x``: a finished 1x zoom (random latents: memory does not depend on what
  they show) through Upscale Zoom Latent x2, refined by Zoom KSampler at
  ``--denoise`` with ``--hires-max-batch`` levels per call (a 2x level holds 4x
  the pixels), then VAE Decode (Tiled): what hires_zoom does.

The ratio of the 2x run's peak to the 1x run's is the figure (target: at most 1.5); the peaks of the
sampling alone, before decoding, are printed beside it.

    python benchmarks/bench_hires_memory.py [--levels 4] [--latent 64] [--max-batch 4] [--hires-max-batch 1 2]
"""

import argparse
import json
import resource
import subprocess
import sys

import torch
from bench_depth import rss_mib
from common import boot_comfyui, log, parse_arguments, tiny_zoom


def child(args) -> dict:
    """One run, in this process: boot, load, sample (or upscale and refine), decode, measure."""
    host = boot_comfyui(("--use-pytorch-cross-attention",))
    mappings, core = host.NODE_CLASS_MAPPINGS, host.nodes
    model, _, vae, latent, zoom, plan = tiny_zoom(host, 8 * args.latent, args.levels, "2")
    settings = {"seed": 0, "steps": args.steps, "cfg": 7.0, "sampler_name": "euler_ancestral", "scheduler": "karras"}
    before = rss_mib()
    if torch.cuda.is_available():
        torch.cuda.reset_peak_memory_stats()
    if args.run == "1x":
        sampled = (
            mappings["P10_ZoomKSampler"]
            .execute(
                model=model, zoom_plan=plan, latent_image=latent, denoise=1.0, max_batch=args.max_batch, **settings
            )
            .result[0]
        )
        sampling_peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
        core.VAEDecode().decode(vae, sampled)
    else:
        finished = {"samples": torch.randn_like(latent["samples"])}
        larger = mappings["P10_UpscaleZoomLatent"].execute(latent=finished, zoom=zoom, scale_by="2").result[0]
        refined = (
            mappings["P10_ZoomKSampler"]
            .execute(
                model=model,
                zoom_plan=plan,
                latent_image=larger,
                denoise=args.denoise,
                max_batch=args.hires_max_batch,
                **settings,
            )
            .result[0]
        )
        sampling_peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
        core.VAEDecodeTiled().decode(vae, refined, tile_size=512, overlap=64, temporal_size=64, temporal_overlap=8)
    return {
        "run": args.run,
        "peak_rss_mib": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
        "sampling_peak_rss_mib": sampling_peak,
        "rss_before_mib": before,
        "cuda_peak_mib": torch.cuda.max_memory_allocated() / 2**20 if torch.cuda.is_available() else None,
    }


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--levels", type=int, default=4)
    parser.add_argument("--latent", type=int, default=64, help="latent pixels per side at 1x")
    parser.add_argument("--steps", type=int, default=4)
    parser.add_argument("--denoise", type=float, default=0.5)
    parser.add_argument("--max-batch", type=int, default=4, help="levels per model call at 1x")
    parser.add_argument("--hires-max-batch", type=int, nargs="+", default=[1, 2], help="levels per call at 2x")
    parser.add_argument("--run", choices=("1x", "2x"), help=argparse.SUPPRESS)
    args = parse_arguments(parser, threads=1)
    if args.run is not None:
        args.hires_max_batch = args.hires_max_batch[0]
        print(json.dumps(child(args)))
        return
    common = ["--threads", str(args.threads)]
    for name in ("levels", "latent", "steps", "denoise", "max_batch"):
        common += [f"--{name.replace('_', '-')}", str(getattr(args, name))]
    low = run_child(["--run", "1x", *common], "1x")
    for max_batch in args.hires_max_batch:
        high = run_child(["--run", "2x", "--hires-max-batch", str(max_batch), *common], f"2x, max_batch {max_batch}")
        log.info(
            "2x refine (%d levels of %d², max_batch %d) vs 1x run (max_batch %d): peak RSS x%.2f (target <= 1.5), "
            "sampling alone x%.2f, growth x%.2f",
            args.levels,
            2 * args.latent,
            max_batch,
            args.max_batch,
            high["peak_rss_mib"] / low["peak_rss_mib"],
            high["sampling_peak_rss_mib"] / low["sampling_peak_rss_mib"],
            (high["peak_rss_mib"] - high["rss_before_mib"]) / (low["peak_rss_mib"] - low["rss_before_mib"]),
        )


def run_child(arguments: list[str], label: str) -> dict:
    """One run in a fresh subprocess; logs and returns its figures."""
    command = [sys.executable, __file__, *arguments]
    result = json.loads(subprocess.run(command, check=True, capture_output=True, text=True).stdout.splitlines()[-1])
    log.info(
        "%s: peak RSS %6.0f MiB (sampling alone %6.0f; %+5.0f over the loaded model)%s",
        label,
        result["peak_rss_mib"],
        result["sampling_peak_rss_mib"],
        result["peak_rss_mib"] - result["rss_before_mib"],
        "" if result["cuda_peak_mib"] is None else f", CUDA peak {result['cuda_peak_mib']:.0f} MiB",
    )
    return result


if __name__ == "__main__":
    main()
