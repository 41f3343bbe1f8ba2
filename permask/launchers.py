"""Multirun launch, on the driver before any job leaves: one absolute sweep folder for every
launcher, and the SLURM or Ray cluster checked so that its absence is one line.

- `pin_sweep_dir(cfg)` resolves `hydra.sweep.dir` on the driver (its `${now:}` and `${pid:}`
  included) to an absolute path and passes it on as a Hydra override, so every job, wherever it
  runs (a Ray worker's working folder, a SLURM node), writes below the folder the user asked for
  and the end-of-sweep comparison finds the runs.
- `check_launcher(launcher_cfg)`: for the submitit SLURM launcher, `sbatch`/`srun`/`sinfo` on
  PATH, a controller that answers, the partition, and a node with the CPUs, memory and GPUs
  asked for (what sbatch would refuse with a traceback); for the Ray launcher with an address, a
  head node that answers there (`ray.init` on a dead address retries for many minutes).

Both run from `permask.callbacks.LaunchCallback` (`hydra.callbacks.launch` in conf/config.yaml);
failures are `ConfigError` / `LauncherError`, printed by run.py as one line, exit 2.
"""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
from pathlib import Path

from omegaconf import DictConfig, OmegaConf, open_dict, read_write

from permask.errors import ConfigError, LauncherError

SWEEP_DIR_KEY = "hydra.sweep.dir"


def _quoted_override(key: str, value: str) -> str:
    """`key='value'` that Hydra's override parser reads back as exactly `value`."""
    from hydra.core.override_parser.overrides_parser import OverridesParser

    if "${" in value:
        raise ConfigError(f"the sweep folder {value!r} contains `${{`, which Hydra would read as "
                          "an interpolation in every job", key="sweep_dir",
                          fix="use a folder name without `${`")
    escaped = value.replace("\\", "\\\\").replace("'", "\\'")
    text = f"{key}='{escaped}'"
    try:
        parsed = OverridesParser.create().parse_override(text).value()
    except Exception as err:  # noqa: BLE001 - any parse failure is the same user-facing problem
        raise ConfigError(f"cannot pass the sweep folder {value!r} to the jobs ({err})",
                          key="sweep_dir", fix="use a folder name without quotes or `${`") from err
    if parsed != value:
        raise ConfigError(f"the sweep folder {value!r} does not survive Hydra's override syntax "
                          f"(read back as {parsed!r})", key="sweep_dir",
                          fix="use a folder name without quotes, backslashes or `${`")
    return text


def pin_sweep_dir(cfg: DictConfig) -> Path:
    """Make `hydra.sweep.dir` absolute on the driver, in `cfg` and in the overrides every job's
    config is rebuilt from (`hydra.overrides.hydra`, read by Hydra's `load_sweep_config`)."""
    folder = Path(str(OmegaConf.select(cfg, SWEEP_DIR_KEY))).expanduser()
    folder = Path(os.path.abspath(folder))  # no symlink resolution: keep the user's spelling
    override = _quoted_override(SWEEP_DIR_KEY, str(folder))
    with read_write(cfg.hydra), open_dict(cfg.hydra):
        cfg.hydra.sweep.dir = str(folder)
        kept = [o for o in cfg.hydra.overrides.hydra
                if not str(o).lstrip("+~").startswith(SWEEP_DIR_KEY + "=")]
        cfg.hydra.overrides.hydra = [*kept, override]
    return folder


# ------------------------------------------------------------------------------------------ SLURM


def _first_line(text: str) -> str:
    lines = [line.strip() for line in (text or "").splitlines() if line.strip()]
    return lines[0] if lines else ""


