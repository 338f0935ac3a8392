"""Training throughput of each backbone on MNIST-size input (1x28x28), and the epoch times
that follow. Usage: python benchmarks/backbone_speed.py [--device cpu] [--batch 128]."""

from __future__ import annotations

import argparse

import torch
import torch.nn.functional as F

from _timing import median_seconds
from wfnet.backbones import create_backbone
from wfnet.provenance import device_name, git_commit, resolve_device

EPOCH_SIZES = {"MNIST (60,000)": 60000, "MNIST here (17,435)": 17435, "mnist-5k (4,000)": 4000}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--device", default="auto")
    ap.add_argument("--batch", type=int, default=128)
    ap.add_argument("--backbones", nargs="+", default=["vgg16", "resnet18", "vit_tiny", "vit_small"])
    args = ap.parse_args()
    device = resolve_device(args.device)
    print(f"# backbone training speed, batch {args.batch}, fp32, 1x28x28, {device_name(device)}, commit {git_commit()[:12]}")
    print("| backbone | img/s | " + " | ".join(f"epoch {k}" for k in EPOCH_SIZES) + " |")
    print("|---|---:|" + "---:|" * len(EPOCH_SIZES))
    for name in args.backbones:
        torch.manual_seed(0)
        model = create_backbone(name, 10, 1, 28).to(device).train()
        if not name.startswith("vit"):
            model = model.to(memory_format=torch.channels_last)
        opt = torch.optim.SGD(model.parameters(), lr=0.01)
        x = torch.randn(args.batch, 1, 28, 28, device=device)
        y = torch.randint(0, 10, (args.batch,), device=device)

        def step() -> None:
            opt.zero_grad(set_to_none=True)
            F.cross_entropy(model(x), y).backward()
            opt.step()

        ips = args.batch / median_seconds(step, device, warmup=1, repeat=3)
        cells = " | ".join(f"{n / ips / 60:.1f} min" for n in EPOCH_SIZES.values())
        print(f"| {name} | {ips:.0f} | {cells} |", flush=True)


if __name__ == "__main__":
    main()
