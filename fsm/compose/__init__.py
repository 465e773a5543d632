"""The composition root: the one place in ``fsm`` that knows ``persistence`` and builds engines.

``stores`` opens the run database's adapters (typed by the ports they implement: ``RunStore``,
``AuditQueries``, ``EventLog``, ``ApproverKeys``, ``MetricsSource``); ``engines`` assembles an
engine from settings (store, plugins, clock, ids, guards, failpoints, one ``PolicyCache``);
``schema`` and ``archive`` carry the database commands and retention. The CLI, the workers, the
console and the legacy facade are wired from here. Each module imports ``persistence`` inside
the functions that use it, so `tradefsm --help` loads no database layer.
"""
