"""Every catalog operator, every small parameter set: the default schedule builds with the LLVM
backend and computes what the numpy reference computes."""
from __future__ import annotations

import pytest

wb = pytest.importorskip("workbench")
if not all(hasattr(wb, name) for name in ("build", "create_schedule")):
    pytest.skip("workbench.build / workbench.create_schedule are not available yet (the compiler "
                "core is still being written)", allow_module_level=True)

from _kernels_te_eval import assert_matches  # noqa: E402
from kernels import registry  # noqa: E402

CASES = list(registry.all_cases())


@pytest.mark.parametrize("op,params", CASES, ids=[f"{o.name}[{registry.case_id(p)}]" for o, p in CASES])
def test_default_schedule_matches_reference(op, params):
    inputs, out = op.make(**params)
    f = wb.build(wb.create_schedule(out), inputs + [out])
    arrays = op.random_inputs(seed=4, **params)
    result = registry.empty_output(out)
    f(*arrays, result)
    want = op.reference(*arrays, **params)
    assert result.dtype == want.dtype
    assert_matches(result, want, rtol=1e-4, atol=1e-4)
