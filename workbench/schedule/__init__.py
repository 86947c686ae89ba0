"""Schedules: stages, primitives with legality checks, and the replayable trace."""
from .errors import ScheduleError, ScheduleWarning
from . import scopes
from .schedule import Schedule, create_schedule
from .stage import Fuse, Split, Stage
from .trace import PRIMITIVES, Step, Trace, TraceError
from .scopes import Scope, register_scope
