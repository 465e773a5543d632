"""A read-only web console over the run database (`tradefsm console`); see docs/console.md."""
