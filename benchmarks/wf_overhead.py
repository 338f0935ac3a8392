"""What Weight Filtering costs: images/s of each backbone plain vs WF-wrapped, batch 256; WF
inference with one row for the whole batch (forget=c) and with rows mixed within the batch, and
one training step.

The WF training step is the untraining step (only alpha has gradients, rows mixed); the plain one
trains every weight. ``--no-fuse`` times the elementwise reference path instead of the fused
gates. Usage: python benchmarks/wf_overhead.py [--device cpu] [--batch 256] [--no-fuse]."""

from __future__ import annotations

import argparse

import torch
import torch.nn.functional as F
from _timing import median_seconds

from wfnet import create_backbone, wrap
from wfnet.provenance import device_name, git_commit, resolve_device
from wfnet.runtime import autocast, resolve_precision


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--device", default="auto")
    ap.add_argument("--batch", type=int, default=256)
    ap.add_argument("--size", type=int, default=32)
    ap.add_argument("--backbones", nargs="+", default=["resnet18", "vit_tiny", "vgg16", "vit_small"])
    ap.add_argument("--repeat", type=int, default=5)
    ap.add_argument("--no-fuse", action="store_true", help="time the unfused (reference) gates")
    ap.add_argument("--precision", default="auto", choices=("auto", "fp32", "bf16"),
                    help="auto: bf16 on CUDA or a CPU with native bf16, else fp32")
    args = ap.parse_args()
    device = resolve_device(args.device)
    precision = resolve_precision(args.precision, device)
    print(f"# WF overhead, batch {args.batch}, 3x{args.size}x{args.size}, {'unfused' if args.no_fuse else 'fused'} "
          f"gates, {device_name(device)}, torch {torch.__version__}, commit {git_commit()[:12]}")
    print("| backbone | precision | plain infer img/s | WF single-row infer img/s | single WF/plain time | WF mixed-rows "
          "infer img/s | mixed WF/plain time | plain train img/s | WF untrain img/s | train WF/plain time |")
    print("|---|---|---:|---:|---:|---:|---:|---:|---:|---:|")
    for name in args.backbones:
        torch.manual_seed(0)
        plain = create_backbone(name, 10, 3, args.size).to(device).eval()
        plain = plain.to(memory_format=torch.channels_last)
        wf = wrap(plain, 10, fuse=not args.no_fuse)
        x = torch.randn(args.batch, 3, args.size, args.size, device=device).contiguous(memory_format=torch.channels_last)
        y = torch.randint(0, 10, (args.batch,), device=device)
        rows = torch.randint(0, 10, (args.batch,), device=device)

        def infer(m, **kw):
            def run() -> None:
                with torch.no_grad(), autocast(device, precision):
                    m(x, **kw)
            return run

        def train_step(m, params, **kw):
            opt = torch.optim.SGD(params, lr=1e-3)
            def run() -> None:
                with autocast(device, precision):
                    loss = F.cross_entropy(m(x, **kw).float(), y)
                opt.zero_grad(set_to_none=True)
                loss.backward()
                opt.step()
            return run

        t_plain = median_seconds(infer(plain), device, repeat=args.repeat)
        t_single = median_seconds(infer(wf, forget=3), device, repeat=args.repeat)
        t_mixed = median_seconds(infer(wf, forget=rows), device, repeat=args.repeat)
        plain_train = create_backbone(name, 10, 3, args.size).to(device).to(memory_format=torch.channels_last).eval()
        tt_plain = median_seconds(train_step(plain_train, list(plain_train.parameters())), device, repeat=args.repeat)
        tt_wf = median_seconds(train_step(wf, wf.alphas(), forget=rows), device, repeat=args.repeat)
        b = args.batch
        print(f"| {name} | {precision} | {b / t_plain:.0f} | {b / t_single:.0f} | {t_single / t_plain:.3f} | {b / t_mixed:.0f} | "
              f"{t_mixed / t_plain:.3f} | {b / tt_plain:.0f} | {b / tt_wf:.0f} | {tt_wf / tt_plain:.3f} |", flush=True)


if __name__ == "__main__":
    main()
