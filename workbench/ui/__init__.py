"""The workbench UI: ipywidgets + Bokeh apps and the `%workbench` IPython magic.

    %load_ext workbench
    %workbench explore matmul M=512 N=512 K=512
    from workbench.ui import ScheduleExplorer, TuningDashboard, VTATimeline, Roofline

The apps import ipywidgets and Bokeh; the widget-free parts (session, analysis, records, timeline
data, roofline measurement) are importable on their own, so they are attributes loaded lazily.
"""
from __future__ import annotations

import importlib

_APPS = {"ScheduleExplorer": "explorer", "TuningDashboard": "dashboard", "VTATimeline": "timeline",
         "Roofline": "roofline", "load_ipython_extension": "magics"}


def __getattr__(name):
    mod = _APPS.get(name)
    if mod is None:
        raise AttributeError(f"module 'workbench.ui' has no attribute {name!r}")
    return getattr(importlib.import_module(f".{mod}", __name__), name)


__all__ = list(_APPS)
