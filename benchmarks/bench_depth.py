"""Depth without a memory wall: peak memory and time per step of Zoom KSampler for 4, 16 and 45 levels.

45 levels at zoom factor 8 span 8^45 ~ 10^40.6, the range of *Powers of Ten*
(1977). Each level count runs in a fresh subprocess (ComfyUI in-process on the
tiny SD1.5 test checkpoint, one CPU thread by default) at a cap of
``max_batch`` levels per model call, with 64 x 64 latents (512 px), and prints
peak RSS (the CUDA peak too when there is a GPU), the RSS growth while
sampling, and the time per step (median and fastest step), then the ratios
against the fewest levels: memory should stay within 1.5x, time per step grow
linearly with the levels. It also times the joint step alone (blend, render,
rendered noise) per level.

    python benchmarks/bench_depth.py [--levels 4 16 45] [--max-batch 4] [--steps 3] [--threads 1]
"""

import argparse
import json
import resource
import statistics
import subprocess
import sys
import time

import torch
from common import boot_comfyui, log, parse_arguments, tiny_zoom


def rss_mib() -> float:
    """This process's resident memory now, in MiB (Linux)."""
    with open("/proc/self/statm") as statm:
        return int(statm.read().split()[1]) * resource.getpagesize() / 2**20


def child(args) -> dict:
    """One level count, in this process: boot, sample, measure."""
    # PyTorch's attention, as ComfyUI picks on a GPU; on a CPU its default (sub-quadratic) takes gigabytes at 64 x 64.
    host = boot_comfyui(("--use-pytorch-cross-attention",))
    model, _, _, latent, _, plan = tiny_zoom(host, 8 * args.latent, args.count, "8")
    import comfy.sample
    import comfy.samplers

    samples = latent["samples"]
    noise = comfy.sample.prepare_noise(samples, 0)
    sigmas = comfy.samplers.KSampler(
        model, steps=args.steps, device="cpu", sampler="euler_ancestral", scheduler="karras"
    ).sigmas
    guider = host.pack.nodes.guider.make_zoom_guider(model, plan, 7.0, "bench_depth", max_batch=args.max_batch)
    step_times, last = [], [0.0]

    def callback(step, x0, x, total_steps):
        # Called once per step, after the joint step.
        now = time.perf_counter()
        step_times.append(now - last[0])
        last[0] = now

    before = rss_mib()
    if torch.cuda.is_available():
        torch.cuda.reset_peak_memory_stats()
    last[0] = time.perf_counter()
    guider.sample(noise, samples, comfy.samplers.sampler_object("euler_ancestral"), sigmas, callback=callback, seed=0)
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    cuda_peak = torch.cuda.max_memory_allocated() / 2**20 if torch.cuda.is_available() else None
    joint = joint_step_time(host, args)
    return {
        "levels": args.count,
        "peak_rss_mib": peak,
        "rss_before_sampling_mib": before,
        "cuda_peak_mib": cuda_peak,
        "step_median_s": statistics.median(step_times),
        "step_fastest_s": min(step_times),
        "joint_step_ms": joint,
    }


def joint_step_time(host, args) -> float:
    """Fastest of 5 joint steps (blend, render, rendered noise) on the stack, in ms."""
    sampler = host.pack.sampler
    step = sampler.JointStep(host.pack.blending.ZoomLayout(8))
    estimates = torch.randn(args.count, 4, args.latent, args.latent)
    noise = sampler.rendered_noise_sampler(estimates, step.layout, generator=torch.Generator().manual_seed(0))
    times = []
    for _ in range(5):
        start = time.perf_counter()
        step(estimates, 1.0)
        noise(1.0, 0.5)
        times.append(time.perf_counter() - start)
    return 1000 * min(times)


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--levels", type=int, nargs="*", default=[4, 16, 45])
    parser.add_argument("--max-batch", type=int, default=4)
    parser.add_argument("--latent", type=int, default=64, help="latent pixels per side")
    parser.add_argument("--steps", type=int, default=3)
    parser.add_argument("--count", type=int, help=argparse.SUPPRESS)
    args = parse_arguments(parser, threads=1)
    if args.count is not None:
        print(json.dumps(child(args)))
        return
    results = []
    for count in args.levels:
        command = [sys.executable, __file__, "--count", str(count), "--max-batch", str(args.max_batch)]
        command += ["--latent", str(args.latent), "--steps", str(args.steps), "--threads", str(args.threads)]
        output = subprocess.run(command, check=True, capture_output=True, text=True).stdout
        results.append(json.loads(output.strip().splitlines()[-1]))
        result = results[-1]
        log.info(
            "%3d levels: peak RSS %6.0f MiB (%+5.0f while sampling)%s, step %6.2f s median, %6.2f s fastest, "
            "%5.2f s per level; joint step %5.1f ms (%.2f ms per level)",
            count,
            result["peak_rss_mib"],
            result["peak_rss_mib"] - result["rss_before_sampling_mib"],
            "" if result["cuda_peak_mib"] is None else f", CUDA peak {result['cuda_peak_mib']:.0f} MiB",
            result["step_median_s"],
            result["step_fastest_s"],
            result["step_median_s"] / count,
            result["joint_step_ms"],
            result["joint_step_ms"] / count,
        )
    first = results[0]
    for result in results[1:]:
        log.info(
            "%3d vs %d levels: peak RSS x%.2f (target <= 1.5), step time x%.2f for x%.2f levels (per level x%.2f)",
            result["levels"],
            first["levels"],
            result["peak_rss_mib"] / first["peak_rss_mib"],
            result["step_median_s"] / first["step_median_s"],
            result["levels"] / first["levels"],
            (result["step_median_s"] / result["levels"]) / (first["step_median_s"] / first["levels"]),
        )


if __name__ == "__main__":
    main()
