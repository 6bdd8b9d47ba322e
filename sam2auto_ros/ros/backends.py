"""Which propagator / detector a node runs, chosen by parameters, built at configure.

Every failure to build one (a missing checkpoint, an unknown model, a backend not installed) is
raised as ``ConfigureError`` with the file, the reason and the command that fixes it; the node
logs it and stays unconfigured. ``flow-fallback`` and ``sim-noise`` need no weights, so the whole
graph runs meaningfully on a fresh machine.
"""

from __future__ import annotations

from typing import Any

from sam2auto_ros.core.propagation import Propagator
from sam2auto_ros.ros.managed_node import ConfigureError
from sam2auto_ros.ros.params import ParamSpec

PROPAGATORS = ("flow-fallback", "sam2", "onnx")
DEFAULT_GPU_PROVIDERS = ("TensorrtExecutionProvider", "CUDAExecutionProvider", "CPUExecutionProvider")

PROPAGATOR_PARAMS = (
    ParamSpec("propagator", "flow-fallback", "Mask propagation backend: sam2 (torch), onnx (onnxruntime) or the "
              "weight-free optical-flow fallback.", choices=PROPAGATORS),
    ParamSpec("model", "sam2.1_hiera_tiny", "SAM 2 registry model name (sam2/onnx backends)."),
    ParamSpec("checkpoint", "", "SAM 2 checkpoint file; empty: look up the model in $SAM2AUTO_MODELS_DIR, "
              "models_dir, then the repository's models/ (onnx: used to verify the graphs' checkpoint hash)."),
    ParamSpec("onnx_dir", "", "Folder of the exported SAM 2 ONNX graphs (onnx); empty: models/onnx/<model>-<size>-fp32 "
              "as `sam2auto export` writes it."),
    ParamSpec("models_dir", "", "Extra folder searched for model files."),
    ParamSpec("device", "cpu", "Torch device (cpu, cuda, cuda:0); for onnx, anything but cpu tries TensorRT, "
              "then CUDA, then CPU."),
    ParamSpec("image_size", 0, "SAM 2 input side in pixels; 0 keeps the model's own (1024).", low=0, high=4096),
    ParamSpec("torch_threads", 0, "Torch (or onnxruntime) intra-op threads; 0 leaves the library default.", low=0, high=256),
)


def set_torch_threads(count: int) -> None:
    if count > 0:
        import torch

        torch.set_num_threads(count)


def make_propagators(params: dict[str, Any], count: int = 1) -> tuple[list[Propagator], str]:
    """``count`` propagators of the kind ``params["propagator"]`` names (one per camera) and a
    one-line description of their model. SAM 2 weights (torch or ONNX sessions) are loaded once and
    shared: each camera gets its own engine, i.e. its own memory banks and frame ring."""
    kind = params["propagator"]
    if kind == "flow-fallback":
        from sam2auto_ros.fallback import OpticalFlowPropagator

        return [OpticalFlowPropagator() for _ in range(count)], "dense optical flow (no weights)"
    if kind == "sam2":
        set_torch_threads(params["torch_threads"])
        from sam2auto_ros.sam2.engine import Sam2StreamEngine
        from sam2auto_ros.sam2.registry import CheckpointError

        try:
            engine = Sam2StreamEngine.from_checkpoint(
                params["model"], params["checkpoint"] or None, params["models_dir"] or None,
                device=params["device"], image_size=params["image_size"] or None,
            )
        except CheckpointError as exc:
            raise ConfigureError(f"SAM 2 model not loaded: {exc}") from None
        engines = [engine, *(Sam2StreamEngine(engine.parts, name=engine.name) for _ in range(count - 1))]
        return engines, f"{params['model']} ({params['checkpoint'] or 'registry look-up'})"
    if kind == "onnx":
        return _onnx_propagators(params, count)
    raise ConfigureError(f"unknown propagator {kind!r}; choose one of {', '.join(PROPAGATORS)}")


def _onnx_propagators(params: dict[str, Any], count: int) -> tuple[list[Propagator], str]:
    """The streaming engine on SAM 2's exported graphs in onnxruntime (providers by ``device``)."""
    from sam2auto_ros.onnx.backend import build_parts
    from sam2auto_ros.sam2.engine import Sam2StreamEngine

    providers = ("CPUExecutionProvider",) if params["device"] == "cpu" else DEFAULT_GPU_PROVIDERS
    try:
        parts = build_parts("onnx", params["model"], params["image_size"] or None, checkpoint=params["checkpoint"] or None,
                            models_dir=params["models_dir"] or None, onnx_dir=params["onnx_dir"] or None,
                            providers=providers, threads=params["torch_threads"] or None)
    except (OSError, ValueError, RuntimeError) as exc:
        raise ConfigureError(f"ONNX SAM 2 graphs not loaded: {exc}") from None
    engines: list[Propagator] = [Sam2StreamEngine(parts, name="sam2-onnx") for _ in range(count)]
    return engines, f"{params['model']} on onnxruntime ({params['onnx_dir'] or 'models/onnx'})"
