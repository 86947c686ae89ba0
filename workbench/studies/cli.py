"""`workbench study resolution|augment [--quick]`: run a study headless, write its CSV tables and
Bokeh figures (HTML, inline resources) to --out.

    workbench study augment --quick
    workbench study resolution --parts a1 --out results/resolution
"""
from __future__ import annotations

import json
import os
import sys

from .tables import write_csv


def add_parser(subparsers):
    p = subparsers.add_parser("study", help="run a vision study (resolution, augment) headless")
    p.add_argument("name", choices=("resolution", "augment"))
    p.add_argument("--quick", action="store_true", help="small settings for CI (a few minutes)")
    p.add_argument("--out", default=None, help="output directory (default: study-results/<name>)")
    p.add_argument("--no-figures", action="store_true", help="CSV tables only")
    p.add_argument("--no-progress", action="store_true", help="no progress bars")
    p.add_argument("--parts", default="a1,a2,a3", help="resolution: which parts (a1,a2,a3)")
    p.add_argument("--images", type=int, default=None, help="augment: first N photos")
    p.add_argument("--views", type=int, default=None, help="augment: views per image and augmentation")
    p.add_argument("--size", type=int, default=None, help="augment: view side in px (>= 48)")
    p.add_argument("--folds", type=int, default=None,
                   help="augment: probe folds split by image (default: leave-one-image-out)")
    p.add_argument("--augmentations", default=None, help="augment: comma-separated subset")
    p.add_argument("--backbones", default=None, help="augment: comma-separated subset")
    p.add_argument("--resolutions", default=None, help="resolution: comma-separated A1 resolutions")
    p.add_argument("--layers", type=int, default=None,
                   help="resolution: tune the first N conv tasks per resolution (default: all)")
    p.add_argument("--trials", type=int, default=None,
                   help="resolution: tuner trials per conv task and resolution (cold and warm)")
    p.add_argument("--logdir", default=None,
                   help="resolution: keep the tuning logs here (default: a temporary directory)")
    p.set_defaults(func=run)


def _ints(text, what):
    from workbench.cli import CLIError
    try:
        return tuple(int(t) for t in text.split(","))
    except ValueError:
        raise CLIError(f"{what} must be comma-separated integers, got {text!r}") from None


def _configured(replace, config, changes):
    """The study's config with the command line's changes; bad values are user errors."""
    from workbench.cli import CLIError
    try:
        return replace(config, **changes)
    except (ValueError, TypeError) as e:
        raise CLIError(str(e)) from None


def _augment(args, out: str) -> list:
    from dataclasses import replace

    from . import augment_probe as ap
    config = ap.ProbeConfig.quick() if args.quick else ap.ProbeConfig()
    changes = {k: v for k, v in (("images", args.images), ("views", args.views), ("size", args.size),
                                            ("folds", args.folds))
               if v is not None}
    if args.augmentations:
        changes["augmentations"] = tuple(args.augmentations.split(","))
    if args.backbones:
        changes["backbones"] = tuple(args.backbones.split(","))
    config = _configured(replace, config, changes)
    result = ap.run(config, progress=not args.no_progress)
    files = []
    for name in ("accuracy", "importance", "checks"):
        path = os.path.join(out, f"augment_{name}.csv")
        write_csv(result.table(name), path)
        files.append(path)
    for line in ap.summary(result):
        print(line)
    for c in result.checks:
        print(f"{c['backbone']}: compiled features vs PyTorch max abs error {c['max_abs_err']:.2e} "
              f"({c['inputs_checked']} inputs), {c['ms_per_forward']:.1f} ms per forward")
    if not args.no_figures:
        from . import plots
        files.append(plots.save_html(plots.probe_accuracy(result.accuracy, result.importance),
                                     os.path.join(out, "augment_probe.html"), "augmentation probe"))
    return files


def _resolution(args, out: str) -> list:
    from dataclasses import replace

    from . import resolution as rs
    config = rs.ResolutionConfig.quick() if args.quick else rs.ResolutionConfig()
    changes = {}
    if args.resolutions:
        res = _ints(args.resolutions, "--resolutions")
        changes["resolutions"] = res
        if config.reference not in res:
            changes["reference"] = min(res, key=lambda r: abs(r - config.reference))
    for name in ("layers", "trials"):
        if getattr(args, name) is not None:
            changes[name] = getattr(args, name)
    config = _configured(replace, config, changes)
    parts = tuple(p.strip() for p in args.parts.split(","))
    if not set(parts) <= {"a1", "a2", "a3"}:
        from workbench.cli import CLIError
        raise CLIError(f"--parts takes a1, a2, a3; got {args.parts!r}")
    result = rs.run(config, progress=not args.no_progress, parts=parts, logdir=args.logdir)
    files = []
    for name, rows in result.tables.items():
        path = os.path.join(out, f"{name}.csv")
        write_csv(rows, path)
        files.append(path)
    with open(os.path.join(out, "notes.json"), "w", encoding="utf-8") as f:
        json.dump(result.notes, f, indent=1, default=str)
    for line in rs.summary(result):
        print(line)
    if not args.no_figures:
        from bokeh.layouts import column

        from . import plots
        t = result.tables
        figs = []
        if t.get("a1_network"):
            figs.append(plots.a1_latency(t["a1_network"], t.get("a1_tuning_cost")))
        if t.get("a1_vta"):
            figs.append(plots.a1_vta(t["a1_vta"]))
        if "a2_accuracy" in t:
            figs.append(plots.a2_accuracy(t["a2_accuracy"]))
        if "a3_policies" in t:
            figs.append(plots.a3_pareto(t["a3_policies"]))
        files.append(plots.save_html(column(*figs), os.path.join(out, "resolution.html"), "resolution study"))
    return files


def run(args) -> int:
    from workbench.cli import CLIError
    out = args.out or os.path.join("study-results", args.name)
    try:
        os.makedirs(out, exist_ok=True)
    except OSError as e:
        raise CLIError(f"cannot create output directory {out!r}: {e.strerror}") from None
    files = (_augment if args.name == "augment" else _resolution)(args, out)
    print("wrote " + ", ".join(files), file=sys.stdout)
    return 0
