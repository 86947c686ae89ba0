import pytest


def pytest_addoption(parser):
    parser.addoption("--update-golden", action="store_true", default=False,
                     help="rewrite tests/golden/*.txt from the current output instead of comparing")


@pytest.fixture
def update_golden(request):
    return request.config.getoption("--update-golden")


@pytest.fixture(autouse=True)
def _verify_lowered_ir(monkeypatch):
    """Every lowering in the tests checks IR well-formedness after each pass (PassContext.verify);
    a pass that breaks the IR fails the test that lowered it, naming the pass."""
    import importlib
    lowering = importlib.import_module("workbench.lower")   # (wb.lower is the function)
    monkeypatch.setattr(lowering, "DEFAULT_CONTEXT", lowering.PassContext(verify=True))
