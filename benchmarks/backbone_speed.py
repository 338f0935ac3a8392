"""Throughput of each backbone as the package's loops run it, per precision: inference, a training
step (every weight) and an untraining step (the WF model, alpha only, rows mixed in the batch).

Every precision of a backbone is timed in the same run, interleaved (``--rounds``), so the ratios
hold under a machine's varying load even where the absolute numbers do not.
Usage: python benchmarks/backbone_speed.py [--device cpu] [--precision fp32 bf16] [--size 28|32]
[--batch 128] [--width 1.0] [--backbones resnet18 vit_tiny]."""

from __future__ import annotations

import argparse
import time

import torch
import torch.nn.functional as F
from _timing import median_seconds

from wfnet import create_backbone, wrap
from wfnet.provenance import device_name, git_commit, resolve_device
from wfnet.runtime import autocast, cpu_has_native_bf16, resolve_precision, use_fast_kernels


def steps(name: str, chans: int, size: int, width: float, batch: int, device: torch.device, precision: str):
    """(inference, training step, untraining step) closures of one backbone at one precision, each
    as the package runs it (channels_last, eval-mode inference, SGD; fused SGD on a GPU)."""
    torch.manual_seed(0)
    model = create_backbone(name, 10, chans, size, width).to(device).to(memory_format=torch.channels_last)
    wf = wrap(model, 10).to(device)
    gpu = {"fused": True} if device.type == "cuda" else {}
    opt = torch.optim.SGD(model.parameters(), lr=0.01, momentum=0.9, **gpu)
    opt_wf = torch.optim.SGD(wf.alphas(), lr=100.0)
    x = torch.randn(batch, chans, size, size, device=device).contiguous(memory_format=torch.channels_last)
    y = torch.randint(0, 10, (batch,), device=device)
    rows = torch.randint(0, 10, (batch,), device=device)

    def infer() -> None:
        model.eval()
        with torch.no_grad(), autocast(device, precision):
            model(x)

    def train() -> None:
        model.train()
        with autocast(device, precision):
            loss = F.cross_entropy(model(x), y)
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()

    def untrain() -> None:
        with autocast(device, precision):
            loss = F.cross_entropy(wf.forward_rows(x, rows).float(), y)
        opt_wf.zero_grad(set_to_none=True)
        loss.backward()
        opt_wf.step()

    return {"infer": infer, "train": train, "untrain": untrain}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--device", default="auto")
    ap.add_argument("--precision", nargs="+", default=["fp32", "bf16"], choices=("auto", "fp32", "bf16"))
    ap.add_argument("--batch", type=int, default=None, help="default: 512 on a GPU, 128 on a CPU")
    ap.add_argument("--size", type=int, default=28, choices=(28, 32), help="28: 1x28x28 (MNIST); 32: 3x32x32")
    ap.add_argument("--width", type=float, default=1.0, help="channel multiplier (the smoke preset: 0.125)")
    ap.add_argument("--backbones", nargs="+", default=["resnet18", "vgg16", "vit_tiny", "vit_small"])
    ap.add_argument("--repeat", type=int, default=3, help="timed calls per round (median)")
    ap.add_argument("--rounds", type=int, default=3, help="interleaved rounds over the precisions (best kept)")
    ap.add_argument("--threads", type=int, default=None)
    args = ap.parse_args()
    device = resolve_device(args.device)
    if args.threads:
        torch.set_num_threads(args.threads)
    use_fast_kernels(device)
    batch = args.batch or (512 if device.type == "cuda" else 128)
    chans = 3 if args.size == 32 else 1
    precisions = list(dict.fromkeys(resolve_precision(p, device) for p in args.precision))
    print(f"# backbone speed, batch {batch}, {chans}x{args.size}x{args.size}, width {args.width:g}, channels_last, "
          f"{device_name(device)} (native bf16: {cpu_has_native_bf16() if device.type == 'cpu' else 'cuda'}), "
          f"torch {torch.__version__}, commit {git_commit()[:12]}, {time.strftime('%Y-%m-%d')}")
    kinds = ("infer", "train", "untrain")
    head = ["backbone"] + [f"{k} {p} img/s" for k in kinds for p in precisions]
    if len(precisions) == 2:
        head += [f"{k} {precisions[1]}/{precisions[0]}" for k in kinds]
    print("| " + " | ".join(head) + " |")
    print("|---|" + "---:|" * (len(head) - 1))
    for name in args.backbones:
        fns = {p: steps(name, chans, args.size, args.width, batch, device, p) for p in precisions}
        best = {(k, p): float("inf") for k in kinds for p in precisions}
        for _ in range(args.rounds):  # interleaved: each round times every precision once
            for k in kinds:
                for p in precisions:
                    best[k, p] = min(best[k, p], median_seconds(fns[p][k], device, warmup=1, repeat=args.repeat))
        cells = [f"{batch / best[k, p]:.0f}" for k in kinds for p in precisions]
        if len(precisions) == 2:
            cells += [f"{best[k, precisions[0]] / best[k, precisions[1]]:.2f}x" for k in kinds]
        print(f"| {name} | " + " | ".join(cells) + " |", flush=True)


if __name__ == "__main__":
    main()
