"""The SAM 2 / SAM 2.1 checkpoints the project knows, and where it looks for them.

URLs are Meta's official download locations (``checkpoints/download_ckpts.sh`` in
facebookresearch/sam2: release 072824 for SAM 2, 092824 for SAM 2.1). SHA-256 digests and sizes
are the Git LFS records of the same files on Hugging Face: SAM 2 from Meta's own
``facebook/sam2-hiera-*`` repositories, SAM 2.1 from mirrors of the 092824 files (several
independent uploads agree). They could not be checked against a download here (no internet).
``None`` means "not known here"; ``sam2auto models verify`` then reports the digest without
judging it.

Resolution order for a checkpoint file: an explicit path, ``$SAM2AUTO_MODELS_DIR``, a
configured directory, then the repository's ``models/`` folder, which ``$SAM2AUTO_MODELS_DIR``
replaces when set (see :func:`models_home`).
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

MODELS_DIR_ENV = "SAM2AUTO_MODELS_DIR"
REPO_MODELS_DIR = Path(__file__).resolve().parents[2] / "models"

_SAM2_URL = "https://dl.fbaipublicfiles.com/segment_anything_2/072824/"
_SAM21_URL = "https://dl.fbaipublicfiles.com/segment_anything_2/092824/"


class CheckpointError(RuntimeError):
    """A checkpoint is unknown, missing, corrupt, or does not fit its model."""


@dataclass(frozen=True)
class CheckpointInfo:
    """One released checkpoint: its hydra config inside the ``sam2`` package and where to get it."""

    name: str
    config: str
    url: str
    size_bytes: int | None
    sha256: str | None

    @property
    def filename(self) -> str:
        return self.url.rsplit("/", 1)[-1]

    @property
    def download_command(self) -> str:
        return f"sam2auto models download {self.name}"


def _entry(name: str, config: str, base_url: str, size: int | None = None, sha256: str | None = None) -> CheckpointInfo:
    return CheckpointInfo(name, config, f"{base_url}{name}.pt", size, sha256)


CHECKPOINTS: dict[str, CheckpointInfo] = {
    info.name: info
    for info in (
        _entry("sam2_hiera_tiny", "configs/sam2/sam2_hiera_t.yaml", _SAM2_URL, 155906050,
               "65b50056e05bcb13694174f51bb6da89c894b57b75ccdf0ba6352c597c5d1125"),
        _entry("sam2_hiera_small", "configs/sam2/sam2_hiera_s.yaml", _SAM2_URL, None,
               "95949964d4e548409021d47b22712d5f1abf2564cc0c3c765ba599a24ac7dce3"),
        _entry("sam2_hiera_base_plus", "configs/sam2/sam2_hiera_b+.yaml", _SAM2_URL, None,
               "d0bb7f236400a49669ffdd1be617959a8b1d1065081789d7bbff88eded3a8071"),
        _entry("sam2_hiera_large", "configs/sam2/sam2_hiera_l.yaml", _SAM2_URL, 897952466,
               "7442e4e9b732a508f80e141e7c2913437a3610ee0c77381a66658c3a445df87b"),
        _entry("sam2.1_hiera_tiny", "configs/sam2.1/sam2.1_hiera_t.yaml", _SAM21_URL, 156008466,
               "7402e0d864fa82708a20fbd15bc84245c2f26dff0eb43a4b5b93452deb34be69"),
        _entry("sam2.1_hiera_small", "configs/sam2.1/sam2.1_hiera_s.yaml", _SAM21_URL, 184416285,
               "6d1aa6f30de5c92224f8172114de081d104bbd23dd9dc5c58996f0cad5dc4d38"),
        _entry("sam2.1_hiera_base_plus", "configs/sam2.1/sam2.1_hiera_b+.yaml", _SAM21_URL, 323606802,
               "a2345aede8715ab1d5d31b4a509fb160c5a4af1970f199d9054ccfb746c004c5"),
        _entry("sam2.1_hiera_large", "configs/sam2.1/sam2.1_hiera_l.yaml", _SAM21_URL, 898083611,
               "2647878d5dfa5098f2f8649825738a9345572bae2d4350a2468587ece47dd318"),
    )
}


def checkpoint_info(name: str) -> CheckpointInfo:
    """The registry entry for ``name`` (with or without ``.pt``)."""
    key = name.removesuffix(".pt")
    try:
        return CHECKPOINTS[key]
    except KeyError:
        raise CheckpointError(f"unknown SAM 2 checkpoint {name!r}; known: {', '.join(CHECKPOINTS)}") from None


def models_home() -> Path:
    """The models folder: ``$SAM2AUTO_MODELS_DIR`` when set, else the repository's ``models/``.

    Setting the variable *replaces* ``models/`` (it is not searched then), so one variable decides
    which downloaded files a run can see: a CI job or a test points it at an empty folder and no
    checkpoint lying in the checkout changes what runs.
    """
    env = os.environ.get(MODELS_DIR_ENV)
    return Path(env).expanduser() if env else REPO_MODELS_DIR


def search_dirs(configured_dir: str | os.PathLike[str] | None = None) -> list[Path]:
    """Directories searched for checkpoint files, in order: ``$SAM2AUTO_MODELS_DIR``, a configured
    folder, then the repository's ``models/`` unless the variable replaced it."""
    env = os.environ.get(MODELS_DIR_ENV)
    dirs = [Path(env).expanduser()] if env else []
    if configured_dir:
        dirs.append(Path(configured_dir).expanduser())
    if not env:
        dirs.append(REPO_MODELS_DIR)
    return dirs


def resolve_checkpoint(
    name: str,
    path: str | os.PathLike[str] | None = None,
    configured_dir: str | os.PathLike[str] | None = None,
) -> Path:
    """The checkpoint file for ``name``: ``path`` if given, else the first hit in :func:`search_dirs`."""
    info = checkpoint_info(name)
    if path is not None:
        candidate = Path(path).expanduser()
        if not candidate.is_file():
            raise CheckpointError(f"SAM 2 checkpoint file {candidate} does not exist; fetch it with `{info.download_command}` or fix the path")
        return candidate
    dirs: Sequence[Path] = search_dirs(configured_dir)
    for directory in dirs:
        candidate = directory / info.filename
        if candidate.is_file():
            return candidate
    looked = ", ".join(str(d) for d in dirs)
    raise CheckpointError(
        f"SAM 2 checkpoint {info.filename} not found (looked in {looked}); "
        f"fetch it with `{info.download_command}` or set ${MODELS_DIR_ENV} to the folder holding it"
    )
