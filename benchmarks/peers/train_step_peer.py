#!/usr/bin/env python3
"""Time one PyTorch training step of a peer model (runs inside the peers venv, not jeeg's).

Called by ``benchmarks/train_steps.py`` through ``harness.run_peer``::

    "$PY" benchmarks/peers/train_step_peer.py --threads 2 --config '{"pair": "eegnet", "batch": 64,
        "input_shape": [64, 640], "n_classes": 2, "lr": 1e-3, "weight_decay": 1e-4, "repeats": 5}'

Pairs and the peer each builds (every other constructor argument at its default):

* ``eegnet``: ``braindecode.models.EEGNetv4(n_chans, n_outputs, n_times)`` (logits; its
  spatial max-norm renorm runs inside ``forward``);
* ``sst_emotionnet``: ``torcheeg.models.SSTEmotionNet(grid_size, spectral_in_channels,
  temporal_in_channels, num_classes)`` (logits), input (batch, 5 + 25, H, W);
* ``msc_transformer_vs_eegconformer``: ``braindecode.models.EEGConformer(n_chans, n_outputs,
  n_times, final_fc_length="auto", add_log_softmax=False)`` (logits);
* ``utime``: ``utime_peer.UTime(n_chans, n_outputs, n_times, **model_kwargs)``, this directory's
  PyTorch twin of jeeg's U-Time (Perslev et al. 2019, arXiv 1910.11162, as modified by Joshi et
  al., arXiv 2112.07252; checked equal to jeeg's by ``tests/test_utime_parity.py``), input
  (batch, n_chans, n_times), e.g. ``"input_shape": [1, 6000]`` (30 s at 200 Hz; n_times must be a
  multiple of prod(pools), 48 by default); ``model_kwargs`` (optional) are further constructor
  arguments (filters, pools, kernel_size, dilation, dec_kernel_size, dec_dilation).

The timed step is, in train mode, ``optimizer.zero_grad(set_to_none=True)`` → forward →
``CrossEntropyLoss`` → ``backward`` → ``optimizer.step()`` with ``torch.optim.AdamW(lr,
weight_decay)``, on one fixed synthetic batch (inputs N(0, 1), labels uniform, from
``torch.Generator().manual_seed(seed)``) already on the device. ``warmup`` steps first, then the
median of ``repeats`` single-step wall times (``torch.cuda.synchronize`` around each step on a
GPU). ``torch.set_num_threads(--threads)``.

Prints ONE JSON object as the last stdout line: the config, ``step_s``, ``samples_per_s``,
``times_s`` (every repeat), ``n_params``, ``device``, ``threads`` and the torch / braindecode /
torcheeg versions.

``--serve`` (a long-lived peer, ``harness.PeerProcess``): builds the model and batch once, runs
the ``warmup`` steps, prints one JSON line ``{"ready": true, ...}`` (``n_params``, ``device``,
``device_name``, ``threads``, ``interop_threads``, ``versions``), then reads commands from stdin,
one a line: ``step N`` runs N train steps and answers one JSON line ``{"wall_s": seconds for the
N steps, synchronised, "loss": last loss}``; ``quit`` (or end of input) exits 0. A bad command
answers ``{"error": "..."}``; a non-finite loss ends the process with status 1. The timing is taken
inside the peer, so the pipe's latency is not part of it.

``--config '{"matmul": N, "repeats": R}'``: instead of a model, time ``a @ b`` of two float32
N x N matrices on the device ``R`` times (after one warm-up) and print ``{"matmul": N,
"times_s": [...], "best_s": ..., "gflop_per_s": 2 N³ / best_s / 1e9, "threads": ...}``: the
arithmetic rate torch reaches on this machine at its most favourable, a reference for the train
steps' GFLOP/s (``benchmarks/train_steps.py``).
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import time
import warnings

import torch

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from _compat import import_torcheeg_models  # noqa: E402

PAIRS = ("eegnet", "sst_emotionnet", "msc_transformer_vs_eegconformer", "utime")


def build(cfg: dict) -> torch.nn.Module:
    """The peer model of ``cfg["pair"]`` at ``cfg``'s input shape and class count."""
    pair, shape, n_classes = cfg["pair"], cfg["input_shape"], int(cfg["n_classes"])
    if pair == "sst_emotionnet":
        models = import_torcheeg_models()
        n_spec = int(cfg.get("spectral_in_channels", 5))
        return models.SSTEmotionNet(grid_size=(shape[1], shape[2]), spectral_in_channels=n_spec,
                                    temporal_in_channels=shape[0] - n_spec, num_classes=n_classes,
                                    **cfg.get("model_kwargs", {}))
    n_chans, n_times = shape
    if pair == "utime":
        from utime_peer import UTime

        return UTime(n_chans=n_chans, n_outputs=n_classes, n_times=n_times, **cfg.get("model_kwargs", {}))
    from braindecode.models import EEGConformer, EEGNetv4

    if pair == "eegnet":
        return EEGNetv4(n_chans=n_chans, n_outputs=n_classes, n_times=n_times)
    if pair == "msc_transformer_vs_eegconformer":
        return EEGConformer(n_chans=n_chans, n_outputs=n_classes, n_times=n_times, final_fc_length="auto",
                            add_log_softmax=False)
    raise SystemExit(f"unknown pair {pair!r}; known: {', '.join(PAIRS)}")


def versions() -> dict:
    out = {"torch": torch.__version__}
    for name in ("braindecode", "torcheeg", "numpy"):
        try:
            out[name] = __import__(name).__version__
        except Exception as e:  # pragma: no cover - a missing peer package
            out[name] = f"unavailable ({type(e).__name__})"
    return out


