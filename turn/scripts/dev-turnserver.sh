#!/usr/bin/env bash
# Starts a local coturn for development and tests: loopback only, foreground, TURN REST auth with a shared secret,
# pidfile and user database in a temporary directory. Stop it with Ctrl-C or SIGTERM (it exits in 2-3 s).
#
#   TURN_PORT=3478 TURN_SECRET=dev-secret turn/scripts/dev-turnserver.sh
#   # and the relay:  TURN_URLS=turn:127.0.0.1:3478 TURN_SECRETS=dev-secret npm start
set -euo pipefail
PORT="${TURN_PORT:-3478}"
SECRET="${TURN_SECRET:?set TURN_SECRET (the same value as the relay TURN_SECRETS)}"
MIN_PORT="${TURN_MIN_PORT:-49160}"
MAX_PORT="${TURN_MAX_PORT:-49300}"
command -v turnserver >/dev/null || { echo "turnserver not found: apt-get install coturn" >&2; exit 127; }
DIR="$(mktemp -d "${TMPDIR:-/tmp}/oppie-turn.XXXXXX")"
# EXIT covers every way out, including set -e stopping at `wait` when coturn fails by itself.
trap 'rm -rf "$DIR"' EXIT
# --allow-loopback-peers: on loopback both peers are 127.0.0.1, which coturn refuses by default (403 Forbidden IP).
# stdbuf keeps coturn's log line-buffered so nothing is lost when it is stopped.
stdbuf -oL -eL turnserver -n --no-cli --log-file=stdout --simple-log \
  --listening-ip=127.0.0.1 --relay-ip=127.0.0.1 --listening-port="$PORT" \
  --min-port="$MIN_PORT" --max-port="$MAX_PORT" \
  --use-auth-secret --static-auth-secret="$SECRET" --realm=oppie.local \
  --no-tls --no-dtls --fingerprint --allow-loopback-peers \
  --pidfile="$DIR/turn.pid" --userdb="$DIR/turndb" &
PID=$!
# exit runs the EXIT trap, which removes $DIR once coturn is gone.
stop() { kill -TERM "$PID" 2>/dev/null || true; wait "$PID" 2>/dev/null || true; exit 0; }
trap stop TERM INT
wait "$PID"
