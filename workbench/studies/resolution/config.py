"""What a resolution-study run does (ResolutionConfig, its quick variant) and what it returns."""
from __future__ import annotations

from dataclasses import dataclass, field

from .. import nets
from .layers import RESOLUTIONS


FACE_MODELS = {"mtcnn_rnet": nets.mtcnn_rnet, "mtcnn_onet": nets.mtcnn_onet}



@dataclass(frozen=True)
class ResolutionConfig:
    resolutions: tuple = RESOLUTIONS
    reference: int = 224                       # the resolution whose configs are reused
    threads: int = 1                           # 1-thread latencies repeat within ~2% here
    vta: bool = True
    layers: int | None = None                  # tune the first N distinct convs (None: all 11)
    trials: int = 20                           # XGBTuner trials per conv task, cold and warm
    repeat: int = 5                            # interleaved timing rounds per network
    # A2
    face_models: tuple = ("mtcnn_rnet", "mtcnn_onet")
    details: tuple = (6, 8, 10, 12, 16, 20, 24)
    qualities: tuple = (5, 10, 20, 30, 50, 75, 95)
    crops: tuple = (0.5, 0.6, 0.7, 0.8, 0.9, 1.0)
    bootstrap: int = 1000
    # A3
    policy_resolutions: tuple = (8, 12, 16, 24, 32, 48, 64)
    policy_images_per_class: int = 100
    train_per_class: int = 120
    train_epochs: int = 12
    jpeg_quality: int = 90
    seed: int = 0

    @classmethod
    def quick(cls) -> "ResolutionConfig":
        # 4 tasks: at 200 the 4th is layer2.0 (25x25, odd), which ran Winograd at 224
        return cls(resolutions=(200, 224), layers=4, repeat=3, trials=6,
                   face_models=("mtcnn_rnet",), details=(8, 12, 24), qualities=(10, 50, 95),
                   crops=(0.6, 1.0), bootstrap=200, policy_resolutions=(8, 16, 32),
                   policy_images_per_class=20, train_per_class=60, train_epochs=6)

    def __post_init__(self):
        if self.reference not in self.resolutions:
            raise ValueError(f"reference resolution {self.reference} must be one of {self.resolutions}")
        if min(self.resolutions) < 32:
            raise ValueError(f"ResNet-18 needs resolutions >= 32, got {self.resolutions}")
        if self.trials < 1 or self.repeat < 1:
            raise ValueError(f"trials and repeat must be >= 1, got {self.trials} and {self.repeat}")
        if self.layers is not None and self.layers < 0:
            raise ValueError(f"layers must be >= 0 or None, got {self.layers}")
        for m in self.face_models:
            if m not in FACE_MODELS:
                raise ValueError(f"unknown face model {m!r}; choose from {', '.join(FACE_MODELS)}")


@dataclass
class StudyResult:
    tables: dict = field(default_factory=dict)     # name -> list of row dicts
    notes: dict = field(default_factory=dict)
