"""Triggers that refuse rows no release of tradefsm writes (migration ``refusing_triggers``).

- ``ledger_scheme_forward`` (SQLite and PostgreSQL): a ledger row of the legacy scheme 1 (no
  commitments; tradefsm has written scheme 2 or newer since revision 0004), or of an older
  scheme than the run's previous row, is refused: a run's scheme never goes back, so one
  forged legacy row cannot switch off the checks of the rows after it.
- ``order_intents_have_history`` (PostgreSQL): a deferred constraint trigger; an order intent
  inserted without an event of its history in the same transaction is refused at commit.
  SQLite has no deferred triggers: there `audit verify` reports such an intent
  (``intent_without_history``).

``expected`` and ``functions`` are what a database at the head revision holds
(persistence.defences compares them with what it finds).
"""

from __future__ import annotations

from sqlalchemy import Connection

SCHEME_TRIGGER = ("ledger", "ledger_scheme_forward")
HISTORY_TRIGGER = ("order_intents", "order_intents_have_history")
_REFUSAL = "tradefsm: a ledger row may not go back to an older scheme"
PG_BODIES = {
    "tradefsm_scheme_forward": f"""
BEGIN
    IF NEW.scheme < 2 OR NEW.scheme < (
        SELECT l.scheme FROM ledger l WHERE l.run_id = NEW.run_id AND l.seq = NEW.seq - 1
    ) THEN
        RAISE EXCEPTION USING MESSAGE = '{_REFUSAL} (run ' || NEW.run_id || ', seq ' ||
            NEW.seq || ', scheme ' || NEW.scheme || ')';
    END IF;
    RETURN NEW;
END;
""",
    "tradefsm_intent_has_history": """
BEGIN
    IF NOT EXISTS (SELECT 1 FROM intent_events e WHERE e.client_order_id = NEW.client_order_id)
    THEN
        RAISE EXCEPTION USING
            MESSAGE = 'tradefsm: order intent ' || NEW.client_order_id || ' has no history';
    END IF;
    RETURN NULL;
END;
""",
}
_PG = {
    SCHEME_TRIGGER: (
        "CREATE TRIGGER ledger_scheme_forward BEFORE INSERT ON ledger FOR EACH ROW "
        "EXECUTE FUNCTION tradefsm_scheme_forward()",
        "tradefsm_scheme_forward",
    ),
    HISTORY_TRIGGER: (
        "CREATE CONSTRAINT TRIGGER order_intents_have_history AFTER INSERT ON order_intents "
        "DEFERRABLE INITIALLY DEFERRED FOR EACH ROW EXECUTE FUNCTION "
        "tradefsm_intent_has_history()",
        "tradefsm_intent_has_history",
    ),
}
_SQLITE = {
    SCHEME_TRIGGER: (
        "CREATE TRIGGER ledger_scheme_forward BEFORE INSERT ON ledger WHEN NEW.scheme < 2 OR "
        "NEW.scheme < (SELECT l.scheme FROM ledger l WHERE l.run_id = NEW.run_id AND "
        f"l.seq = NEW.seq - 1) BEGIN SELECT RAISE(ABORT, '{_REFUSAL}'); END"
    ),
}


def expected(dialect: str) -> dict[tuple[str, str], str]:
    """(table, trigger) → its definition as the database reports it (schema public)."""
    if dialect == "postgresql":
        return {key: definition for key, (definition, _) in _PG.items()}
    return dict(_SQLITE)


def functions() -> dict[tuple[str, str], tuple[str, str]]:
    """PostgreSQL: (table, trigger) → the function it calls and that function's body."""
    return {key: (function, PG_BODIES[function]) for key, (_, function) in _PG.items()}


def create(bind: Connection) -> None:
    if bind.dialect.name == "postgresql":
        for function, body in PG_BODIES.items():
            bind.exec_driver_sql(
                f"CREATE OR REPLACE FUNCTION {function}() RETURNS trigger AS $${body}$$ "
                "LANGUAGE plpgsql"
            )
    for (table, name), definition in expected(bind.dialect.name).items():
        bind.exec_driver_sql(definition)
        if bind.dialect.name == "postgresql":
            bind.exec_driver_sql(f"ALTER TABLE {table} ENABLE ALWAYS TRIGGER {name}")


def drop(bind: Connection) -> None:
    postgres = bind.dialect.name == "postgresql"
    for table, name in expected(bind.dialect.name):
        bind.exec_driver_sql(
            f"DROP TRIGGER IF EXISTS {name}" + (f" ON {table}" if postgres else "")
        )
    if postgres:
        for function in PG_BODIES:
            bind.exec_driver_sql(f"DROP FUNCTION IF EXISTS {function}()")
