#!/usr/bin/env bash
# README command (a): installs what is missing, builds ntsd and runs it in the
# foreground on its embedded default (NTP on 127.0.0.1 and ::1, UDP port
# 11123, local stratum-10 reference). Ctrl-C stops it. Extra arguments go to
# ntsd, e.g. deploy/demo.sh --workers 2 --io-backend mmsg
set -euo pipefail
cd "$(dirname "$0")/.."
deploy/setup-dev.sh
exec bazel run -c opt //daemon:ntsd -- "$@"
