"""Random int8 arrays for the VTA tests (its own module name: a `from conftest import ...` would pick
whichever test folder's conftest pytest imported first)."""
import numpy as np


def int8(rng, shape):
    return rng.integers(-128, 128, shape, dtype=np.int8)
