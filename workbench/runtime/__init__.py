"""Runtime: the built `Kernel` (argument checks, ctypes call) and timing."""
from .kernel import Kernel
from .timing import TimingResult, measure

__all__ = ["Kernel", "TimingResult", "measure"]
