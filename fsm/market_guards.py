"""Guards that read the exchange calendar (``fsm.calendar``): a session as_of, an open
market when orders are about to be sent, and the age of prices in sessions."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from functools import wraps

from fsm.calendar import MarketCalendar, calendar_for, exchange_of
from fsm.errors import InvalidInput
from fsm.guardcontext import Guard, GuardContext, decision, limits_of
from fsm.kinds import Mode
from fsm.records import GuardDecision, RebalancePlan

SENDS_ORDERS = frozenset({Mode.PAPER, Mode.LIVE})
A_MONTH = timedelta(days=31)  # every exchange has a session within any month


def _calendar(ctx: GuardContext) -> MarketCalendar:
    return calendar_for(exchange_of(limits_of(ctx).values))


def _refused_without_calendar(guard: Guard) -> Guard:
    """A calendar that cannot answer (an unknown exchange, a year it does not cover) refuses,
    recorded like any refusal, instead of stopping the run half-way."""

    @wraps(guard)
    def check(ctx: GuardContext) -> GuardDecision:
        try:
            return guard(ctx)
        except InvalidInput as exc:
            exchange = exchange_of(limits_of(ctx).values)
            return decision(guard.__name__, False, exc.message, exchange=exchange)

    return check


def _utc(moment: datetime) -> str:
    return moment.astimezone(UTC).strftime("%Y-%m-%d %H:%M UTC")


@_refused_without_calendar
def as_of_session(ctx: GuardContext) -> GuardDecision:
    """Paper and live runs trade on a session of the exchange; a dry run or a signals-only
    run, which send nothing, may look at any day (their prices are the last session's)."""
    cal = _calendar(ctx)
    if ctx.mode not in SENDS_ORDERS:
        return decision("as_of_session", True, f"{ctx.mode.value} sends no order",
                        as_of=ctx.as_of, exchange=cal.exchange)  # fmt: skip
    passed = cal.is_session(ctx.as_of)
    if passed:
        reason = f"{ctx.as_of} is a session of {cal.exchange}"
    else:
        last = cal.last_on_or_before(ctx.as_of).day
        after = cal.sessions(ctx.as_of, min(ctx.as_of, date.max - A_MONTH) + A_MONTH)
        following = f", the next {after[0].day}" if after else ""
        reason = (f"{ctx.as_of} ({ctx.as_of:%A}) is no session of {cal.exchange}: the last "
                  f"one was {last}{following}; run for a session or in dry-run mode")  # fmt: skip
    return decision("as_of_session", passed, reason, as_of=ctx.as_of, exchange=cal.exchange)


@_refused_without_calendar
def market_open(ctx: GuardContext) -> GuardDecision:
    """Orders go out only while the exchange is open (by the Clock's time of the transition);
    a refusal names the next open."""
    cal = _calendar(ctx)
    now = ctx.now
    if now is None:
        return decision("market_open", False, "no time given to check the market against",
                        exchange=cal.exchange)  # fmt: skip
    session = cal.open_session(now)
    if session is not None:
        early = " (early close)" if session.early else ""
        return decision("market_open", True,
                        f"{cal.exchange} open at {_utc(now)}, closes {_utc(session.close)}{early}",
                        exchange=cal.exchange, now=now.isoformat())  # fmt: skip
    nxt = cal.next_open(now)
    return decision("market_open", False,
                    f"{cal.exchange} is closed at {_utc(now)}; next open {_utc(nxt.open)}",
                    exchange=cal.exchange, now=now.isoformat(),
                    next_open=nxt.open.isoformat())  # fmt: skip


@_refused_without_calendar
def prices_fresh(ctx: GuardContext) -> GuardDecision:
    """No price of the plan older than ``max_price_age_days`` sessions of the exchange before
    the run's as_of — or, at approval, before the approval day."""
    plan = ctx.output
    assert isinstance(plan, RebalancePlan), "plan guards need a RebalancePlan"
    cal = _calendar(ctx)
    against = ctx.priced_against or ctx.as_of
    dates = plan.price_dates or {i.symbol: plan.as_of for i in plan.items}
    lim = limits_of(ctx)
    limit = lim.values.max_price_age_days
    ages = {s: cal.sessions_after(d, against) for s, d in dates.items()}
    symbol = max(ages, key=lambda s: (ages[s], s), default=None)
    age = ages[symbol] if symbol else 0
    passed = age <= limit
    oldest = f"{symbol} priced {dates[symbol]}" if symbol else "no prices"
    reason = (
        f"oldest price: {oldest}, {age} {cal.exchange} session(s) before {against}; limit {limit}"
    ) + ("" if passed else ": refresh the data and retry the run")
    return decision("prices_fresh", passed, reason, oldest=oldest, against=against, limit=limit,
                    exchange=cal.exchange, source=lim.source("max_price_age_days"))  # fmt: skip
