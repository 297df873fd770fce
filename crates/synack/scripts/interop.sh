#!/usr/bin/env bash
# Run synack's interop suite against the kernel's TCP (needs root): the
# runtime's tests and those of the `synack tun` command.
set -euo pipefail
cd "$(dirname "$0")/../../.."
exec cargo nextest run --release -p synack -p synack-cli --test interop --test tun "$@"
