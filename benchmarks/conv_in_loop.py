"""Convolution gradient steps inside a compiled loop on XLA:CPU: JAX's own against ``layers.conv``.

XLA:CPU rewrites a convolution into the layout its fast kernels take only outside loops, so the
gradient convolutions JAX emits run slowly inside a ``lax.fori_loop`` / ``while_loop`` body, and
the compiled training run is such a loop. ``jeeg.models.layers.conv`` writes its gradients as
convolutions in that layout. For a 1-D convolution of (16, 640, 64) trials with a (25, 64, 32)
kernel, this times 4 gradient-descent steps on the kernel

* as 4 calls of one jitted step (*plain*), and
* as one jitted ``lax.fori_loop`` of 4 steps (*loop*),

each with ``lax.conv_general_dilated`` (JAX's gradients) and with ``layers.conv``, as the median
of 5 runs after a warm-up, in interleaved pairs (loop against plain). Writes
``<out>/<device>/conv_in_loop.json``.

Usage::

    python benchmarks/conv_in_loop.py [--out benchmarks/results]
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from harness import interleaved_pairs, log, wall_timer, write_result  # noqa: E402

STEPS = 4


def run(out=None, pairs: int = 5) -> dict:
    import jax
    import jax.numpy as jnp

    from jeeg.models.layers import conv

    x = jnp.ones((16, 640, 64)) * 0.1
    w = jnp.ones((25, 64, 32)) * 0.01
    forms = {
        "jax": lambda w, x: jax.lax.conv_general_dilated(x, w, (1,), [(12, 12)], dimension_numbers=("NWC", "WIO", "NWC")),
        "jeeg.models.layers.conv": lambda w, x: conv(x, w, (1,), ((12, 12),), (1,)),
    }
    rows = {}
    for name, f in forms.items():
        grad = jax.grad(lambda w, x, f=f: jnp.sum(f(w, x) ** 2))
        step = jax.jit(lambda w, x, grad=grad: w - 1e-6 * grad(w, x))
        loop = jax.jit(lambda w, x, grad=grad: jax.lax.fori_loop(0, STEPS, lambda i, w: w - 1e-6 * grad(w, x), w))

        def plain(w=w):
            for _ in range(STEPS):
                w = step(w, x)
            return w

        jax.block_until_ready((plain(), loop(w, x)))  # compile, warm up
        r = interleaved_pairs(wall_timer(plain), wall_timer(lambda: loop(w, x)), pairs)  # ratio: loop time / plain time
        rows[name] = {"plain_s_per_step": r["median_s"]["a"] / STEPS, "loop_s_per_step": r["median_s"]["b"] / STEPS,
                      "loop_over_plain": r["ratio_median"], "iqr": r["ratio_iqr"], "load_average": r["loadavg"]}
        log(f"{name:24s} plain {1e3 * rows[name]['plain_s_per_step']:8.2f} ms/step, in a loop "
            f"{1e3 * rows[name]['loop_s_per_step']:8.2f} ms/step ({r['ratio_median']:.1f}x)")
    result = {"shape": {"x": [16, 640, 64], "w": [25, 64, 32]}, "steps": STEPS, "pairs": pairs, "forms": rows}
    write_result("conv_in_loop", result, out)
    return result


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--out", default=None)
    args = ap.parse_args()
    run(args.out)


if __name__ == "__main__":
    main()
