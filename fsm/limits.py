"""The limits a guard applies: the pinned policy, made stricter by settings, never looser.

A run pins the policy version in force when it was created (``POLICY_PARAM`` in its params,
committed with its identity). Its guards read that version's policy; a person's decision
(approve) reads the stricter of it and the version in force at that moment. Settings
(``TRADEFSM_*`` variables, ``tradefsm.toml``) named like a policy key may only tighten it for
the process that reads them: a looser one is ignored, and refused in live mode; one that differs
from a key no value is stricter than (the exchange) is refused in every mode. Policies are
cached per version (history rows never change), so a transition pays a dictionary lookup.
"""

from __future__ import annotations

import os
import threading
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from fsm.configfile import CONFIG_FILE
from fsm.errors import InvalidConfiguration
from fsm.kinds import Mode
from fsm.policy import DEFAULT, KEYS, Direction, RiskPolicy, stricter
from fsm.policyhistory import PolicyBook, PolicyChange, current_version, policy_at
from fsm.records import RunRecord
from fsm.requests import POLICY_HASH_PARAM, POLICY_PARAM
from fsm.settings import Settings

Override = tuple[Any, str]  # a setting's value and where it was set


@dataclass(frozen=True)
class Limits:
    """The effective policy of one run and, per key, where its value came from."""

    values: RiskPolicy
    sources: Mapping[str, str]

    def source(self, key: str) -> str:
        return self.sources[key]


def overrides_of(settings: Settings) -> dict[str, Override]:
    """The settings that name a policy key and were set (environment, file or argument)."""
    return {k: (getattr(settings, k), _label(k)) for k in settings.model_fields_set if k in KEYS}


def _label(key: str) -> str:
    if f"TRADEFSM_{key.upper()}" in os.environ:
        return f"TRADEFSM_{key.upper()}"
    path = CONFIG_FILE.get()
    return f"{key} in {path}" if path is not None else f"setting {key}"


def tightened(policy: RiskPolicy, sources: dict[str, str], overrides: Mapping[str, Override],
              live: bool) -> Limits:  # fmt: skip
    """``policy`` made stricter by ``overrides``; InvalidConfiguration in live mode for one
    that is looser (one line naming the setting)."""
    values = policy.model_dump()
    for key, (value, label) in sorted(overrides.items()):
        if KEYS[key] is Direction.SAME and value != values[key]:
            raise InvalidConfiguration(
                f"{label}={value} differs from the risk policy's {key}={values[key]} "
                f"({sources[key]}): settings may not change it; unset it, or change the policy "
                f"(`tradefsm policy set {key}={value}`)"
            )
        strict = KEYS[key].stricter(values[key], value)
        if strict == values[key] and value != values[key]:
            if live:
                raise InvalidConfiguration(
                    f"{label}={value} is looser than the risk policy's {key}={values[key]} "
                    f"({sources[key]}): in live mode settings may only tighten the policy; "
                    "unset it, or change the policy (`tradefsm policy set`)"
                )
            continue
        if strict != values[key]:
            values[key], sources[key] = strict, label
    return Limits(RiskPolicy.model_validate(values), sources)


@dataclass
class PolicyCache:
    """The policy history of one engine, read again only for a version not seen yet."""

    book: PolicyBook
    overrides: Mapping[str, Override]
    _rows: list[PolicyChange] = field(default_factory=list)
    _limits: dict[tuple[str | None, int, int | None, bool], Limits] = field(default_factory=dict)
    _seen: int = -1  # the newest version read so far
    _overridden: set[str] = field(default_factory=set)  # accounts with values of their own
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def current(self) -> int:
        """The version in force now (the history is read again)."""
        return self._refresh()

    def _refresh(self) -> int:
        with self._lock:
            self._rows = self.book.policy_history()
            self._seen = current_version(self._rows)
            self._overridden = {r.account_id for r in self._rows if r.account_id}
            return self._seen

    def pin(self) -> dict[str, Any]:
        """What a new run's params pin: the version in force and its row's hash."""
        version, hash_ = self.book.policy_head() or (0, None)
        return {POLICY_PARAM: version, POLICY_HASH_PARAM: hash_}

    def of_run(self, run: RunRecord, at_approval: int | None = None) -> Limits:
        """The limits of ``run``: its pinned version (tightened by ``at_approval``)."""
        pinned = run.params.get(POLICY_PARAM)
        return self.limits(run.account_id, pinned, run.mode, at_approval)

    def limits(self, account_id: str, pinned: int | None, mode: Mode,
               at_approval: int | None = None) -> Limits:  # fmt: skip
        """The limits of a run of ``account_id`` pinned to ``pinned`` (None: a run from before
        policies, which reads the newest version this process has seen), tightened by the newer
        ``at_approval``. Accounts without values of their own share the default policy's entry."""
        if pinned is None:
            pinned = self._seen if self._seen >= 0 else self._refresh()
        if max(pinned, at_approval or 0) > self._seen:
            self._refresh()
        scope = account_id if account_id in self._overridden else None
        key = (scope, pinned, at_approval, mode is Mode.LIVE)
        found = self._limits.get(key)
        if found is None:
            found = self._limits[key] = self._build(scope, pinned, mode, at_approval)
        return found

    def _build(self, scope: str | None, version: int, mode: Mode,
               at_approval: int | None) -> Limits:  # fmt: skip
        rows = self._rows
        policy = policy_at(rows, scope, version) if version else DEFAULT
        sources = dict.fromkeys(KEYS, f"policy v{version}")
        if at_approval is not None and at_approval != version:
            newer = policy_at(rows, scope, at_approval)
            for key, direction in KEYS.items():
                strict = direction.stricter(getattr(policy, key), getattr(newer, key))
                if strict != getattr(policy, key):
                    sources[key] = f"policy v{at_approval} (in force at approval)"
            policy = stricter(policy, newer)
        return tightened(policy, sources, self.overrides, mode is Mode.LIVE)


def settings_limits(settings: Settings) -> Limits:
    """The code defaults tightened by ``settings`` (a guard evaluated without a policy
    history: unit tests, the legacy facade's dry checks)."""
    sources = dict.fromkeys(KEYS, "policy defaults")
    overrides = overrides_of(settings)
    fixed = {k: v for k, (v, _) in overrides.items() if KEYS[k] is Direction.SAME}
    return tightened(DEFAULT.model_copy(update=fixed), sources, overrides, live=False)
