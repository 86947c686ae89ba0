import numpy as np
import pytest

from accel import vta


@pytest.fixture(scope="session")
def env():
    return vta.Env.default()


@pytest.fixture
def rng():
    return np.random.default_rng(1234)


def int8(rng, shape):
    return rng.integers(-128, 128, shape, dtype=np.int8)
