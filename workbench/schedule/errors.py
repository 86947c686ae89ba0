"""ScheduleError: an illegal primitive, reported as `primitive(argument=...) on stage S: reason`."""


class ScheduleError(ValueError):
    """Raised when a schedule primitive is illegal; names the primitive, the argument and why."""

    def __init__(self, primitive: str, argument: str, reason: str, stage: str | None = None):
        self.primitive, self.argument, self.reason, self.stage = primitive, argument, reason, stage
        where = f" on stage {stage!r}" if stage else ""
        super().__init__(f"{primitive}({argument}){where}: {reason}")


class ScheduleWarning(UserWarning):
    """A primitive was accepted but lowering cannot honour it (e.g. vectorize of an outer loop, a
    parallel loop nested in another); the message names the primitive, stage, axis and why."""
