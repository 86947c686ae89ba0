"""Every catalog operator, every small parameter set: the default schedule builds with the LLVM
backend and computes what the numpy reference computes."""
from __future__ import annotations

import pytest

wb = pytest.importorskip("workbench")
if not all(hasattr(wb, name) for name in ("build", "create_schedule")):
    pytest.skip("workbench.build / workbench.create_schedule are not available yet (the compiler "
                "core is still being written)", allow_module_level=True)
pytest.importorskip("workbench.codegen", reason="wb.build needs workbench.codegen (LLVM backend), "
                    "not importable here")

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


def _inlinable(out):
    """Intermediate elementwise stages (pad, dilate, softmax_exp, ...): what schedules inline."""
    from _kernels_te_eval import stages
    from workbench import te
    return [o.output(0) for o in stages(out)
            if isinstance(o, te.ComputeOp) and not o.reduce_axis and o is not out.op]


INLINE_CASES = [(o, p) for o, p in CASES if _inlinable(o.make(**p)[1])]


@pytest.mark.parametrize("op,params", INLINE_CASES,
                         ids=[f"{o.name}[{registry.case_id(p)}]" for o, p in INLINE_CASES])
def test_inlined_pad_and_elementwise_stages_match_reference(op, params):
    inputs, out = op.make(**params)
    s = wb.create_schedule(out)
    for t in _inlinable(out):
        s[t].compute_inline()
    f = wb.build(s, inputs + [out])
    arrays = op.random_inputs(seed=5, **params)
    result = registry.empty_output(out)
    f(*arrays, result)
    assert_matches(result, op.reference(*arrays, **params))
