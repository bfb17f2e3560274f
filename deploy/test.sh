#!/usr/bin/env bash
# README command (b): installs what is missing and runs the whole test suite:
#   1. bazel test //...                  (unit, integration, interop, fuzz replay)
#   2. bazel test --config=asan //...    (the same under AddressSanitizer + LeakSanitizer,
#                                         except the attack-load tests tagged "load", whose
#                                         figures are about speed and run in step 1; only
#                                         tests and what they use are built: benchmarks and
#                                         tools were compiled in step 1)
#   3. bazel test --config=tsan  on the concurrent pieces (snapshot publication)
#   4. bazel test --config=fuzz //tests/fuzz/...   (clang + libFuzzer, 20 s per target)
#   5. deploy: the Debian package (built -c opt, lintian, installed into a throwaway
#      root, systemd-analyze, ntsd --check and a start there) and the Kubernetes
#      manifests validated against the API schemas (deploy/README.md)
# CI (.ci/run) runs exactly this.
set -euo pipefail
cd "$(dirname "$0")/.."
deploy/setup-dev.sh

# Each stage says how long the one before it took, so a slow stage shows in
# CI's log without a rerun.
stage_start=$SECONDS
step() {
  echo; echo "=== $* === (previous stage $((SECONDS - stage_start)) s, total ${SECONDS} s)"
  stage_start=$SECONDS
}

# What a newcomer reads: the stages, progress at most every 30 s, a terse
# summary and the log of a failing test. Every test's full log stays in
# bazel-testlogs/<package>/<target>/test.log (.bazelrc keeps Bazel's sandbox
# trace out of them).
bazel() { command bazel "$1" --show_progress_rate_limit=30 "${@:2}"; }

# Most integration tests wait (chronyd polls, kill -9 loops, NTS-KE
# handshakes) rather than compute, yet by default each holds one of the
# machine's CPU slots for its whole run, so compiling stalls behind them.
# --local_test_jobs makes Bazel count tests apart from the CPU slots
# (compiles keep them all): on 2 cores, at most 3 tests beside 2 compiles.
# Tests that measure speed stay "exclusive" (alone, after everything else).
# Not for TSan or the fuzz stage: those tests compute.
cores=$(nproc)
TEST_SLOTS=(--jobs=$((2 * cores + 1)) --local_test_jobs=$((cores + 1)))

step "bazel test //..."
bazel test "${TEST_SLOTS[@]}" //...

step "bazel test --config=asan //... (without the \"load\" tests)"
bazel test --config=asan "${TEST_SLOTS[@]}" --test_tag_filters=-load --build_tests_only //...

step "bazel test --config=tsan (concurrency tests)"
bazel test --config=tsan $(bazel query 'attr(tags, "tsan", tests(//...))' 2>/dev/null | tr '\n' ' ')

step "bazel test --config=fuzz //tests/fuzz/... (libFuzzer, 20 s per target)"
bazel test --config=fuzz //tests/fuzz/...

step "deploy: Debian package and Kubernetes manifests"
deploy/deb/test-deb.sh
deploy/kubernetes/validate.sh

step "done"
echo "All test stages passed. Logs of every test: bazel-testlogs/<package>/<target>/test.log"
