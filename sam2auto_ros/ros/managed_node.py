"""The lifecycle skeleton every sam2auto node shares (the yolo_ros pattern, with glue only).

- ``__init__`` declares the parameters (with descriptions) and the status publisher;
- ``configure`` reads them and builds the core object (loads models); a failure - a missing model
  file, a bad value - is logged as one clear error and leaves the node alive and unconfigured,
  so the user can fix the parameter and configure again;
- ``activate`` wires the topics, ``deactivate`` unwires them, ``cleanup`` frees the core object;
- ``autostart`` runs configure + activate at start-up for plain ``ros2 run`` / launch use.

Subclasses implement ``build``/``wire``/``unwire``/``free`` and ``status_values``.
"""

from __future__ import annotations

import signal
import sys
import traceback
from collections.abc import Callable, Sequence
from typing import Any

import rclpy
from diagnostic_msgs.msg import DiagnosticArray, DiagnosticStatus, KeyValue
from rcl_interfaces.msg import SetParametersResult
from rclpy.clock import Clock, ClockType
from rclpy.executors import ExternalShutdownException, SingleThreadedExecutor
from rclpy.lifecycle import LifecycleNode, LifecycleState, TransitionCallbackReturn
from rclpy.qos import QoSProfile, ReliabilityPolicy
from rclpy.signals import SignalHandlerOptions

from sam2auto_ros.ros import params as P
from sam2auto_ros.ros.params import ParamSpec

COMMON_PARAMS = (
    ParamSpec("autostart", False, "Configure and activate at start-up (plain `ros2 run` / launch use)."),
    ParamSpec("status_period", 1.0, "Seconds between status messages on /diagnostics.", low=0.05, high=60.0),
)

OUTPUT_QOS = QoSProfile(depth=10, reliability=ReliabilityPolicy.RELIABLE)
"""Every output is published reliable: a reliable publisher matches reliable AND best-effort
subscribers, so rviz, Foxglove, the recorder and planners all connect whatever they ask for."""


class ConfigureError(RuntimeError):
    """Configure cannot complete (missing model file, bad parameter); the message says what to do."""


