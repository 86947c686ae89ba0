"""VTA simulators: functional (bit-exact, numpy) and timing (event-driven, cycle-level)."""
