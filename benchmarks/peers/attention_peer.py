#!/usr/bin/env python3
"""Time PyTorch's ``scaled_dot_product_attention`` (runs inside the peers venv, not jeeg's).

Called by ``benchmarks/attention.py`` through ``harness.run_peer`` in the same benchmark run::

    "$PY" benchmarks/peers/attention_peer.py --threads 2 \
        --sizes '[{"scale": "model", "batch": 16, "heads": 10, "tokens": 106, "head_dim": 1}]' \
        [--repeats 5] [--warmup 1] [--dtypes float32] [--device auto]

For every size, inputs q, k, v of shape (batch, heads, tokens, head_dim) drawn N(0, 1) from
``torch.Generator().manual_seed(seed)`` and already on the device, it times

* ``fwd``: ``F.scaled_dot_product_attention(q, k, v)`` under ``torch.no_grad()`` (default scale
  1/sqrt(head_dim), no mask, no dropout: what ``jax.nn.dot_product_attention`` computes);
* ``fwd+bwd``: the same with ``requires_grad`` inputs, then ``out.backward(g)`` for a fixed
  cotangent g (the gradients are set to None before each step).

``warmup`` untimed calls, then the median of ``repeats`` single-call wall times
(``torch.cuda.synchronize`` around each call on a GPU). ``torch.set_num_threads(--threads)``.
``--device auto`` is CUDA when torch sees one, else the CPU. Only float32 is meaningful on the CPU.

Prints ONE JSON object as the last stdout line: ``{"torch": version, "threads", "device",
"device_name", "repeats", "warmup", "results": [{"scale", "batch", "heads", "tokens",
"head_dim", "dtype", "pass", "time_s", "times_s", "memory_bytes"}, ...]}``; ``memory_bytes`` is
``torch.cuda.max_memory_allocated`` on a GPU, else null. A size that fails gets ``"error"``.
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import time

import torch
import torch.nn.functional as F

DTYPES = {"float32": torch.float32, "bfloat16": torch.bfloat16, "float16": torch.float16}


def _sync(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def _median_time(step, device: torch.device, repeats: int, warmup: int) -> tuple[float, list[float]]:
    for _ in range(warmup):
        step()
    _sync(device)
    times = []
    for _ in range(max(1, repeats)):
        _sync(device)
        t0 = time.perf_counter()
        step()
        _sync(device)
        times.append(time.perf_counter() - t0)
    return statistics.median(times), times


def time_size(size: dict, dtype: str, device: torch.device, repeats: int, warmup: int, seed: int) -> list[dict]:
    """Rows for one (size, dtype): the ``fwd`` and the ``fwd+bwd`` pass."""
    B, H, N, D = (int(size[k]) for k in ("batch", "heads", "tokens", "head_dim"))
    gen = torch.Generator().manual_seed(seed)
    q, k, v, g = (torch.randn(B, H, N, D, generator=gen).to(device=device, dtype=DTYPES[dtype]) for _ in range(4))
    base = {**size, "dtype": dtype}
    rows = []

    def fwd():
        with torch.no_grad():
            return F.scaled_dot_product_attention(q, k, v)

    qg, kg, vg = (t.clone().requires_grad_(True) for t in (q, k, v))

    def fwd_bwd():
        for t in (qg, kg, vg):
            t.grad = None
        F.scaled_dot_product_attention(qg, kg, vg).backward(g)

    for name, step in (("fwd", fwd), ("fwd+bwd", fwd_bwd)):
        row = {**base, "pass": name}
        try:
            if device.type == "cuda":
                torch.cuda.reset_peak_memory_stats(device)
            row["time_s"], row["times_s"] = _median_time(step, device, repeats, warmup)
            row["memory_bytes"] = torch.cuda.max_memory_allocated(device) if device.type == "cuda" else None
        except Exception as exc:  # noqa: BLE001 - record (e.g. out of memory) and go on
            row.update(time_s=None, times_s=[], memory_bytes=None, error=f"{type(exc).__name__}: {exc}"[:500])
        rows.append(row)
        took = "error" if row["time_s"] is None else f"{row['time_s'] * 1e3:.3f} ms"
        print(f"torch sdpa {dtype:8s} {name:7s} B={B} H={H} N={N} D={D}: {took}", file=sys.stderr, flush=True)
    return rows


def main(argv=None) -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--threads", type=int, required=True, help="torch.set_num_threads(N)")
    p.add_argument("--sizes", required=True, help="JSON list of {scale, batch, heads, tokens, head_dim}")
    p.add_argument("--repeats", type=int, default=5)
    p.add_argument("--warmup", type=int, default=1)
    p.add_argument("--dtypes", default="float32", help=f"comma-separated subset of {', '.join(DTYPES)}")
    p.add_argument("--device", default="auto", help="auto, cpu or cuda")
    p.add_argument("--seed", type=int, default=0)
    args = p.parse_args(argv)
    torch.set_num_threads(args.threads)
    sizes = json.loads(args.sizes)
    dtypes = [d for d in args.dtypes.split(",") if d]
    bad = [d for d in dtypes if d not in DTYPES]
    if bad:
        p.error(f"unknown dtype(s) {bad}; choose from {', '.join(DTYPES)}")
    name = args.device if args.device != "auto" else ("cuda" if torch.cuda.is_available() else "cpu")
    device = torch.device(name)
    rows = []
    for size in sizes:
        for dtype in dtypes:
            rows += time_size(size, dtype, device, args.repeats, args.warmup, args.seed)
    print(json.dumps({
        "torch": torch.__version__,
        "threads": torch.get_num_threads(),
        "device": device.type,
        "device_name": torch.cuda.get_device_name(device) if device.type == "cuda" else "cpu",
        "repeats": args.repeats,
        "warmup": args.warmup,
        "results": rows,
    }))


if __name__ == "__main__":
    main()