class ManagedNode(LifecycleNode):
    """A lifecycle node with declared parameters, a status topic and clean failure at configure."""

    PARAMS: Sequence[ParamSpec] = ()

    def __init__(self, name: str, **kwargs: Any) -> None:
        super().__init__(name, **kwargs)
        self._specs = {spec.name: spec for spec in (*COMMON_PARAMS, *self.PARAMS)}
        P.declare(self, list(self._specs.values()))
        self.configured = False
        self.active = False
        self.last_error = ""
        self._status_pub = self.create_publisher(DiagnosticArray, "/diagnostics", OUTPUT_QOS)
        # wall-clock period: a use_sim_time node reports even while no /clock arrives
        self._status_timer = self.create_timer(self.param("status_period"), self._publish_status,
                                               clock=Clock(clock_type=ClockType.STEADY_TIME))
        self.add_on_set_parameters_callback(self._on_set_parameters)

    # -- parameters ---------------------------------------------------------------------------
    def param(self, name: str) -> Any:
        return P.values(self, [self._specs[name]])[name]

    def params(self) -> dict[str, Any]:
        return P.values(self, list(self._specs.values()))

    def _on_set_parameters(self, changes: list) -> SetParametersResult:
        for change in changes:
            reason = P.check_change(self._specs.get(change.name), change.name, change.value, self.configured)
            reason = reason or self.check_parameter(change.name, change.value)
            if reason:
                self.get_logger().warning(f"parameter change refused: {reason}")
                return SetParametersResult(successful=False, reason=reason)
        for change in changes:
            spec = self._specs.get(change.name)
            if spec is not None and spec.when == P.RUNTIME:
                self.on_runtime_parameter(change.name, change.value)
        return SetParametersResult(successful=True)

    def check_parameter(self, name: str, value: Any) -> str | None:
        """Why ``value`` is not acceptable for ``name`` (node-specific checks), or None."""
        return None

    def on_runtime_parameter(self, name: str, value: Any) -> None:
        """A runtime parameter changed; apply it (thread-safely) on the next frame."""

    # -- lifecycle ----------------------------------------------------------------------------
    def on_configure(self, state: LifecycleState) -> TransitionCallbackReturn:
        try:
            self.build(self.params())
        except ConfigureError as exc:
            return self._configure_failed(str(exc))
        except Exception as exc:  # a bug or an unexpected library error: still keep the node alive
            self.get_logger().error(traceback.format_exc())
            return self._configure_failed(f"{type(exc).__name__}: {exc}")
        self.configured, self.last_error = True, ""
        self.get_logger().info(f"configured: {self.describe()}")
        return TransitionCallbackReturn.SUCCESS

    def _configure_failed(self, message: str) -> TransitionCallbackReturn:
        self.last_error = message
        self.get_logger().error(f"configure failed, node stays unconfigured: {message}")
        self._safe_free()
        return TransitionCallbackReturn.FAILURE

    def on_activate(self, state: LifecycleState) -> TransitionCallbackReturn:
        self.wire()
        self.active = True
        self.get_logger().info("active")
        return super().on_activate(state)

    def on_deactivate(self, state: LifecycleState) -> TransitionCallbackReturn:
        self.active = False
        self.unwire()
        self.get_logger().info("inactive")
        return super().on_deactivate(state)

    def on_cleanup(self, state: LifecycleState) -> TransitionCallbackReturn:
        self._safe_free()
        self.configured = False
        return TransitionCallbackReturn.SUCCESS

    def on_shutdown(self, state: LifecycleState | None) -> TransitionCallbackReturn:
        """Also called by ``run_node`` (state ``None``) when the process stops from any state."""
        if self.active:
            self.active = False
            self.unwire()
        self._safe_free()
        self.configured = False
        return TransitionCallbackReturn.SUCCESS

    def on_error(self, state: LifecycleState) -> TransitionCallbackReturn:
        self.get_logger().error("transition error; freeing resources, back to unconfigured")
        self.active = False
        self._safe_free()
        self.configured = False
        return TransitionCallbackReturn.SUCCESS

    def _safe_free(self) -> None:
        try:
            self.free()
        except Exception:  # freeing must not take the node down
            self.get_logger().error(traceback.format_exc())

    def autostart(self) -> None:
        """Configure and activate when the ``autostart`` parameter asks for it."""
        if not self.param("autostart"):
            self.get_logger().info("waiting for lifecycle transitions (autostart is false)")
            return
        if self.trigger_configure() == TransitionCallbackReturn.SUCCESS:
            self.trigger_activate()

    # -- hooks --------------------------------------------------------------------------------
    def build(self, params: dict[str, Any]) -> None:
        """Read parameters, build the core object and the (lifecycle) publishers."""

    def wire(self) -> None:
        """Create subscriptions and start work."""

    def unwire(self) -> None:
        """Stop work and destroy subscriptions."""

    def free(self) -> None:
        """Free the core object and publishers (idempotent)."""

    def describe(self) -> str:
        return ""

    def status_values(self) -> dict[str, Any]:
        return {}

    # -- status -------------------------------------------------------------------------------
    def lifecycle_label(self) -> str:
        return "active" if self.active else "inactive" if self.configured else "unconfigured"

    def _publish_status(self) -> None:
        values = {"state": self.lifecycle_label(), **self.status_values()}
        if self.last_error:
            level, message = DiagnosticStatus.ERROR, self.last_error
        else:
            level, message = self.status_level(values)
        status = DiagnosticStatus(
            level=level,
            name=self.get_fully_qualified_name(),
            message=message,
            hardware_id="",
            values=[KeyValue(key=k, value=_fmt(v)) for k, v in values.items()],
        )
        self._status_pub.publish(DiagnosticArray(header=_now_header(self), status=[status]))

    def status_level(self, values: dict[str, Any]) -> tuple[bytes, str]:
        return DiagnosticStatus.OK, values["state"]


def _fmt(value: Any) -> str:
    return f"{value:.3f}" if isinstance(value, float) else str(value)


def _now_header(node: ManagedNode) -> Any:
    from std_msgs.msg import Header

    return Header(stamp=node.get_clock().now().to_msg())


def run_node(node_cls: Callable[[], ManagedNode], args: list[str] | None = None) -> int:
    """``main`` of every executable: init, autostart, spin until SIGINT/SIGTERM, shut down cleanly.

    rclpy's own signal handler would invalidate the context while a worker thread publishes; here
    a signal stops spinning first, then the node unwires (joining its worker), then rclpy shuts down.
    """
    # SIGINT too: a process started in the background by a non-interactive shell inherits it ignored
    for sig in (signal.SIGINT, signal.SIGTERM):
        signal.signal(sig, signal.default_int_handler)
    rclpy.init(args=sys.argv if args is None else args, signal_handler_options=SignalHandlerOptions.NO)
    node = None
    try:
        try:
            node = node_cls()
        except ValueError as exc:  # a parameter file or --ros-args value the node does not take: one line
            print(f"{node_cls.__name__}: error: {exc}", file=sys.stderr)
            return 2
        node.autostart()
        executor = SingleThreadedExecutor()
        executor.add_node(node)
        executor.spin()
    except (KeyboardInterrupt, ExternalShutdownException):
        pass
    finally:
        # shutting down: a repeated Ctrl-C must not abort the clean-up; SIGTERM still ends it at once
        signal.signal(signal.SIGINT, signal.SIG_IGN)
        signal.signal(signal.SIGTERM, signal.SIG_DFL)
        if node is not None:
            node.on_shutdown(None)
            node.destroy_node()
        rclpy.try_shutdown()
    return 0
