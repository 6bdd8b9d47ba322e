"""The SAM 2 engine: model registry and loading, the four network parts, the streaming tracker.

Import the submodules directly (``sam2auto_ros.sam2.engine``, ``.parts``, ``.features``,
``.loading``, ``.registry``); this package file stays empty so that importing the registry
(e.g. for ``sam2auto models list``) does not pull in torch.
"""
