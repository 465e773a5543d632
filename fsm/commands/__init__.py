"""CLI command groups. They receive the store opener from the composition root (fsm.cli)."""
