"""The model files the project knows, and where it looks for them: SAM 2 / SAM 2.1 checkpoints and
the open-vocabulary detectors' weights (second half of this file).

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


# ---------------------------------------------------------------- open-vocabulary detectors
# The open-vocabulary detector weights the project knows: hub repository, pinned revision, files.
#
# Each entry pins one commit of a Hugging Face model repository, so every file it names is fixed
# (a revision's files never change). The weights file also carries its SHA-256 and, where the
# hub's page gives it in bytes, its size; ``sam2auto models verify`` checks both. Where they come
# from (read from the hub's pages through a search index; nothing could be downloaded here, so no
# digest was checked against a download):
#
# - ``owlv2-large``: google/owlv2-large-patch14-ensemble, ``model.safetensors`` added in d638f16
#   ("Adding `safetensors` variant of this model (#3)"), Git LFS SHA-256 d1c22615..., 1.75 GB;
# - ``grounding-dino-tiny``: IDEA-Research/grounding-dino-tiny, the file of 25b0b43 as served at
#   c254d1f, Git LFS SHA-256 1a2412ef..., 689 MB (two earlier uploads, 59cc2b0 and 43032ec, had
#   other digests: the pin matters);
# - ``grounding-dino-base``: IDEA-Research/grounding-dino-base at d5d2765 (file of b979318),
#   Git LFS SHA-256 78cf02dd..., 936 MB;
# - ``owlv2-base``: google/owlv2-base-patch16-ensemble at 7c77fc1 (safetensors merged in #4).
#   Its SHA-256 was not found in the records reachable here: ``None``, so ``verify`` shows the
#   digest without judging it.
# Sizes are ``None`` where the hub shows only rounded megabytes. Small files (configs, tokenizer)
# are pinned by the revision alone.
#
# Files live in ``<models dir>/detectors/<name>/`` (a ``save_pretrained`` layout that
# transformers loads), searched in the same folders as SAM 2's checkpoints.


DETECTORS_SUBDIR = "detectors"
WEIGHTS_FILE = "model.safetensors"


@dataclass(frozen=True)
class HubFile:
    name: str
    size_bytes: int | None = None
    sha256: str | None = None


@dataclass(frozen=True)
class DetectorWeights:
    """One released detector: where it lives on the hub and what a complete download holds."""

    name: str
    family: str  # the detector backend that runs it: "owlv2" | "grounding_dino"
    hub_id: str
    revision: str
    image_size: int  # the input side its configuration uses (OWLv2's graphs are exported at it)
    files: tuple[HubFile, ...]

    @property
    def download_command(self) -> str:
        return f"sam2auto models download {self.name}"

    @property
    def weights(self) -> HubFile:
        return next(f for f in self.files if f.name == WEIGHTS_FILE)

    @property
    def url(self) -> str:
        return f"https://huggingface.co/{self.hub_id}/tree/{self.revision}"


def _owlv2_files(config: int, preprocessor: int, weights: HubFile) -> tuple[HubFile, ...]:
    return (HubFile("config.json", config), HubFile("preprocessor_config.json", preprocessor),
            HubFile("tokenizer_config.json"), HubFile("special_tokens_map.json", 121), HubFile("added_tokens.json", 67),
            HubFile("vocab.json"), HubFile("merges.txt"), weights)


def _grounding_dino_files(weights: HubFile) -> tuple[HubFile, ...]:
    return (HubFile("config.json"), HubFile("preprocessor_config.json"), HubFile("tokenizer_config.json"),
            HubFile("special_tokens_map.json"), HubFile("added_tokens.json"), HubFile("tokenizer.json"), HubFile("vocab.txt"),
            weights)


DETECTORS: dict[str, DetectorWeights] = {
    d.name: d
    for d in (
        DetectorWeights("owlv2-base", "owlv2", "google/owlv2-base-patch16-ensemble", "7c77fc1316a353da3109f81d80ae118dd58fd55b",
                        960, _owlv2_files(414, 425, HubFile(WEIGHTS_FILE))),
        DetectorWeights("owlv2-large", "owlv2", "google/owlv2-large-patch14-ensemble", "d638f16c163f70a8b6bd643b2ddbfc8be2c34807",
                        1008, _owlv2_files(617, 427, HubFile(
                            WEIGHTS_FILE, None, "d1c2261503c55aaf400667a843a54a5167e3c696334674c4093d6d10f7f40075"))),
        DetectorWeights("grounding-dino-tiny", "grounding_dino", "IDEA-Research/grounding-dino-tiny",
                        "c254d1f282bf348ab7f5a27d5cf90531eeba69be", 800, _grounding_dino_files(HubFile(
                            WEIGHTS_FILE, None, "1a2412ef99bd74bcd3c2a246fa1e48581f8889a1300c9051974741314fc042f3"))),
        DetectorWeights("grounding-dino-base", "grounding_dino", "IDEA-Research/grounding-dino-base",
                        "d5d2765ea97a4777a75d177831827bf9f5917c3f", 800, _grounding_dino_files(HubFile(
                            WEIGHTS_FILE, None, "78cf02dda8891982a76e42194e84d7173329c2ef116937fa65bf6723c74fa89d"))),
    )
}
#: what ``detector.model`` means when nothing else is configured
DEFAULT_DETECTOR = "owlv2-base"


def detector_info(name: str) -> DetectorWeights:
    try:
        return DETECTORS[name]
    except KeyError:
        raise CheckpointError(f"unknown detector {name!r}; known: {', '.join(DETECTORS)}") from None


def is_registered(name: str) -> bool:
    return name in DETECTORS


def detector_dir(name: str, configured_dir: str | os.PathLike[str] | None = None) -> Path | None:
    """The first folder holding ``name``'s configuration and weights, or ``None``."""
    for root in search_dirs(configured_dir):
        candidate = root / DETECTORS_SUBDIR / name
        if (candidate / "config.json").is_file() and (candidate / WEIGHTS_FILE).is_file():
            return candidate
    return None


def resolve_detector(name: str, configured_dir: str | os.PathLike[str] | None = None) -> Path:
    """``name``'s folder, or an error naming where it was looked for and the command that fetches it."""
    info = detector_info(name)
    found = detector_dir(name, configured_dir)
    if found is None:
        looked = ", ".join(str(d / DETECTORS_SUBDIR / name) for d in search_dirs(configured_dir))
        raise CheckpointError(
            f"detector weights {name} ({info.hub_id}) not found (looked in {looked}); fetch them with "
            f"`{info.download_command}` or set ${MODELS_DIR_ENV} to the folder holding {DETECTORS_SUBDIR}/{name}/"
        )
    return found
