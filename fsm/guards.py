"""Guards: pure functions over typed step outputs and settings, each returning a decision.

Every guard of a transition is evaluated (none short-circuits), so the ledger shows the whole
picture of why a transition was allowed or refused.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Mapping
from decimal import Decimal

from fsm.actors import same_actor
from fsm.daily import daily_limits
from fsm.guardcontext import Guard, GuardContext, decision, limits_of, plan_of
from fsm.kinds import Mode
from fsm.limitguards import (
    approval_needed,
    approval_not_needed,
    max_orders,
    order_notional_limit,
    order_qty_limit,
    symbols_allowed,
    total_notional_limit,
)
from fsm.lineage import Lineage
from fsm.market_guards import as_of_session, market_open, prices_fresh
from fsm.pluginrecords import TERMINAL, Side, SignalSet
from fsm.records import AllocationAnalysis, ExecutionReport, GuardDecision, Outcome
from fsm.signatures import guard_outcome

SYMBOL_PATTERN = re.compile(r"^[A-Z][A-Z0-9.\-]{0,11}$")


def mode_allowed(ctx: GuardContext) -> GuardDecision:
    live_ok = ctx.mode is not Mode.LIVE or ctx.settings.live_trading_enabled
    reason = "mode allowed" if live_ok else "live mode needs TRADEFSM_LIVE_TRADING_ENABLED=true"
    return decision(
        "mode_allowed",
        live_ok,
        reason,
        mode=ctx.mode.value,
        live_trading_enabled=ctx.settings.live_trading_enabled,
    )


def broker_endpoint(ctx: GuardContext) -> GuardDecision:
    """Which broker endpoint the run trades through, and whether its mode may use it: paper
    orders only to a paper endpoint, live orders only to a live one (``mode_allowed`` says
    whether live trading is enabled at all)."""
    s = ctx.settings
    endpoint = {"alpaca": s.alpaca_base_url, "paper": "the embedded paper broker"}.get(
        s.broker, f"broker plugin {s.broker!r}"
    )  # another plugin counts as paper: live orders go to Alpaca only
    kind = "live" if s.live_endpoint else "paper"
    sends = ctx.mode in (Mode.PAPER, Mode.LIVE)
    if not sends:
        passed, reason = True, f"{ctx.mode.value} sends no order ({kind} endpoint {endpoint})"
    elif ctx.mode is Mode.LIVE:
        passed = kind == "live"
        reason = (f"live orders go to {endpoint}" if passed else
                  f"live mode needs a live endpoint (TRADEFSM_BROKER=alpaca, "
                  f"TRADEFSM_ALPACA_BASE_URL); this run would use {endpoint}")  # fmt: skip
    else:
        passed = kind == "paper"
        reason = (f"paper orders go to {endpoint}" if passed else
                  f"paper mode refused: {endpoint} is a live endpoint")  # fmt: skip
    return decision("broker_endpoint", passed, reason, broker=s.broker, endpoint=endpoint,
                    kind=kind, mode=ctx.mode.value)  # fmt: skip


def as_of_fresh(ctx: GuardContext) -> GuardDecision:
    age = (ctx.today - ctx.as_of).days
    lim = limits_of(ctx)
    limit = lim.values.stale_after_days
    passed = 0 <= age <= limit
    if passed:
        reason = f"as_of is {age} day(s) old"
    elif age < 0:
        reason = f"as_of {ctx.as_of} is {-age} day(s) in the future; allowed 0..{limit} old"
    else:
        reason = f"as_of {ctx.as_of} is {age} day(s) old; allowed 0..{limit}"
    return decision("as_of_fresh", passed, reason, as_of=ctx.as_of, today=ctx.today, limit=limit,
                    source=lim.source("stale_after_days"))  # fmt: skip


def _mode_in(name: str, modes: frozenset[Mode]) -> Guard:
    def check(ctx: GuardContext) -> GuardDecision:
        passed = ctx.mode in modes
        wanted = ", ".join(sorted(m.value for m in modes))
        return decision(
            name, passed, f"mode {ctx.mode.value}; needs one of {wanted}", mode=ctx.mode
        )

    check.__name__ = name
    return check


def _signals(ctx: GuardContext) -> SignalSet:
    assert isinstance(ctx.output, SignalSet), "signal guards need a SignalSet"
    return ctx.output


def has_signals(ctx: GuardContext) -> GuardDecision:
    count = len(_signals(ctx).targets)
    return decision("has_signals", count > 0, f"{count} target weight(s)", count=count)


def weights_in_range(ctx: GuardContext) -> GuardDecision:
    weights = [t.weight for t in _signals(ctx).targets]
    total = sum(weights, Decimal(0))
    bad = [str(w) for w in weights if not Decimal(0) <= w <= Decimal(1)]
    passed = not bad and total <= Decimal(1)
    reason = "weights in [0, 1], sum ≤ 1" if passed else f"weights out of range {bad}, sum {total}"
    return decision("weights_in_range", passed, reason, total=total, out_of_range=len(bad))


def symbols_well_formed(ctx: GuardContext) -> GuardDecision:
    symbols = [t.symbol for t in _signals(ctx).targets]
    bad = [s for s in symbols if not SYMBOL_PATTERN.match(s)]
    dupes = sorted({s for s in symbols if symbols.count(s) > 1})
    passed = not bad and not dupes
    reason = "symbols well formed" if passed else f"malformed {bad[:5]}, duplicated {dupes[:5]}"
    return decision("symbols_well_formed", passed, reason, count=len(symbols))


def _analysis(ctx: GuardContext) -> AllocationAnalysis:
    assert isinstance(ctx.output, AllocationAnalysis), "drift guards need an AllocationAnalysis"
    return ctx.output


def drift_above_threshold(ctx: GuardContext) -> GuardDecision:
    a = _analysis(ctx)
    passed = a.max_drift > a.drift_threshold
    return decision(
        "drift_above_threshold",
        passed,
        f"max drift {a.max_drift} vs threshold {a.drift_threshold}",
        max_drift=a.max_drift,
        threshold=a.drift_threshold,
    )


def drift_within_threshold(ctx: GuardContext) -> GuardDecision:
    above = drift_above_threshold(ctx)
    return above.model_copy(update={"name": "drift_within_threshold", "passed": not above.passed})


def trades_required(ctx: GuardContext) -> GuardDecision:
    n = len(plan_of(ctx).trades)
    return decision("trades_required", n > 0, f"{n} BUY/SELL item(s)", trades=n)


def no_trades_required(ctx: GuardContext) -> GuardDecision:
    req = trades_required(ctx)
    return req.model_copy(update={"name": "no_trades_required", "passed": not req.passed})


def buying_power(ctx: GuardContext) -> GuardDecision:
    plan = plan_of(ctx)
    buys = sum((i.amount for i in plan.trades if i.action is Side.BUY), Decimal(0))
    sells = sum((-i.amount for i in plan.trades if i.action is Side.SELL), Decimal(0))
    power = plan.buying_power
    available = power + sells
    return decision(
        "buying_power",
        buys <= available,
        f"buys ${buys} vs buying power ${power} + sells ${sells}",
        buys=buys,
        sells=sells,
        buying_power=power,
    )


def _report(ctx: GuardContext) -> ExecutionReport:
    assert isinstance(ctx.output, ExecutionReport), "execution guards need an ExecutionReport"
    return ctx.output


def orders_terminal(ctx: GuardContext) -> GuardDecision:
    open_ = [o.client_order_id for o in _report(ctx).orders if o.status not in TERMINAL]
    reason = "every order terminal" if not open_ else f"{len(open_)} order(s) still open"
    return decision("orders_terminal", not open_, reason, open=len(open_))


def execution_succeeded(ctx: GuardContext) -> GuardDecision:
    r = _report(ctx)
    partial = r.outcome is Outcome.PARTIAL_SUCCESS
    partial_ok = partial and limits_of(ctx).values.allow_partial_success
    passed = r.outcome is Outcome.SUCCESS or partial_ok
    return decision(
        "execution_succeeded",
        passed,
        f"outcome {r.outcome.value}: {r.succeeded} of {r.placed} order(s) succeeded",
        outcome=r.outcome.value,
        placed=r.placed,
        succeeded=r.succeeded,
    )


def operator_named(ctx: GuardContext) -> GuardDecision:
    """A person's decision (approve, reject, cancel) names who and why; both are kept in
    the decision's inputs, so the chain commits to the reason given."""
    passed = _visible(ctx.actor) and _visible(ctx.reason)
    said = "actor and reason given" if passed else "needs --actor and --reason"
    inputs = {"actor": ctx.actor or "", "reason": ctx.reason or ""}
    return GuardDecision(name="operator_named", passed=passed, reason=said, inputs=inputs)


