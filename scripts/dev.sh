#!/usr/bin/env bash
# Run a command (dagster dev) in its own process group and stop all of it on Ctrl-C or
# SIGTERM: the signal is passed on, and whatever is left after GRACE seconds is killed.
# dagster dev 1.13 leaves its webserver, daemon and code servers running after the signal
# here (measured: even a one-asset project, 40 s later), so `make dev` would never end.
set -u
GRACE="${GRACE:-15}"
setsid "$@" &
child=$!

stop() {
    trap '' INT TERM  # a second signal (make passes one on) must not cut this short
    kill -INT -- "-$child" 2>/dev/null
    for _ in $(seq 1 "$GRACE"); do
        pgrep -g "$child" >/dev/null || exit 0
        sleep 1
    done
    echo "dev.sh: still running after ${GRACE} s; stopping the rest" >&2
    kill -KILL -- "-$child" 2>/dev/null
    exit 0
}
trap stop INT TERM
wait "$child"
status=$?
# dagster dev ended by itself: take its helpers with it
kill -TERM -- "-$child" 2>/dev/null
exit "$status"
