"""Task: a template and its arguments -> a config space, schedules per config, built kernels.

    task = tune.Task(kernels.matmul.cpu_template, args=(1024, 1024, 1024))
    len(task.space); cfg = task.space.get(7); s, tensors = task.instantiate(cfg)
    f = task.build(cfg)            # a Kernel, like wb.build's

A task pickles as (template, args): templates are module-level functions (or the picklable
generated-space templates of `generated.py`), so build workers in other processes rebuild it.
"""
from __future__ import annotations

import hashlib
import json
from functools import cached_property

import numpy as np

import workbench as wb

from .space import ConfigEntity, ConfigSpace, InstantiationError, guarded


def _jsonable_args(args):
    out = []
    for a in args:
        if isinstance(a, (tuple, list)):
            out.append(_jsonable_args(a))
        elif isinstance(a, (np.integer,)):
            out.append(int(a))
        else:
            out.append(a)
    return out


def template_name(template) -> str:
    name = getattr(template, "task_name", None)
    if name:
        return name
    return f"{template.__module__}.{getattr(template, '__qualname__', type(template).__name__)}"


def _compute_flop(tensors) -> float:
    """FLOPs of the reductions among `tensors`' producers: 2 x output points x reduction points
    (multiply-add counted as two, AutoTVM's convention for templates that do not add_flop)."""
    from workbench.te.tensor import ComputeOp
    seen, total = set(), 0.0

    def visit(t):
        op = t.op
        if id(op) in seen or not isinstance(op, ComputeOp):
            return
        seen.add(id(op))
        if op.reduce_axis:
            total_pts = np.prod([iv.extent for iv in op.axis], dtype=np.float64)
            total_pts *= np.prod([iv.extent for iv in op.reduce_axis], dtype=np.float64)
            nonlocal total
            total += 2.0 * total_pts
        for x in op.input_tensors:
            visit(x)
    for t in tensors:
        visit(t)
    return total


class Task:
    """A tuning task: `template(cfg, *args) -> (schedule, tensors)` and its `args`.

    `space` (ConfigSpace), `flop` (from cfg.add_flop, else counted from the te reductions),
    `workload_key` (JSON of [name, args], what logs are keyed by, with `target`: a wb.Target or
    its string, default this host)."""

    def __init__(self, template, args=(), name: str | None = None, target=None):
        if not callable(template):
            raise TypeError(f"Task: template must be callable, got {type(template).__name__}")
        self.template = template
        self.args = tuple(args)
        self.name = name or template_name(template)
        self.target = wb.Target.parse(target if target is not None else "llvm")
        space = ConfigSpace()
        try:
            s, tensors = template(space, *self.args)
        except InstantiationError as e:
            raise ValueError(f"Task {self.name}{self.args}: the template rejects its default "
                             f"config: {e}") from e
        self.space = space
        self.flop = space.flop or _compute_flop([t for t in tensors if t.op is not None])
        self._default = (s, tensors)

    # pickled as (template, args, name, target): the space is re-derived where it is unpickled
    def __reduce__(self):
        return (Task, (self.template, self.args, self.name, str(self.target)))

    @classmethod
    def from_compute(cls, outputs, **options):
        """A generated space for any compute, no template (see `generated.py`)."""
        from .generated import GeneratedTemplate
        tmpl = GeneratedTemplate(outputs, **options)
        return cls(tmpl, args=(), name=tmpl.task_name)

    @classmethod
    def from_schedule(cls, s, args, **options):
        """Keep what the user applied to `s`; search only what they left open."""
        from .generated import GeneratedTemplate
        tmpl = GeneratedTemplate(args, base_trace=s.trace, **options)
        return cls(tmpl, args=(), name=tmpl.task_name)

    @property
    def workload_key(self) -> str:
        return json.dumps([self.name, _jsonable_args(self.args)])

    @cached_property
    def arg_tensors(self) -> list:
        """The kernel's parameters (placeholders then outputs), from the default instantiation."""
        return list(self._default[1])

    def config(self, index_or_cfg) -> ConfigEntity:
        if isinstance(index_or_cfg, ConfigEntity):
            return index_or_cfg
        if isinstance(index_or_cfg, dict):
            if "index" in index_or_cfg and "entity" in index_or_cfg:
                return self.space.from_values({n: v for n, _, v in index_or_cfg["entity"]})
            return self.space.from_values(index_or_cfg)
        return self.space.get(int(index_or_cfg))

    def instantiate(self, config):
        """-> (schedule, tensors) for one config; InstantiationError if the config is illegal
        (a knob's check, cfg.raise_error, or an illegal primitive)."""
        cfg = self.config(config)
        s, tensors = guarded(self.template, cfg, *self.args)
        return s, list(tensors)

    def lower(self, config):
        s, tensors = self.instantiate(config)
        return wb.lower(s, tensors)

    def build(self, config=None):
        """A Kernel for this config, as wb.build builds it. With no config: the best one of the
        active `tune.apply_history_best(log)` context."""
        if config is None:
            from .log import apply_history_best
            ctx = apply_history_best.current()
            if ctx is None:
                raise ValueError("Task.build() needs a config, or an active "
                                 "`with tune.apply_history_best(log):` context")
            config = ctx.query(self)
        s, tensors = self.instantiate(config)
        return wb.build(s, tensors, target=self.target)

    def build_reference(self):
        """The te compute with the default (untouched) schedule: what every candidate must
        compute (AutoTVM dropped such a check; we keep it)."""
        tensors = self._reference_tensors()
        outputs = [t for t in tensors if not _is_placeholder(t)]
        return wb.build(wb.create_schedule(outputs), tensors)    # runs here: this host

    def reference_outputs(self, arrays, input_positions) -> list:
        """Expected outputs for the kernel arguments `arrays`: the template's numpy
        `reference(inputs, *args)` if it has one (kernels' templates do), else the te compute run
        with its default schedule."""
        numpy_ref = getattr(self.template, "reference", None)
        if numpy_ref is not None:
            outs = numpy_ref([arrays[i] for i in input_positions], *self.args)
            return [np.asarray(o) for o in outs]
        arrays = [a.copy() for a in arrays]
        self.build_reference()(*arrays)
        return [a for i, a in enumerate(arrays) if i not in set(input_positions)]

    def _reference_tensors(self):
        tmpl_ref = getattr(self.template, "reference_tensors", None)
        if tmpl_ref is not None:
            return tmpl_ref()
        _, tensors = self.template(ConfigSpace(), *self.args)
        return list(tensors)

    def digest(self) -> str:
        return hashlib.sha1(self.workload_key.encode()).hexdigest()[:12]

    def __repr__(self):
        return f"Task({self.name}, args={self.args}, {len(self.space)} configs)"


def _is_placeholder(t) -> bool:
    from workbench.te.tensor import PlaceholderOp
    return isinstance(t.op, PlaceholderOp)
