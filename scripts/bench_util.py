"""Shared timing loop of the `bench_*_torch.py` scripts."""

import time


def timeit(fn, min_time=5.0, warmup=2):
    for _ in range(warmup):
        fn()
    times = []
    start = time.perf_counter()
    while time.perf_counter() - start < min_time or len(times) < 5:
        t = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t)
    return 1000 * sum(times) / len(times), len(times)
