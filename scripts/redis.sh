#!/usr/bin/env bash
# Sourced by the other scripts: makes sure a Redis answers at $REDIS_URL. When nothing answers and
# the URL points at this machine, starts a redis-server there (loopback only, no persistence) and
# records its pid in STARTED_REDIS_PID so the caller can stop it.
REDIS_URL="${REDIS_URL:-redis://127.0.0.1:6379}"
export REDIS_URL
STARTED_REDIS_PID=""

ensure_redis() {
  if redis-cli -u "$REDIS_URL" ping >/dev/null 2>&1; then
    return 0
  fi
  local hostport host port
  hostport="${REDIS_URL#*://}"
  hostport="${hostport##*@}"
  hostport="${hostport%%/*}"
  host="${hostport%%:*}"
  port="${hostport##*:}"
  [ "$port" = "$hostport" ] && port=6379
  case "$host" in
    127.0.0.1 | localhost) ;;
    *)
      echo "error: nothing answers at $REDIS_URL and it is not on this machine" >&2
      return 1
      ;;
  esac
  echo "redis: nothing answers at $REDIS_URL; starting redis-server on 127.0.0.1:$port (no persistence)"
  redis-server --bind 127.0.0.1 --port "$port" --save "" --appendonly no \
    --dir "$(mktemp -d)" --logfile "" --daemonize no >/dev/null &
  STARTED_REDIS_PID=$!
  for _ in $(seq 1 100); do
    redis-cli -u "$REDIS_URL" ping >/dev/null 2>&1 && return 0
    sleep 0.1
  done
  echo "error: redis-server did not come up on port $port" >&2
  return 1
}
