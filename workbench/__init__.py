"""Schedule Workbench: tensor expressions, schedules, lowering and LLVM code generation."""
from . import te
