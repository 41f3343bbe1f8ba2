#!/usr/bin/env bash
# Run a named sweep preset (conf/sweep/PRESET.yaml) as a Hydra multirun.
#
#   bash multirun_sweeps/_sweep.sh PRESET [SCENE.npz|demo] [MASK_KEY] [OVERRIDE ...]
#
# SCENE.npz: a recording (any path; quoted for Hydra), or `demo` / nothing for the built-in demo.
# base_name defaults to the file's name. MASK_KEY: the masks' key in the file (default sam2_masks).
# Every other argument is a Hydra override (key=value) or option (--cfg job, ...), passed on.
# PYTHON selects the interpreter (default: python). Outputs go to ./multirun/<base>/<preset>/<time>/
# relative to the folder you run it from, unless you pass sweep_dir=...
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
run_py="$(dirname "$here")/run.py"

if [[ $# -lt 1 ]]; then
  echo "usage: $0 PRESET [SCENE.npz|demo] [MASK_KEY] [OVERRIDE ...]" >&2
  exit 2
fi
preset="$1"
shift
if [[ ! -f "$(dirname "$here")/conf/sweep/${preset}.yaml" ]]; then
  echo "$0: no sweep preset '${preset}' (conf/sweep/${preset}.yaml)" >&2
  exit 2
fi

hydra_quote() {  # a value for a Hydra override: as is when plain, else 'quoted' (\ and ' escaped)
  if [[ "$1" =~ ^[A-Za-z0-9_./-]+$ ]]; then
    printf '%s' "$1"
    return
  fi
  local s="${1//\\/\\\\}"
  printf "'%s'" "${s//\'/\\\'}"
}

args=()
has_override() {  # is KEY=... among the user's overrides?
  local a
  for a in "${@:2}"; do [[ "$a" == "$1="* || "$a" == "+$1="* || "$a" == "++$1="* ]] && return 0; done
  return 1
}

scene=""
if [[ $# -ge 1 && ( -f "$1" || ( "$1" != *=* && "$1" != -* ) ) ]]; then
  scene="$1"
  shift
fi
mask_key=""
if [[ $# -ge 1 && "$1" != *=* && "$1" != -* ]]; then
  mask_key="$1"
  shift
fi

if [[ -n "$scene" && "$scene" != "demo" ]]; then
  if [[ ! -f "$scene" ]]; then
    echo "$0: no such file: $scene" >&2
    exit 2
  fi
  abs="$(cd "$(dirname -- "$scene")" && pwd)/$(basename -- "$scene")"
  args+=("input.npz=$(hydra_quote "$abs")")
  if ! has_override base_name "$@"; then
    stem="$(basename -- "$scene")"
    stem="${stem%.npz}"
    stem="$(printf '%s' "$stem" | tr -c 'A-Za-z0-9_.-' '_')"
    args+=("base_name=${stem:-scene}")
  fi
fi
if [[ -n "$mask_key" ]] && ! has_override input.mask_key "$@"; then
  args+=("input.mask_key=$(hydra_quote "$mask_key")")
fi

exec "${PYTHON:-python}" "$run_py" -m "sweep=${preset}" "${args[@]}" "$@"
