#!/bin/sh
# Queue today's rebalance MINUTES before the exchange's close, early closes included
# (docs/scheduling.md). Start it from cron or a timer in the morning; extra arguments go to
# `tradefsm submit`. TODAY=YYYY-MM-DD reads another day's session (for testing the recipe).
set -eu
minutes=${1:?usage: before-close.sh MINUTES [submit options]}
shift
today=${TODAY:-$(date -u +%F)}
close=$(tradefsm calendar --json --from "$today" --to "$today" |
        python3 -c 'import json, sys; s = json.load(sys.stdin); print(s[0]["close"] if s else "")')
if [ -z "$close" ]; then
    echo "no session on $today"  # submit --trading-day auto would record a cancelled run
    exit 0
fi
at=$(python3 -c 'import sys, datetime as d; print(int((d.datetime.fromisoformat(sys.argv[1]) - d.timedelta(minutes=int(sys.argv[2]))).timestamp()))' "$close" "$minutes")
wait=$((at - $(date -u +%s)))
if [ "$wait" -gt 0 ]; then
    echo "submitting in $wait s ($minutes minutes before the close at $close)"
    sleep "$wait"
else
    echo "$minutes minutes before the close at $close has passed: submitting now"
fi
exec tradefsm submit --trading-day auto "$@"
