"""The paper's backbones by name, for small (28/32 px) and ImageNet-size input, at any width
(same architecture, fewer channels), so that tests and the smoke preset run on two CPU cores."""

from __future__ import annotations

from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Callable

import torch
from torch import nn

from .errors import CheckpointError, WFNetError
from .registry import Registry

# Small-input variants follow the usual CIFAR adaptations: VGG-16-BN with a 512->N classifier
# (input zero-padded to a multiple of 32, so MNIST's 28x28 survives five max-pools), ResNet with a
# 3x3 stride-1 stem and no max-pool (built from torchvision's own blocks), ViT from timm with
# patch 4. ``width`` scales every channel count (same architecture, fewer channels): unit tests
# and the smoke preset use it to run on two CPU cores.

SMALL_INPUT_MAX = 64  # below this size the CIFAR-style variants are built


@dataclass(frozen=True)
class BackboneSpec:
    """Everything needed to rebuild a backbone: stored in every checkpoint."""

    name: str
    num_classes: int
    in_chans: int
    image_size: int
    width: float = 1.0

    def as_dict(self) -> dict[str, object]:
        return asdict(self)


BACKBONES: Registry[Callable[[BackboneSpec], nn.Module]] = Registry("backbone")


def create_backbone(
    name: str, num_classes: int, in_chans: int = 3, image_size: int = 32, width: float = 1.0,
    checkpoint: str | Path | None = None,
) -> nn.Module:
    """Build a registered backbone; optionally load local weights (never fetched from a hub)."""
    if num_classes < 2:
        raise WFNetError(f"num_classes must be >= 2, got {num_classes}")
    if in_chans not in (1, 3):
        raise WFNetError(f"in_chans must be 1 or 3, got {in_chans}")
    if not 0.0 < width <= 1.0:
        raise WFNetError(f"width must be in (0, 1], got {width}")
    spec = BackboneSpec(name, num_classes, in_chans, image_size, width)
    model = BACKBONES.get(name)(spec)
    model.wfnet_spec = spec  # type: ignore[assignment]
    if checkpoint is not None:
        load_pretrained(model, Path(checkpoint))
    return model


def build(spec: BackboneSpec) -> nn.Module:
    return create_backbone(spec.name, spec.num_classes, spec.in_chans, spec.image_size, spec.width)


def load_pretrained(model: nn.Module, path: Path) -> None:
    """Load a local state dict (e.g. ImageNet weights), keeping a differently sized head random."""
    if not path.is_file():
        raise CheckpointError(f"pretrained weights {path} not found")
    try:
        state = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as err:
        raise CheckpointError(f"cannot read pretrained weights {path}: {err}") from None
    state = state.get("state_dict", state) if isinstance(state, dict) else state
    own = model.state_dict()
    usable = {k: v for k, v in state.items() if k in own and own[k].shape == v.shape}
    if not usable:
        raise CheckpointError(f"no tensor in {path} fits backbone {type(model).__name__}")
    model.load_state_dict(usable, strict=False)


def _ch(c: int, width: float) -> int:
    return max(4, int(round(c * width)))


# --- VGG-16 ------------------------------------------------------------------------------------

VGG16_CFG: tuple[int | str, ...] = (
    64, 64, "M", 128, 128, "M", 256, 256, 256, "M", 512, 512, 512, "M", 512, 512, 512, "M",
)


