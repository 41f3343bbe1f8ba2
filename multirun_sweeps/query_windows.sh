#!/usr/bin/env bash
# Sweep preset query_windows: contact-window queries, frames_before 0,3 x frames_after 5,10.
#
#   bash multirun_sweeps/query_windows.sh [SCENE.npz|demo] [MASK_KEY] [OVERRIDE ...]
#
# e.g. bash multirun_sweeps/query_windows.sh scene.npz sam2_masks query.max_points=100
# Preset: conf/sweep/query_windows.yaml; argument handling: multirun_sweeps/_sweep.sh.
set -euo pipefail
exec bash "$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)/_sweep.sh" query_windows "$@"
