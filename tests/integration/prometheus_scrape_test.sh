#!/usr/bin/env bash
# Issue 13 item 2: a real Prometheus server (Debian's 2.42) scrapes the real
# ntsd's /metrics on loopback every second while ntsbench sends NTS load; the
# target must be up and ntp_server_received_packets_total must rise, both as
# Prometheus itself reports them through its HTTP API. Bounded: every wait
# has a deadline, every process started is stopped at exit.
set -euo pipefail
NTSD="$(realpath "$1")"
NTSBENCH="$(realpath "$2")"
PROMETHEUS="${NTSD_PROMETHEUS:-/usr/bin/prometheus}"
source "$(dirname "$0")/../lib/ntsd_process.sh"

[[ -x "$PROMETHEUS" ]] || fail "prometheus not found at $PROMETHEUS: run deploy/setup-dev.sh (Debian package prometheus)"
command -v curl >/dev/null || fail "curl not found"
command -v jq >/dev/null || fail "jq not found"

dir="$TEST_TMPDIR/prometheus"
mkdir -p "$dir"
make_test_pki "$dir/pki"
metrics_port=$(free_port tcp)
cat >"$dir/ntp.conf" <<CONF
interface listen 127.0.0.1
nts cert $dir/pki/cert.pem
nts key $dir/pki/key.pem
nts kerate 0
metrics 127.0.0.1:$metrics_port
CONF
start_ntsd "$dir/ntsd.log" --config "$dir/ntp.conf" --workers 2 --ke-port 0 --state-dir "$dir/state"
grep -q "^ntsd: .*metrics.*127\.0\.0\.1:$metrics_port" "$dir/ntsd.log" \
  || fail "ntsd did not say where /metrics listens: $(cat "$dir/ntsd.log")"

# The endpoint by itself first, so a failure below is Prometheus's, not ours.
scrape=$(curl -sS --max-time 5 "http://127.0.0.1:$metrics_port/metrics") || fail "curl /metrics failed"
grep -q '^ntp_server_received_packets_total ' <<<"$scrape" || fail "no received counter in: $scrape"
grep -q '^ntsd_build_info{' <<<"$scrape" || fail "no build info in: $scrape"

# Prometheus: own storage, own port, ntsd as its only target, scraped every 1 s.
prom_port=$(free_port tcp)
cat >"$dir/prometheus.yml" <<CONF
global:
  scrape_interval: 1s
  scrape_timeout: 1s
  evaluation_interval: 1s
scrape_configs:
  - job_name: ntsd
    static_configs:
      - targets: ['127.0.0.1:$metrics_port']
CONF
"$PROMETHEUS" --config.file="$dir/prometheus.yml" --storage.tsdb.path="$dir/tsdb" \
  --web.listen-address="127.0.0.1:$prom_port" --log.level=warn >"$dir/prometheus.log" 2>&1 &
STARTED_PIDS+=("$!")
prom_pid=$!
api="http://127.0.0.1:$prom_port/api/v1"

# query EXPR: the first sample's value, or empty when there is none yet.
query() {
  curl -sS --max-time 5 --get "$api/query" --data-urlencode "query=$1" 2>/dev/null \
    | jq -r 'select(.status == "success") | .data.result[0].value[1] // empty'
}
# wait_query EXPR TEST SECONDS: polls until the value, read as JSON (a number), passes the jq TEST.
wait_query() {
  local value
  for _ in $(seq 1 $(($3 * 2))); do
    kill -0 "$prom_pid" 2>/dev/null || fail "prometheus exited: $(cat "$dir/prometheus.log")"
    value=$(query "$1")
    if [[ -n "$value" ]] && jq -e "$2" <<<"$value" >/dev/null; then
      echo "$value"
      return 0
    fi
    sleep 0.5
  done
  fail "$1: wanted $2 within $3 s, last value '${value:-none}'; targets: $(curl -sS --max-time 5 "$api/targets" || true)"
}

up=$(wait_query 'up{job="ntsd"}' '. == 1' 30)
echo "up{job=\"ntsd\"} = $up"
before=$(wait_query 'ntp_server_received_packets_total{job="ntsd"}' '. != ""' 30)
echo "received before load: $before"

# NTS load for a bounded time: NTS-KE once per client, then authenticated requests.
load=$(timeout 60 "$NTSBENCH" --port "$NTSD_KE_PORT" --ca "$dir/pki/ca.pem" --clients 8 --threads 1 \
  --rate 1000 --duration 3 --json --quiet 2>"$dir/ntsbench.err") \
  || fail "ntsbench failed: $(cat "$dir/ntsbench.err")"
echo "ntsbench: $load"
sent=$(sed -n 's/.*"sent":\([0-9]*\).*/\1/p' <<<"$load")
[[ ${sent:-0} -ge 1000 ]] || fail "ntsbench sent too little: $load"

# Prometheus must see the counter rise by (nearly) what ntsbench sent, and
# the NTS replies and the per-worker split with it.
after=$(wait_query 'ntp_server_received_packets_total{job="ntsd"}' ". >= $((before + sent))" 30)
echo "received after load: $after (ntsbench sent $sent)"
rate=$(wait_query 'sum(increase(ntp_server_nts_accepted_packets_total{job="ntsd"}[1m]))' '. > 0' 15)
echo "NTS replies in the last minute (increase): $rate"
workers=$(wait_query 'sum(ntsd_worker_received_packets_total{job="ntsd"})' ". >= $after" 15)
echo "sum over workers: $workers"
handshakes=$(wait_query 'ntsd_nts_ke_handshakes_total{job="ntsd",result="ok"}' '. >= 8' 15)
echo "NTS-KE handshakes ok: $handshakes"
up=$(query 'up{job="ntsd"}')
[[ "$up" == 1 ]] || fail "target not up after the load: $up"

# Scrape health as Prometheus saw it: no failed scrape of a non-empty body.
samples=$(query 'scrape_samples_scraped{job="ntsd"}')
echo "samples per scrape: $samples"
[[ ${samples:-0} -ge 50 ]] || fail "too few samples per scrape: $samples"

stop_ntsd "$dir/ntsd.log"
echo PASS
