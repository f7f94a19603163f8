#!/usr/bin/env bash
# The demo: installs what is missing, builds the release, starts Redis if nothing answers at
# REDIS_URL, starts the monitor and a realistic BullMQ workload, and prints the URL and sign-in
# tokens. Ctrl-C stops everything it started.
# Run with: scripts/demo.sh
# Optional: REDIS_URL (default redis://127.0.0.1:6379), BULLMQ_PREFIX (default demo),
#           LEPTOS_SITE_ADDR (default 127.0.0.1:3000), JWT_SECRET (default: a fresh random one),
#           STUCK_AFTER_MS (default 60000 here, so the hanging job is reported within a minute).
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup.sh
export PATH="$HOME/.cargo/bin:$PWD/end2end/node_modules/.bin:$PATH"
# shellcheck source=scripts/redis.sh
. scripts/redis.sh

export BULLMQ_PREFIX="${BULLMQ_PREFIX:-demo}"
export LEPTOS_SITE_ADDR="${LEPTOS_SITE_ADDR:-127.0.0.1:3000}"
export LEPTOS_SITE_ROOT="$PWD/target/site"
export JWT_SECRET="${JWT_SECRET:-$(head -c 24 /dev/urandom | od -An -tx1 | tr -d ' \n')}"
export RUST_LOG="${RUST_LOG:-info}"
# The demo's hanging job shows up as stuck after a minute instead of the default ten.
export STUCK_AFTER_MS="${STUCK_AFTER_MS:-60000}"
# Turns on /metrics (Prometheus); printed below with a curl line.
export METRICS_TOKEN="${METRICS_TOKEN:-$(head -c 16 /dev/urandom | od -An -tx1 | tr -d ' \n')}"

PIDS=()
cleanup() {
  trap - EXIT INT TERM
  echo
  echo "demo: stopping"
  for pid in "${PIDS[@]}"; do kill -TERM "$pid" 2>/dev/null || true; done
  for pid in "${PIDS[@]}"; do wait "$pid" 2>/dev/null || true; done
  [ -n "${DEMO_ALERTS_FILE:-}" ] && rm -f "$DEMO_ALERTS_FILE"
  if [ -n "$STARTED_REDIS_PID" ]; then
    kill "$STARTED_REDIS_PID" 2>/dev/null || true
    wait "$STARTED_REDIS_PID" 2>/dev/null || true
  fi
}
trap cleanup EXIT INT TERM

echo "demo: building the release (scripts/release.sh)"
scripts/release.sh

ensure_redis

# The workload first, so its queues exist when the monitor starts looking.
export READY_FILE
READY_FILE=$(mktemp -u)
(cd end2end && exec node demo/workload.mjs) &
PIDS+=($!)
for _ in $(seq 1 300); do
  [ -e "$READY_FILE" ] && break
  sleep 0.1
done
rm -f "$READY_FILE"

# Alerts: a local webhook receiver (prints what it gets, checks the signature) and a few rules
# the workload makes true (its hanging job gets stuck, its flaky queues fail).
export DEMO_WEBHOOK_SECRET
DEMO_WEBHOOK_SECRET=$(head -c 16 /dev/urandom | od -An -tx1 | tr -d ' \n')
PORT_FILE=$(mktemp -u)
(cd end2end && PORT_FILE="$PORT_FILE" exec node demo/receiver.mjs) &
PIDS+=($!)
for _ in $(seq 1 100); do
  [ -s "$PORT_FILE" ] && break
  sleep 0.1
done
RECEIVER_PORT=$(cat "$PORT_FILE")
rm -f "$PORT_FILE"
DEMO_ALERTS_FILE=$(mktemp --suffix=.toml)
export ALERTS_FILE="$DEMO_ALERTS_FILE" ALERTS_INTERVAL="${ALERTS_INTERVAL:-5s}"
sed "s|@RECEIVER@|http://127.0.0.1:$RECEIVER_PORT/hook|; s|@DASHBOARD@|http://$LEPTOS_SITE_ADDR|" \
  end2end/demo/alerts.toml > "$ALERTS_FILE"

target/release/server &
PIDS+=($!)

for _ in $(seq 1 100); do
  curl -fs "http://$LEPTOS_SITE_ADDR/healthz" >/dev/null 2>&1 && break
  sleep 0.1
done

ADMIN_TOKEN=$(target/release/server token --role ADMIN --sub demo-admin --ttl 12h)
MODERATOR_TOKEN=$(target/release/server token --role MODERATOR --sub demo-moderator --ttl 12h)
cat <<INFO

  BullMQ monitor demo
  Dashboard:        http://$LEPTOS_SITE_ADDR/
  Sign in with one of these tokens (paste it on the sign-in page):
    ADMIN           $ADMIN_TOKEN
    MODERATOR       $MODERATOR_TOKEN
  Job explorer:     http://$LEPTOS_SITE_ADDR/?queue=youtube-sync&state=failed  (click a queue's name;
                    search e.g. failed:"timed out" or data.bandId:band-42; report-generate holds flows)
  REST example:     curl -H "Authorization: Bearer \$TOKEN" http://$LEPTOS_SITE_ADDR/api/v1/admin/jobs/queues
  Alerts:           rules in $ALERTS_FILE; notifications are printed here by the demo receiver
                    (curl -H "Authorization: Bearer \$TOKEN" http://$LEPTOS_SITE_ADDR/api/v1/admin/jobs/alerts)
  Prometheus:       curl -H "Authorization: Bearer $METRICS_TOKEN" http://$LEPTOS_SITE_ADDR/metrics
                    (Grafana dashboard: docs/grafana-dashboard.json)
  Workers, schedulers, limits: a queue's page (email-send has two workers, a scheduler and limits;
                    invoice-export has jobs and no worker: the queue table marks it 0 ⚠)
  OpenAPI:          curl http://$LEPTOS_SITE_ADDR/api/v1/openapi.json  (or: target/release/server openapi)
  Redis:            $REDIS_URL, prefix "$BULLMQ_PREFIX"
  Ctrl-C stops everything the demo started.

INFO
wait -n "${PIDS[@]}"
