"""``python -m sam2auto_ros.cli``: the same as the ``sam2auto`` command."""

import sys

from sam2auto_ros.cli import main

sys.exit(main())
