"""Storage scopes come from a registry: typos are errors listing the known scopes."""
import pytest

import workbench as wb
from workbench.schedule import scopes

from .helpers import matmul, run_matmul, schedule_error


def test_builtin_scopes():
    assert {"global", "local"} <= set(scopes.known_scopes())
    assert scopes.get_scope("local").capacity_bytes is None


def test_unknown_scope_lists_known_ones():
    A, B, C = matmul()
    s = wb.create_schedule(C)
    e = schedule_error(lambda: s.cache_read(A, "sharedd", [C]), r"^cache_read\(scope='sharedd'\)",
                       "unknown scope", "global", "local")
    assert e.primitive == "cache_read"
    schedule_error(lambda: s.cache_write(C, "loca"), r"cache_write\(scope='loca'\) on stage 'C'", "known scopes")
    assert len(s.trace) == 0 and len(s.stages) == 3


def test_register_scope_identically_twice_and_conflict():
    sc = scopes.register_scope("test.sram", capacity_bytes=1024, doc="a test SRAM")
    assert sc == scopes.Scope("test.sram", 1024, "a test SRAM")
    assert scopes.register_scope("test.sram", capacity_bytes=1024, doc="a test SRAM") == sc
    with pytest.raises(ValueError, match="already registered"):
        scopes.register_scope("test.sram", capacity_bytes=2048)
    with pytest.raises(ValueError, match="positive int"):
        scopes.register_scope("test.bad", capacity_bytes=0)
    with pytest.raises(ValueError, match="non-empty"):
        scopes.register_scope("")


def test_registered_scope_usable_and_capacity_checked_at_lowering():
    scopes.register_scope("test.small", capacity_bytes=64 * 4)
    A, B, C = matmul(32, 32, 32)
    s = wb.create_schedule(C)
    AL = s.cache_read(A, "test.small", [C])
    assert s[AL].scope == "test.small"
    # the whole 32x32 A does not fit in 256 bytes ...
    schedule_error(lambda: wb.lower(s, [A, B, C]), r"cache_read\(scope='test.small'\) on stage 'A.test.small'",
                   "4096 bytes", "capacity of 256")
    # ... one row of it (computed at C's i) does
    s[AL].compute_at(s[C], C.op.axis[0])
    assert "test.small" in str(wb.lower(s, [A, B, C]))
    run_matmul(s, A, B, C)


def test_set_scope():
    A, B, C = matmul(16, 16, 16)
    from workbench import te
    D = te.compute((16, 16), lambda i, j: C[i, j] * 2.0, name="D")
    s = wb.create_schedule(D)
    s[C].set_scope("local")
    assert "scope=\"local\"" in str(wb.lower(s, [A, B, D])) or "local" in str(wb.lower(s, [A, B, D]))
    assert s.trace.steps[-1].primitive == "set_scope"
    schedule_error(lambda: s[C].set_scope("sharedd"), r"set_scope\(scope='sharedd'\) on stage 'C'", "unknown scope")
    schedule_error(lambda: s[D].set_scope("local"), "output stage")
    schedule_error(lambda: s[A].set_scope("local"), "placeholder")
    s2 = wb.create_schedule(D)
    s.trace.replay(s2)
    assert s2[C].scope == "local"