def check_slurm(partition: str | None = None, cpus: int | None = None, mem_gb: float | None = None,
                gpus: int | None = None, timeout: float = 30.0) -> None:
    """Raise LauncherError unless this machine can submit to a SLURM controller that answers,
    `partition` (None: the default one) exists, and one of its nodes has `cpus` CPUs, `mem_gb` GB
    of memory and `gpus` GPUs (None: not asked)."""
    missing = [exe for exe in ("sbatch", "srun", "sinfo") if shutil.which(exe) is None]
    if missing:
        raise LauncherError(
            f"hydra/launcher=slurm needs a SLURM login node, but {', '.join(missing)} "
            f"{'is' if len(missing) == 1 else 'are'} not on PATH",
            fix="run the sweep where sbatch works, or use hydra/launcher=joblib "
                "(local processes); scripts/slurm.sh start runs a one-node SLURM here")
    try:
        proc = subprocess.run(["sinfo", "-h", "-N", "-o", "%P|%c|%m|%G"], capture_output=True,
                              text=True, timeout=timeout)
    except subprocess.TimeoutExpired:
        raise LauncherError(f"the SLURM controller did not answer `sinfo` within {timeout:.0f} s",
                            fix="check `sinfo` and `scontrol ping`") from None
    if proc.returncode != 0:
        raise LauncherError(f"SLURM does not answer: sinfo: {_first_line(proc.stderr)}",
                            fix="check `scontrol ping`; scripts/slurm.sh start runs a one-node "
                                "SLURM here")
    nodes = [line.split("|") for line in proc.stdout.splitlines() if line.count("|") == 3]
    if not nodes:
        raise LauncherError("SLURM answers but lists no nodes (sinfo -N is empty)",
                            fix="check `sinfo` and `scontrol show nodes`")
    default = [n for n in nodes if n[0].endswith("*")]
    names = sorted({n[0].rstrip("*") for n in nodes})
    if partition is None:
        chosen, where = (default or nodes), "the default partition"
    else:
        chosen, where = [n for n in nodes if n[0].rstrip("*") == str(partition)], \
            f"partition '{partition}'"
        if not chosen:
            raise LauncherError(f"no SLURM partition '{partition}' (this cluster has: "
                                f"{', '.join(names)})", key="hydra.launcher.partition",
                                fix="name one of those, or null for the cluster's default")
    asks = [("cpus_per_task", cpus, 1, "CPUs"), ("mem_gb", mem_gb, 2, "GB of memory"),
            ("gpus_per_node", gpus, 3, "GPUs")]
    for key, wanted, column, what in asks:
        if not wanted:
            continue
        have = max(_node_amount(node[column], column) for node in chosen)
        if have < wanted:
            raise LauncherError(f"{where} has no node with {wanted} {what} (at most {have:g})",
                                key=f"hydra.launcher.{key}",
                                fix=f"ask for at most {have:g}, or name another partition")


def _node_amount(field: str, column: int) -> float:
    """CPUs (column 1), memory in GB (2, sinfo gives MB) or GPUs (3, from `gres`) of one node."""
    field = field.strip().rstrip("+")
    if column == 3:  # e.g. "gpu:4", "gpu:a100:8(S:0-1)", "(null)"
        total = 0
        for item in field.split(","):
            parts = item.split("(")[0].split(":")
            if parts[0] == "gpu" and len(parts) > 1 and parts[-1].isdigit():
                total += int(parts[-1])
        return float(total)
    try:
        value = float(field)
    except ValueError:
        return float("inf")  # unknown: let sbatch judge
    return value / 1024 if column == 2 else value


def check_launcher(launcher: DictConfig) -> None:
    """Check the cluster the configured Hydra launcher needs (SLURM, a Ray address); other
    launchers (basic, joblib, submitit_local, ray_local) need none."""
    target = str(OmegaConf.select(launcher, "_target_", default="") or "")
    if target.endswith("submitit_launcher.SlurmLauncher"):
        check_slurm(OmegaConf.select(launcher, "partition"),
                    cpus=OmegaConf.select(launcher, "cpus_per_task"),
                    mem_gb=OmegaConf.select(launcher, "mem_gb"),
                    gpus=OmegaConf.select(launcher, "gpus_per_node"))
    elif target.endswith("ray_launcher.RayLauncher"):
        check_ray_cluster(OmegaConf.select(launcher, "ray.init.address"))


# -------------------------------------------------------------------------------------------- Ray


def _ray_address_file() -> Path:
    """Where `ray start --head` leaves the address `auto` joins (Ray's own rule where it has one)."""
    try:
        from ray._common.utils import get_ray_address_file

        return Path(get_ray_address_file(None))
    except Exception:  # noqa: BLE001 - private API moved: Ray's documented default
        tmp = os.environ.get("RAY_TMPDIR") or os.environ.get("TMPDIR") or "/tmp"
        return Path(tmp) / "ray" / "ray_current_cluster"


def _ray_address(address: str | None) -> str | None:
    """The host:port a Ray driver would join for `address` (None: it starts its own instance)."""
    if address in (None, "local"):
        return None
    if address == "auto":
        address = os.environ.get("RAY_ADDRESS") or "auto"
    if address == "auto":
        current = _ray_address_file()
        try:
            address = current.read_text().strip()
        except OSError:
            raise LauncherError(
                "hydra/launcher=ray_cluster: no Ray cluster runs on this machine "
                "(ray.init.address: auto)",
                key="hydra.launcher.ray.init.address",
                fix="start one with `ray start --head`, name a head node as HOST:PORT, or use "
                    "hydra/launcher=ray_local") from None
    return address


def check_ray_cluster(address: str | None, timeout: float = 5.0) -> None:
    """Raise LauncherError unless a Ray head answers at `address` (a TCP probe: `ray.init` on a
    dead address retries for many minutes)."""
    target = _ray_address(address)
    if target is None or target.startswith("ray://"):
        return
    host, _, port = target.rpartition(":")
    try:
        with socket.create_connection((host or "127.0.0.1", int(port)), timeout=timeout):
            pass
    except (OSError, ValueError) as err:
        raise LauncherError(f"no Ray cluster answers at {target} ({err})",
                            key="hydra.launcher.ray.init.address",
                            fix="start one with `ray start --head`, or use "
                                "hydra/launcher=ray_local") from None