class SmallVGG(nn.Module):
    """VGG-16-BN for 28-32 px input: torchvision's layer pattern, a 512->N linear head."""

    def __init__(self, spec: BackboneSpec) -> None:
        super().__init__()
        pad = (-spec.image_size) % 32
        self.pad = nn.ZeroPad2d((pad // 2, pad - pad // 2, pad // 2, pad - pad // 2)) if pad else nn.Identity()
        layers: list[nn.Module] = []
        c_in = spec.in_chans
        for v in VGG16_CFG:
            if v == "M":
                layers.append(nn.MaxPool2d(2, 2))
            else:
                c_out = _ch(int(v), spec.width)
                layers += [nn.Conv2d(c_in, c_out, 3, padding=1), nn.BatchNorm2d(c_out), nn.ReLU(inplace=True)]
                c_in = c_out
        self.features = nn.Sequential(*layers)
        self.avgpool = nn.AdaptiveAvgPool2d(1)
        self.classifier = nn.Linear(c_in, spec.num_classes)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.features(self.pad(x))
        return self.classifier(torch.flatten(self.avgpool(x), 1))


@BACKBONES.register("vgg16")
def vgg16(spec: BackboneSpec) -> nn.Module:
    if spec.image_size < SMALL_INPUT_MAX:
        return SmallVGG(spec)
    from torchvision.models import vgg16_bn

    model = vgg16_bn(num_classes=spec.num_classes)
    if spec.in_chans != 3:
        model.features[0] = nn.Conv2d(spec.in_chans, 64, 3, padding=1)
    return model


# --- ResNet ------------------------------------------------------------------------------------


class SmallResNet(nn.Module):
    """torchvision's ResNet layout (conv1, bn1, layer1-4, fc) with the CIFAR 3x3 stem."""

    def __init__(self, spec: BackboneSpec, block: type, layers: tuple[int, ...]) -> None:
        super().__init__()
        widths = [_ch(c, spec.width) for c in (64, 128, 256, 512)]
        self.inplanes = widths[0]
        self.conv1 = nn.Conv2d(spec.in_chans, widths[0], 3, stride=1, padding=1, bias=False)
        self.bn1 = nn.BatchNorm2d(widths[0])
        self.relu = nn.ReLU(inplace=True)
        self.layer1 = self._make_layer(block, widths[0], layers[0], 1)
        self.layer2 = self._make_layer(block, widths[1], layers[1], 2)
        self.layer3 = self._make_layer(block, widths[2], layers[2], 2)
        self.layer4 = self._make_layer(block, widths[3], layers[3], 2)
        self.avgpool = nn.AdaptiveAvgPool2d(1)
        self.fc = nn.Linear(widths[3] * block.expansion, spec.num_classes)
        for m in self.modules():
            if isinstance(m, nn.Conv2d):
                nn.init.kaiming_normal_(m.weight, mode="fan_out", nonlinearity="relu")

    def _make_layer(self, block: type, planes: int, blocks: int, stride: int) -> nn.Sequential:
        downsample = None
        if stride != 1 or self.inplanes != planes * block.expansion:
            downsample = nn.Sequential(
                nn.Conv2d(self.inplanes, planes * block.expansion, 1, stride=stride, bias=False),
                nn.BatchNorm2d(planes * block.expansion),
            )
        mods = [block(self.inplanes, planes, stride, downsample)]
        self.inplanes = planes * block.expansion
        mods += [block(self.inplanes, planes) for _ in range(1, blocks)]
        return nn.Sequential(*mods)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.relu(self.bn1(self.conv1(x)))
        x = self.layer4(self.layer3(self.layer2(self.layer1(x))))
        return self.fc(torch.flatten(self.avgpool(x), 1))


def _resnet(spec: BackboneSpec, depth: int) -> nn.Module:
    from torchvision.models import resnet
    from torchvision.models.resnet import BasicBlock, Bottleneck

    block, layers = {18: (BasicBlock, (2, 2, 2, 2)), 50: (Bottleneck, (3, 4, 6, 3)),
                     101: (Bottleneck, (3, 4, 23, 3))}[depth]
    if spec.image_size < SMALL_INPUT_MAX:
        return SmallResNet(spec, block, layers)
    model = getattr(resnet, f"resnet{depth}")(num_classes=spec.num_classes)
    if spec.in_chans != 3:
        model.conv1 = nn.Conv2d(spec.in_chans, 64, 7, stride=2, padding=3, bias=False)
    return model


@BACKBONES.register("resnet18")
def resnet18(spec: BackboneSpec) -> nn.Module:
    return _resnet(spec, 18)


@BACKBONES.register("resnet50")
def resnet50(spec: BackboneSpec) -> nn.Module:
    return _resnet(spec, 50)


@BACKBONES.register("resnet101")
def resnet101(spec: BackboneSpec) -> nn.Module:
    return _resnet(spec, 101)


# --- ViT (timm) --------------------------------------------------------------------------------


def _vit(spec: BackboneSpec, embed_dim: int, heads: int) -> nn.Module:
    """timm's VisionTransformer; reduced width keeps the 64-wide heads and drops some of them."""
    from timm.models.vision_transformer import VisionTransformer

    head_dim = embed_dim // heads
    heads = max(1, int(round(heads * spec.width)))
    patch = 4 if spec.image_size < SMALL_INPUT_MAX else 16
    if spec.image_size % patch:
        raise WFNetError(f"ViT needs an image size divisible by its patch {patch}, got {spec.image_size}")
    return VisionTransformer(
        img_size=spec.image_size, patch_size=patch, in_chans=spec.in_chans,
        num_classes=spec.num_classes, embed_dim=heads * head_dim, depth=12, num_heads=heads,
    )


@BACKBONES.register("vit_tiny")
def vit_tiny(spec: BackboneSpec) -> nn.Module:
    return _vit(spec, 192, 3)


@BACKBONES.register("vit_small")
def vit_small(spec: BackboneSpec) -> nn.Module:
    return _vit(spec, 384, 6)
