"""Schedules: stages, primitives with legality checks, and the replayable trace."""
from .errors import ScheduleError
from . import scopes
from .schedule import Schedule, create_schedule
from .stage import Fuse, Split, Stage
from .trace import Step, Trace
from .scopes import Scope, register_scope