def _visible(text: str | None) -> bool:
    """Some character a reader can see: not only spaces, controls or invisible formatting."""
    return any(unicodedata.category(ch)[0] not in "ZC" for ch in text or "")


def four_eyes(ctx: GuardContext) -> GuardDecision:
    """The approver is someone other than the requester of the run and of every run it was
    retried from, and than anyone who rejected a plan in that lineage."""
    approver = (ctx.actor or "").strip()
    lineage = ctx.lineage or Lineage((), ((ctx.requester or "").strip(),))
    barred = [*lineage.requesters, *lineage.rejecters]
    clash = next((name for name in barred if same_actor(name, approver)), None)
    passed = bool(approver) and clash is None
    who = f"requested by {', '.join(dict.fromkeys(lineage.requesters))}" + (
        f", rejected by {', '.join(dict.fromkeys(lineage.rejecters))}" if lineage.rejecters else ""
    )
    if passed:
        reason = f"approved by {approver}, {who}"
    else:
        reason = (f"{approver or 'nobody'} may not approve: the approver must be someone other "
                  f"than those {who} (this run and the runs it was retried from)")  # fmt: skip
    requester = lineage.requesters[0] if lineage.requesters else ""
    return decision("four_eyes", passed, reason, approver=approver, requester=requester,
                    **lineage.inputs())  # fmt: skip


