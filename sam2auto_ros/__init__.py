"""sam2auto_ros: fully automatic video annotation for robots (SAM2Auto: SMART-OD + FLASH).

The generated message modules (``sam2auto_ros.msg``) live in the colcon install space, while
the Python code may live in a source tree; extending ``__path__`` lets one import find both.
"""

from pkgutil import extend_path

__path__ = extend_path(__path__, __name__)
__version__ = "0.1.0"
