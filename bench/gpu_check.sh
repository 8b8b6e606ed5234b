#!/usr/bin/env bash
# The wgpu backend's numerical check: builds the library with `--features wgpu` and runs
# crates/imgclass/tests/library/gpu.rs. A bundle trained on the CPU must predict the same
# probabilities on wgpu (within 1e-4) for the default CNN, ResNet18 and EfficientNet-Lite0, and
# the default CNN must learn there. Without a GPU it runs on Mesa's software Vulkan driver,
# lavapipe (Debian: mesa-vulkan-drivers, installed here when missing and run as root).
#
# Not part of CI: the feature recompiles Burn's crates (23 min on 2 cores on top of the CPU
# build; CI type-checks it with clippy instead). Run it after changing the device, the models
# or the kernels' fallbacks, and on any machine with a GPU.
#
#   bench/gpu_check.sh
set -euo pipefail
cd "$(dirname "$0")/.."
if command -v dpkg >/dev/null && ! dpkg -s mesa-vulkan-drivers >/dev/null 2>&1 && [ "$(id -u)" = 0 ]; then
    apt-get update -q && DEBIAN_FRONTEND=noninteractive apt-get install -y -q mesa-vulkan-drivers
fi
start=$SECONDS
# One test at a time: lavapipe already uses every core.
cargo test --release -p imgclass --features wgpu --test library gpu -- --test-threads 1 --nocapture
echo "gpu check passed in $((SECONDS - start)) s"
