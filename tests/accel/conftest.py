import numpy as np
import pytest

from accel import vta


@pytest.fixture(scope="session")
def env():
    return vta.Env.default()


@pytest.fixture
def rng():
    return np.random.default_rng(1234)
