"""Weight-free FALLBACK propagation (dense optical flow) for machines without SAM 2 weights.

The SAM 2 engine (``sam2auto_ros.sam2``) is the real backend; this one lets the whole pipeline
(simulation, demo, CI) run meaningfully where no checkpoint exists.
"""

from sam2auto_ros.fallback.flow import OpticalFlowPropagator

__all__ = ["OpticalFlowPropagator"]
