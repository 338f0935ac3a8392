"""Training throughput of each backbone as the training loop runs it (channels_last; bf16
autocast and fused SGD on a GPU), and the epoch times that follow.

Usage: python benchmarks/backbone_speed.py [--device cpu] [--batch 512] [--size 32|28] [--compile]
(default: the CIFAR-10 shape 3x32x32; --size 28 measures MNIST's 1x28x28)."""

from __future__ import annotations

import argparse
import time

import torch
import torch.nn.functional as F
from _timing import median_seconds

from wfnet.backbones import create_backbone
from wfnet.provenance import device_name, git_commit, resolve_device
from wfnet.runtime import autocast, use_fast_kernels

EPOCH_SIZES = {28: {"MNIST here (17,435)": 17435, "Fashion-MNIST (60,000)": 60000},
               32: {"CIFAR-10 (50,000)": 50000}}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--device", default="auto")
    ap.add_argument("--batch", type=int, default=None, help="default: 512 on a GPU, 128 on a CPU")
    ap.add_argument("--size", type=int, default=32, choices=(28, 32))
    ap.add_argument("--backbones", nargs="+", default=["vgg16", "resnet18", "vit_tiny", "vit_small"])
    ap.add_argument("--repeat", type=int, default=10)
    ap.add_argument("--compile", action="store_true", help="also time torch.compile (GPU; compile time reported)")
    args = ap.parse_args()
    device = resolve_device(args.device)
    use_fast_kernels(device)
    gpu = device.type == "cuda"
    batch = args.batch or (512 if gpu else 128)
    chans = 3 if args.size == 32 else 1
    sizes = EPOCH_SIZES[args.size]
    print(f"# backbone training speed, batch {batch}, {chans}x{args.size}x{args.size}, "
          f"{'bf16 autocast' if gpu else 'fp32'}, channels_last, {device_name(device)}, torch {torch.__version__}, "
          f"commit {git_commit()[:12]}")
    head = "| backbone | img/s | " + " | ".join(f"epoch {k}" for k in sizes) + " |"
    if args.compile:
        head += " compiled img/s | compile s |"
    print(head)
    print("|---|---:|" + "---:|" * len(sizes) + ("---:|---:|" if args.compile else ""))
    for name in args.backbones:
        torch.manual_seed(0)
        model = create_backbone(name, 10, chans, args.size).to(device).to(memory_format=torch.channels_last).train()
        opt = torch.optim.SGD(model.parameters(), lr=0.01, momentum=0.9, **({"fused": True} if gpu else {}))
        x = torch.randn(batch, chans, args.size, args.size, device=device).contiguous(memory_format=torch.channels_last)
        y = torch.randint(0, 10, (batch,), device=device)

        def stepper(m: torch.nn.Module):
            def step() -> None:
                with autocast(device, True):
                    loss = F.cross_entropy(m(x), y)
                opt.zero_grad(set_to_none=True)
                loss.backward()
                opt.step()
            return step

        ips = batch / median_seconds(stepper(model), device, warmup=3, repeat=args.repeat)
        cells = " | ".join(f"{n / ips:.1f} s" if gpu else f"{n / ips / 60:.1f} min" for n in sizes.values())
        row = f"| {name} | {ips:.0f} | {cells} |"
        if args.compile:
            compiled = torch.compile(model)
            t0 = time.perf_counter()
            stepper(compiled)()
            if gpu:
                torch.cuda.synchronize(device)
            compile_s = time.perf_counter() - t0
            row += f" {batch / median_seconds(stepper(compiled), device, warmup=3, repeat=args.repeat):.0f} | {compile_s:.0f} |"
        print(row, flush=True)


if __name__ == "__main__":
    main()
