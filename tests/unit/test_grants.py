"""The runtime role's column-level UPDATE list covers exactly what the store changes."""

from __future__ import annotations

from fsm.records import IntentUpdate
from persistence import grants, store


def test_the_update_list_is_what_the_store_moves() -> None:
    moved = {*store._MOVE_COLUMNS, "lease_owner"}  # lease_owner: claims and lease renewals
    assert moved == set(grants.RUNTIME_UPDATES["runs"])
    intent = set(IntentUpdate.model_fields) - {"run_id", "client_order_id"}
    assert intent == set(grants.RUNTIME_UPDATES["order_intents"])


def test_no_role_is_granted_delete_truncate_or_ddl() -> None:
    sql = grants.statements(grants.Roles("app", "sealer", "auditor"))
    granted = " ".join(s for s in sql if s.startswith("GRANT"))
    for privilege in ("DELETE", "TRUNCATE", "CREATE", "ALL", "REFERENCES", "TRIGGER"):
        assert f" {privilege} " not in f" {granted} ".replace("(", " ")
    assert not any("digests" in s for s in sql if s.startswith("GRANT INSERT") and "app" in s)


def test_the_runtime_reads_the_key_registry_but_cannot_register_a_key() -> None:
    sql = grants.statements(grants.Roles(runtime="app"))
    assert any(s.startswith("GRANT SELECT") and "public.approver_keys" in s for s in sql)
    assert not any(s.startswith("GRANT INSERT") and "approver_keys" in s for s in sql)
    assert any(s.startswith("GRANT INSERT") and "public.cancel_requests" in s for s in sql)
