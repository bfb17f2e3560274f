#!/usr/bin/env bash
# Validates every object in deploy/kubernetes/*.yaml (issue 15 item 4), called
# by deploy/test.sh: npm installs the pinned validator packages
# (validate/package-lock.json: kubernetes-models, the Prometheus operator's
# models, yaml, typescript) into a temp folder, the validator first proves it
# rejects broken objects (--self-test), then checks each object against the
# Kubernetes API schema of its kind (the operator's CRD schema for
# monitoring.coreos.com) and type-checks it against the same models'
# TypeScript interfaces, which catches misspelt or unknown fields.
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
command -v npm >/dev/null && command -v node >/dev/null || { echo "validate: npm/node not found: run deploy/setup-dev.sh" >&2; exit 1; }
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
cp "$here/validate/package.json" "$here/validate/package-lock.json" "$here/validate/validate.js" "$work/"
(cd "$work" && npm ci --no-audit --no-fund --loglevel=error >/dev/null) || { echo "validate: npm ci failed" >&2; exit 1; }
node "$work/validate.js" --self-test
node "$work/validate.js" "$here"/*.yaml
