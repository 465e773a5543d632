"""Drop-in compatibility with the legacy orchestrator (see docs/migration.md)."""

from fsm.compat.orchestrator import TradingOrchestrator

__all__ = ["TradingOrchestrator"]