def _sync_of(device: torch.device):
    """A function that waits for ``device`` (``torch.cuda.synchronize`` on a GPU, nothing on a CPU)."""
    return torch.cuda.synchronize if device.type == "cuda" else (lambda: None)


def _wall_times(fn, sync, repeats: int, warmup: int) -> tuple[list[float], object]:
    """``fn()`` ``warmup`` times, then ``repeats`` (≥ 1) timed calls, each synchronised (``sync``);
    returns the wall times in s and the last call's result."""
    out = None
    for _ in range(max(0, warmup)):
        out = fn()
    sync()
    times = []
    for _ in range(max(1, repeats)):
        t0 = time.perf_counter()
        out = fn()
        sync()
        times.append(time.perf_counter() - t0)
    return times, out


def make_step(cfg: dict, device: torch.device):
    """Model, fixed batch and optimiser of ``cfg``; returns ``(step, sync, model)`` where ``step()``
    runs one train step and returns its loss tensor and ``sync()`` waits for the device."""
    seed = int(cfg.get("seed", 0))
    torch.manual_seed(seed)
    model = build(cfg).to(device)
    model.train()
    gen = torch.Generator().manual_seed(seed + 1)
    B = int(cfg["batch"])
    x = torch.randn((B, *cfg["input_shape"]), generator=gen).to(device)
    y = torch.randint(0, int(cfg["n_classes"]), (B,), generator=gen).to(device)
    opt = torch.optim.AdamW(model.parameters(), lr=float(cfg["lr"]), weight_decay=float(cfg["weight_decay"]))
    loss_fn = torch.nn.CrossEntropyLoss()
    sync = _sync_of(device)

    def step():
        opt.zero_grad(set_to_none=True)
        loss = loss_fn(model(x), y)
        loss.backward()
        opt.step()
        return loss

    return step, sync, model


def _check(cfg: dict, loss) -> None:
    if not torch.isfinite(loss.detach()).item():
        raise SystemExit(f"{cfg['pair']}: non-finite loss {loss.item()}")


def _device_info(model: torch.nn.Module, device: torch.device) -> dict:
    return {"n_params": sum(p.numel() for p in model.parameters()), "device": str(device),
            "device_name": torch.cuda.get_device_name(device) if device.type == "cuda" else "cpu"}


def time_step(cfg: dict, device: torch.device) -> dict:
    step, sync, model = make_step(cfg, device)
    times, loss = _wall_times(step, sync, int(cfg.get("repeats", 5)), int(cfg.get("warmup", 2)))
    _check(cfg, loss)
    step_s = statistics.median(times)
    B = int(cfg["batch"])
    return {**cfg, "step_s": step_s, "samples_per_s": B / step_s, "times_s": times, **_device_info(model, device)}


def time_matmul(cfg: dict, device: torch.device) -> dict:
    """The ``{"matmul": N}`` config (module docstring): best of ``repeats`` float32 N x N matmuls."""
    n = int(cfg["matmul"])
    g = torch.Generator().manual_seed(int(cfg.get("seed", 0)))
    a, b = (torch.randn(n, n, generator=g).to(device) for _ in range(2))
    times, _ = _wall_times(lambda: torch.matmul(a, b), _sync_of(device), int(cfg.get("repeats", 7)), 1)
    return {"matmul": n, "times_s": times, "best_s": min(times), "gflop_per_s": 2 * n**3 / min(times) / 1e9,
            "device": str(device)}


def serve(cfg: dict, device: torch.device, stdin=sys.stdin, stdout=sys.stdout) -> None:
    """The ``--serve`` loop (module docstring): ready line, then ``step N`` / ``quit`` commands."""
    step, sync, model = make_step(cfg, device)
    loss = None
    for _ in range(max(0, int(cfg.get("warmup", 2)))):
        loss = step()
    sync()
    if loss is not None:
        _check(cfg, loss)

    def say(obj: dict) -> None:
        stdout.write(json.dumps(obj) + "\n")
        stdout.flush()

    say({"ready": True, **_device_info(model, device), "threads": torch.get_num_threads(),
         "interop_threads": torch.get_num_interop_threads(), "versions": versions()})
    for line in stdin:
        words = line.split()
        if not words:
            continue
        if words == ["quit"]:
            return
        if words[0] != "step" or len(words) != 2 or not words[1].isdigit() or int(words[1]) < 1:
            say({"error": f"unknown command {line.strip()!r}; expected 'step N' (N >= 1) or 'quit'"})
            continue
        t0 = time.perf_counter()
        for _ in range(int(words[1])):
            loss = step()
        sync()
        wall = time.perf_counter() - t0
        _check(cfg, loss)
        say({"wall_s": wall, "loss": float(loss.detach())})


def main(argv=None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--threads", type=int, required=True, help="torch.set_num_threads(N): JAX's core count")
    ap.add_argument("--config", required=True, help="JSON object (see the module docstring)")
    ap.add_argument("--device", default="auto", help="auto (cuda if torch sees one, else cpu), cpu or cuda")
    ap.add_argument("--serve", action="store_true", help="long-lived: answer 'step N' lines on stdin (docstring)")
    args = ap.parse_args(argv)
    torch.set_num_threads(args.threads)
    warnings.filterwarnings("ignore")  # braindecode 0.8.1's LogSoftmax deprecation notice
    cfg = json.loads(args.config)
    if args.device == "auto":
        device = torch.device("cuda" if torch.cuda.is_available() else "cpu")
    else:
        device = torch.device(args.device)
    if args.serve:
        serve(cfg, device)
        return
    out = time_matmul(cfg, device) if "matmul" in cfg else time_step(cfg, device)
    out.update(threads=torch.get_num_threads(), interop_threads=torch.get_num_interop_threads(), versions=versions())
    print(json.dumps(out), flush=True)


if __name__ == "__main__":
    main()
