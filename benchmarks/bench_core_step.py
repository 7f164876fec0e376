"""Time one joint-sampling step's consistency work: blend + render + rendered noise.

Prints, for N = 8 and N = 16 levels of (4, 128, 128) latents at zoom factor 2,
the median and fastest time of ``consolidate_estimates`` (blend then render)
plus one draw of rendered noise, and the N = 16 / N = 8 ratios of the medians and of
the fastest runs (linear growth in N gives ratios near 2). The two sizes are timed
turn about, so that other load on a shared machine falls on both alike.

    python benchmarks/bench_core_step.py [--repeats 50] [--device cpu] [--threads N]
"""

import argparse
import statistics
import time

import torch
from common import load_pack, log, parse_arguments


def step_ms(functions, repeats, device) -> list[tuple[float, float]]:
    """Median and fastest time in ms of each of ``functions``, run turn about ``repeats`` times after 3 warm-ups."""
    times = [[] for _ in functions]
    for _ in range(repeats + 3):
        for function, taken in zip(functions, times):
            if device.type == "cuda":
                torch.cuda.synchronize()
            start = time.perf_counter()
            function()
            if device.type == "cuda":
                torch.cuda.synchronize()
            taken.append((time.perf_counter() - start) * 1e3)
    return [(statistics.median(taken[3:]), min(taken[3:])) for taken in times]


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=50)
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--dtype", default="float32", choices=["float32", "float16", "bfloat16"])
    args = parse_arguments(parser)
    load_pack()
    from powers_of_ten.blending import consolidate_estimates
    from powers_of_ten.sampler import rendered_noise_sampler

    device, dtype = torch.device(args.device), getattr(torch, args.dtype)
    log.info("torch %s, %d threads, device %s, dtype %s", torch.__version__, torch.get_num_threads(), device, dtype)
    sizes = (8, 16)
    steps = []
    for levels in sizes:
        estimates = torch.randn(levels, 4, 128, 128, device=device, dtype=dtype)
        noise_sampler = rendered_noise_sampler(estimates, 2, generator=torch.Generator(device).manual_seed(0))

        def step(estimates=estimates, noise_sampler=noise_sampler):
            consolidate_estimates(estimates, 2)
            noise_sampler(1.0, 0.5)

        steps.append(step)
    medians, fastests = {}, {}
    for levels, (median, fastest) in zip(sizes, step_ms(steps, args.repeats, device)):
        medians[levels], fastests[levels] = median, fastest
        log.info(
            "N = %2d levels: blend + render + rendered noise, median %.2f ms, fastest %.2f ms per step",
            levels,
            median,
            fastest,
        )
    log.info(
        "ratio N=16 / N=8: medians %.2f, fastest %.2f (linear growth: about 2)",
        medians[16] / medians[8],
        fastests[16] / fastests[8],
    )


if __name__ == "__main__":
    main()