def approval_signed(ctx: GuardContext) -> GuardDecision:
    """An approval signed with a key registered for the approver (fsm.signatures): required
    by TRADEFSM_REQUIRE_SIGNED_APPROVALS and in live mode; a rejection is checked if signed."""
    approving = ctx.approval is None or ctx.approval.decision == "approve"
    required = approving and (limits_of(ctx).values.require_signed_approvals
                              or ctx.mode is Mode.LIVE)  # fmt: skip
    passed, why, inputs = guard_outcome(ctx.approval, ctx.actor or "", ctx.reason or "", required)
    return GuardDecision(name="approval_signed", passed=passed, reason=why, inputs=inputs)


def prices_sane(ctx: GuardContext) -> GuardDecision:
    """Every price within [min_price, max_price] and within max_price_move of the close before."""
    a, s = _analysis(ctx), limits_of(ctx).values
    bad = [f"{sym} ${p} outside ${s.min_price}..${s.max_price}" for sym, p in a.prices.items()
           if not s.min_price <= p <= s.max_price]  # fmt: skip
    for sym, before in a.previous_prices.items():
        move = abs(a.prices[sym] - before) / before
        if move > s.max_price_move:
            bad.append(f"{sym} moved {move:.1%} from ${before} to ${a.prices[sym]}")
    reason = "; ".join(bad[:5]) if bad else f"{len(a.prices)} price(s) plausible"
    return decision("prices_sane", not bad, reason, refused=len(bad), min=s.min_price,
                    max=s.max_price, max_move=s.max_price_move)  # fmt: skip


GUARDS: dict[str, Guard] = {
    g.__name__: g
    for g in (
        mode_allowed,
        broker_endpoint,
        as_of_fresh,
        as_of_session,
        _mode_in("full_run_mode", frozenset({Mode.PAPER, Mode.LIVE, Mode.DRY_RUN})),
        _mode_in("signals_only_mode", frozenset({Mode.SIGNALS_ONLY})),
        _mode_in("dry_run_mode", frozenset({Mode.DRY_RUN})),
        _mode_in("mode_executes_orders", frozenset({Mode.PAPER, Mode.LIVE})),
        has_signals,
        weights_in_range,
        symbols_well_formed,
        drift_above_threshold,
        drift_within_threshold,
        trades_required,
        no_trades_required,
        max_orders,
        order_notional_limit,
        total_notional_limit,
        buying_power,
        symbols_allowed,
        orders_terminal,
        execution_succeeded,
        operator_named,
        approval_needed,
        approval_not_needed,
        four_eyes,
        approval_signed,
        prices_fresh,
        market_open,
        prices_sane,
        order_qty_limit,
        daily_limits,
    )
}


def evaluate(
    names: tuple[str, ...], ctx: GuardContext, guards: Mapping[str, Guard] = GUARDS
) -> tuple[GuardDecision, ...]:
    return tuple(guards[name](ctx) for name in names)
