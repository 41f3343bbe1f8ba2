#!/usr/bin/env bash
# Sweep preset compare_trackers: every built-in tracker (static, lk) on the same queries.
#
#   bash multirun_sweeps/compare_trackers.sh [SCENE.npz|demo] [MASK_KEY] [OVERRIDE ...]
#
# e.g. bash multirun_sweeps/compare_trackers.sh scene.npz sam2_masks query.max_points=100
# Preset: conf/sweep/compare_trackers.yaml; argument handling: multirun_sweeps/_sweep.sh.
set -euo pipefail
exec bash "$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)/_sweep.sh" compare_trackers "$@"
