#!/usr/bin/env bash
# Run synack's interop suite against the kernel's TCP (needs root).
set -euo pipefail
cd "$(dirname "$0")/../../.."
exec cargo nextest run --release -p synack --test interop "$@"
