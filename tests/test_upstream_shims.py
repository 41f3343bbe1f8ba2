"""The scoped shims SpatialTrackerV2's adapter puts around upstream's calls: `.cuda()` sent to
the model's device (permask/trackers/cuda_redirect.py) and its own utils3d beside another one
(permask/trackers/upstream_env.py). Both must be undone afterwards and stay out of other
threads."""

import importlib
import sys
import threading

import pytest

torch = pytest.importorskip("torch")

from permask.trackers.cuda_redirect import cuda_calls_to  # noqa: E402
from permask.trackers.upstream_env import ModuleSwap, torchvision_write_video  # noqa: E402

needs_no_cuda = pytest.mark.skipif(torch.cuda.is_available(), reason="this machine has CUDA")


@needs_no_cuda
def test_cuda_calls_go_to_the_device_inside_the_block_only():
    original_tensor, original_module = torch.Tensor.cuda, torch.nn.Module.cuda
    layer = torch.nn.Linear(2, 2)
    with cuda_calls_to(torch.device("cpu")):
        assert torch.zeros(3).cuda().device.type == "cpu"
        assert torch.zeros(3).cuda(non_blocking=True).device.type == "cpu"
        assert layer.cuda() is layer and layer.weight.device.type == "cpu"
        with cuda_calls_to("cpu"):  # nested blocks
            assert torch.ones(1).cuda().device.type == "cpu"
        assert torch.ones(1).cuda().device.type == "cpu"
    assert torch.Tensor.cuda is original_tensor and torch.nn.Module.cuda is original_module
    with pytest.raises((AssertionError, RuntimeError)):  # torch's own: no CUDA here
        torch.zeros(1).cuda()


@needs_no_cuda
def test_another_thread_keeps_torchs_own_cuda_while_a_block_runs():
    inside, outside = threading.Event(), threading.Event()
    seen = {}

    def other():
        inside.wait(10)
        try:
            torch.zeros(1).cuda()
            seen["other"] = "redirected"
        except (AssertionError, RuntimeError):
            seen["other"] = "torch's own"
        outside.set()

    thread = threading.Thread(target=other)
    thread.start()
    with cuda_calls_to("cpu"):
        inside.set()
        outside.wait(10)
        seen["mine"] = torch.zeros(1).cuda().device.type
    thread.join()
    assert seen == {"other": "torch's own", "mine": "cpu"}


def write_package(folder, value):
    (folder / "shimpkg").mkdir(parents=True)
    (folder / "shimpkg" / "__init__.py").write_text(f"VALUE = {value!r}\n")
    (folder / "shimpkg" / "sub.py").write_text(f"VALUE = {value!r}\n")


def test_module_swap_gives_its_copy_inside_and_the_process_copy_outside(tmp_path, monkeypatch):
    write_package(tmp_path / "installed", "installed")
    write_package(tmp_path / "pinned", "pinned")
    monkeypatch.syspath_prepend(str(tmp_path / "installed"))
    for name in [n for n in sys.modules if n.startswith("shimpkg")]:
        del sys.modules[name]
    installed = importlib.import_module("shimpkg")
    swap = ModuleSwap("shimpkg", str(tmp_path / "pinned"))
    with swap.active():
        first = importlib.import_module("shimpkg")
        assert first.VALUE == "pinned" and importlib.import_module("shimpkg.sub").VALUE == "pinned"
    assert sys.modules["shimpkg"] is installed and "shimpkg.sub" not in sys.modules
    assert str(tmp_path / "pinned") not in sys.path
    with swap.active():  # the same modules again, not a second import
        assert importlib.import_module("shimpkg") is first
    assert ModuleSwap("shimpkg", None).active  # None: nothing swapped
    with ModuleSwap("shimpkg", None).active():
        assert sys.modules["shimpkg"] is installed
    for name in [n for n in sys.modules if n.startswith("shimpkg")]:
        del sys.modules[name]


def test_write_video_stand_in_only_during_the_block(monkeypatch):
    """A torchvision without io.write_video (0.22+) gets one that raises, for the block only
    (a module stands in where torchvision is not installed)."""
    import types

    try:
        import torchvision.io as tvio
    except ImportError:
        tvio = types.ModuleType("torchvision.io")
        top = types.ModuleType("torchvision")
        top.io = tvio
        monkeypatch.setitem(sys.modules, "torchvision", top)
        monkeypatch.setitem(sys.modules, "torchvision.io", tvio)
    if hasattr(tvio, "write_video"):
        monkeypatch.delattr(tvio, "write_video")
    with torchvision_write_video():
        with pytest.raises(NotImplementedError):
            tvio.write_video("x.mp4", None, 1)
    assert not hasattr(tvio, "write_video")
