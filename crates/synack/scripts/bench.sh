#!/usr/bin/env bash
# Bulk throughput synack<->kernel over TUN vs kernel<->kernel over veth (needs root).
set -euo pipefail
cd "$(dirname "$0")/../../.."
exec cargo run --release -p synack-cli --bin synack -- tun bench "$@"
