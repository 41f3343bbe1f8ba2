#!/usr/bin/env bash
# Sweep preset stride_downsample: temporal_stride 1,2 x spatial_downsample 1,2.
#
#   bash multirun_sweeps/stride_downsample.sh [SCENE.npz|demo] [MASK_KEY] [OVERRIDE ...]
#
# e.g. bash multirun_sweeps/stride_downsample.sh scene.npz sam2_masks query.max_points=100
# Preset: conf/sweep/stride_downsample.yaml; argument handling: multirun_sweeps/_sweep.sh.
set -euo pipefail
exec bash "$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)/_sweep.sh" stride_downsample "$@"
