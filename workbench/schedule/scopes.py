"""Storage scopes: where a stage's buffer lives ("global", "local", or what a target registers).

A process-wide registry, as in TVM: a backend registers its on-chip memories once at import (VTA's
"local.inp_buffer", "local.wgt_buffer", "local.acc_buffer" with their capacities), and every
schedule primitive that takes a scope (cache_read, cache_write, set_scope) checks the name here, so
a typo is an error at the call rather than a silently different buffer.
"""
from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Scope:
    """A named memory. `capacity_bytes` None means unbounded (main memory, the stack)."""
    name: str
    capacity_bytes: int | None = None
    doc: str = ""


class ScopeRegistry:
    """Name -> Scope. Registering a name again is allowed only with identical parameters."""

    def __init__(self, scopes=()):
        self._scopes: dict = {}
        for sc in scopes:
            self.register(sc.name, sc.capacity_bytes, sc.doc)

    def register(self, name: str, capacity_bytes: int | None = None, doc: str = "") -> Scope:
        if not isinstance(name, str) or not name or name != name.strip():
            raise ValueError(f"scope name must be a non-empty string without surrounding spaces, got {name!r}")
        if capacity_bytes is not None and (isinstance(capacity_bytes, bool) or not isinstance(capacity_bytes, int)
                                           or capacity_bytes <= 0):
            raise ValueError(f"scope {name!r}: capacity_bytes must be a positive int or None, "
                             f"got {capacity_bytes!r}")
        new = Scope(name, None if capacity_bytes is None else int(capacity_bytes), doc)
        old = self._scopes.get(name)
        if old is not None and (old.capacity_bytes, old.doc) != (new.capacity_bytes, new.doc):
            raise ValueError(f"scope {name!r} is already registered as {old}; registering it again "
                             f"with different parameters ({new}) would change existing schedules")
        self._scopes[name] = new
        return new

    def get(self, name: str) -> Scope | None:
        return self._scopes.get(name) if isinstance(name, str) else None

    def names(self) -> list:
        return list(self._scopes)

    def __contains__(self, name) -> bool:
        return self.get(name) is not None


REGISTRY = ScopeRegistry([
    Scope("global", None, "main memory; what argument tensors live in"),
    Scope("local", None, "private to the computing thread (stack or registers)"),
])


def register_scope(name: str, capacity_bytes: int | None = None, doc: str = "") -> Scope:
    """Make `name` usable in cache_read/cache_write/set_scope; returns its Scope record."""
    return REGISTRY.register(name, capacity_bytes, doc)


def get_scope(name: str) -> Scope | None:
    return REGISTRY.get(name)


def known_scopes() -> list:
    return REGISTRY.names()


def check_scope(name, primitive: str, stage: str | None = None) -> Scope:
    """The Scope called `name`, or a ScheduleError naming the primitive and listing known scopes."""
    from .errors import ScheduleError
    sc = REGISTRY.get(name)
    if sc is None:
        raise ScheduleError(primitive, f"scope={name!r}", "unknown scope; known scopes: "
                            f"{', '.join(REGISTRY.names())} (a target registers more with "
                            "workbench.schedule.scopes.register_scope)", stage)
    return sc
