# Process helpers shared by the benchmark scripts (compare.sh, clock_quality.sh).
# Source it; it defines functions only.

alive_any() {  # PID...: true while any of them exists
  local p
  for p in "$@"; do kill -0 "$p" 2>/dev/null && return 0; done
  return 1
}

# terminate PID...: SIGTERM (timeout forwards it to its child), up to 10 s to
# exit, then SIGKILL; reaps children.
terminate() {
  local p
  [[ $# -gt 0 ]] || return 0
  for p in "$@"; do kill -TERM "$p" 2>/dev/null || true; done
  for _ in $(seq 1 100); do
    alive_any "$@" || break
    sleep 0.1
  done
  for p in "$@"; do kill -KILL "$p" 2>/dev/null || true; done
  for p in "$@"; do wait "$p" 2>/dev/null || true; done
}
