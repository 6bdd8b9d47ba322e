"""``sam2auto models``: list, verify and download the SAM 2 checkpoints and detector weights the project knows.

SAM 2 checkpoints come from Meta's URLs; detector weights (OWLv2, Grounding DINO) from their
Hugging Face repositories at the pinned revision, through ``huggingface_hub``.
"""

from __future__ import annotations

import argparse
import hashlib
import shutil
import sys
import urllib.error
import urllib.request
from pathlib import Path

from sam2auto_ros.sam2.registry import (
    CHECKPOINTS,
    DETECTORS,
    DETECTORS_SUBDIR,
    MODELS_DIR_ENV,
    CheckpointError,
    CheckpointInfo,
    DetectorWeights,
    checkpoint_info,
    detector_dir,
    models_home,
    resolve_checkpoint,
    search_dirs,
)

_CHUNK = 1 << 20


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser("models", help="list, verify and download SAM 2 checkpoints and detector weights")
    parser.add_argument("--dir", help=f"models directory (searched after ${MODELS_DIR_ENV}; download target)")
    sub = parser.add_subparsers(dest="models_command", required=True, metavar="ACTION")
    sub.add_parser("list", help="known checkpoints and where they were found").set_defaults(func=_list)
    verify = sub.add_parser("verify", help="hash present checkpoints (and optionally load them strictly)")
    verify.add_argument("names", nargs="*", help="checkpoint or detector names (default: all present)")
    verify.add_argument("--load", action="store_true", help="also build the model and load the file with strict key checking")
    verify.set_defaults(func=_verify)
    download = sub.add_parser("download", help="fetch checkpoints (Meta's URLs) and detector weights (Hugging Face, pinned revision)")
    download.add_argument("names", nargs="+", choices=sorted([*CHECKPOINTS, *DETECTORS]), metavar="NAME")
    download.set_defaults(func=_download)


def sha256_of(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as fh:
        for chunk in iter(lambda: fh.read(_CHUNK), b""):
            digest.update(chunk)
    return digest.hexdigest()


def _find(info: CheckpointInfo, directory: str | None) -> Path | None:
    try:
        return resolve_checkpoint(info.name, configured_dir=directory)
    except CheckpointError:
        return None


def _list(args: argparse.Namespace) -> int:
    print(f"{'name':<24} {'config':<38} {'size':>10}  location")
    for info in CHECKPOINTS.values():
        path = _find(info, args.dir)
        size = f"{info.size_bytes / 1e6:.1f} MB" if info.size_bytes else "?"
        where = str(path) if path else f"missing ({info.download_command})"
        print(f"{info.name:<24} {info.config:<38} {size:>10}  {where}")
    print(f"\n{'detector':<24} {'hub repository @ revision':<58}  location")
    for det in DETECTORS.values():
        folder = detector_dir(det.name, args.dir)
        where = str(folder) if folder else f"missing ({det.download_command})"
        print(f"{det.name:<24} {det.hub_id + ' @ ' + det.revision[:7]:<58}  {where}")
    print("searched: " + ", ".join(str(d) for d in search_dirs(args.dir)))
    return 0


def _verify_one(info: CheckpointInfo, path: Path, load: bool) -> bool:
    size = path.stat().st_size
    digest = sha256_of(path)
    ok = True
    notes = []
    if info.size_bytes is not None and size != info.size_bytes:
        ok = False
        notes.append(f"size {size} != expected {info.size_bytes}")
    if info.sha256 is None:
        notes.append("no published SHA-256 recorded; digest shown for your records")
    elif digest != info.sha256:
        ok = False
        notes.append(f"SHA-256 mismatch (expected {info.sha256})")
    if load and ok:
        from sam2auto_ros.sam2.loading import build_model

        try:
            build_model(info.name, checkpoint=path)
            notes.append("loads with strict key checking")
        except (CheckpointError, ValueError) as exc:
            ok = False
            notes.append(str(exc))
    status = "OK " if ok else "BAD"
    print(f"{status} {info.name:<24} {digest}  {path}" + (f"  [{'; '.join(notes)}]" if notes else ""))
    return ok


def _verify_detector(det: DetectorWeights, folder: Path) -> bool:
    ok, notes = True, []
    for entry in det.files:
        path = folder / entry.name
        if not path.is_file():
            ok = False
            notes.append(f"{entry.name} missing")
            continue
        if entry.size_bytes is not None and path.stat().st_size != entry.size_bytes:
            ok = False
            notes.append(f"{entry.name} size {path.stat().st_size} != expected {entry.size_bytes}")
        if entry.name == det.weights.name:
            digest = sha256_of(path)
            if entry.sha256 is None:
                notes.append(f"{entry.name} sha256 {digest} (no published SHA-256 recorded; digest shown for your records)")
            elif digest != entry.sha256:
                ok = False
                notes.append(f"{entry.name} SHA-256 mismatch: {digest} (expected {entry.sha256})")
    print(f"{'OK ' if ok else 'BAD'} {det.name:<24} {folder}" + (f"  [{'; '.join(notes)}]" if notes else ""))
    return ok


def _verify(args: argparse.Namespace) -> int:
    unknown = [n for n in args.names if n.removesuffix(".pt") not in CHECKPOINTS and n not in DETECTORS]
    if unknown:
        print(f"error: unknown model(s) {unknown}; known: {', '.join([*CHECKPOINTS, *DETECTORS])}", file=sys.stderr)
        return 2
    names = args.names or [*CHECKPOINTS, *DETECTORS]
    all_ok, checked = True, 0
    for name in names:
        if name in DETECTORS:
            det = DETECTORS[name]
            folder = detector_dir(name, args.dir)
            if folder is None:
                if args.names:
                    print(f"MISSING {name}: fetch it with `{det.download_command}`")
                    all_ok = False
                continue
            checked += 1
            all_ok &= _verify_detector(det, folder)
            continue
        info = checkpoint_info(name)
        path = _find(info, args.dir)
        if path is None:
            if args.names:
                print(f"MISSING {info.name}: fetch it with `{info.download_command}`")
                all_ok = False
            continue
        checked += 1
        all_ok &= _verify_one(info, path, args.load)
    if checked == 0 and not args.names:
        print("no models present; `sam2auto models list` shows where they are looked for")
    return 0 if all_ok else 1


def _download(args: argparse.Namespace) -> int:
    codes = [(_download_detector if name in DETECTORS else _download_checkpoint)(name, args.dir) for name in args.names]
    return max(codes)


def _download_detector(name: str, directory: str | None) -> int:
    """Every file of ``name`` at its pinned revision into ``<dir>/detectors/<name>/``, verified;
    the folder appears only when complete."""
    det = DETECTORS[name]
    target = (Path(directory) if directory else models_home()) / DETECTORS_SUBDIR / name
    if detector_dir(name, directory) is not None:
        print(f"{name} already present; `sam2auto models verify {name}` checks it")
        return 0
    partial = target.with_name(target.name + ".part")
    print(f"downloading {det.hub_id} @ {det.revision} -> {target}")
    try:
        from huggingface_hub import hf_hub_download

        for entry in det.files:
            hf_hub_download(det.hub_id, entry.name, revision=det.revision, local_dir=partial)
    except Exception as exc:  # huggingface_hub raises many types (HTTP, offline, missing file)
        shutil.rmtree(partial, ignore_errors=True)
        print(
            f"error: cannot download {name} from {det.url}: {type(exc).__name__}: {str(exc).splitlines()[0] if str(exc) else ''}\n"
            f"This machine may have no internet access. Fetch the files {[f.name for f in det.files]} of that revision "
            f"elsewhere into {target}, then run `sam2auto models verify {name}`.",
            file=sys.stderr,
        )
        return 1
    shutil.rmtree(partial / ".cache", ignore_errors=True)  # huggingface_hub's download bookkeeping
    if not _verify_detector(det, partial):
        print(f"error: the files downloaded for {name} do not match the registry; left in {partial} for inspection", file=sys.stderr)
        return 1
    target.parent.mkdir(parents=True, exist_ok=True)
    partial.rename(target)
    return 0


def _download_checkpoint(name: str, directory: str | None) -> int:
    info = checkpoint_info(name)
    target_dir = Path(directory) if directory else models_home()
    target = target_dir / info.filename
    if target.is_file():
        print(f"{target} already present; `sam2auto models verify {info.name}` checks it")
        return 0
    target_dir.mkdir(parents=True, exist_ok=True)
    partial = target.with_suffix(target.suffix + ".part")
    print(f"downloading {info.url} -> {target}")
    try:
        with urllib.request.urlopen(info.url, timeout=30) as response, partial.open("wb") as fh:
            shutil.copyfileobj(response, fh, _CHUNK)
    except (urllib.error.URLError, OSError, TimeoutError) as exc:
        partial.unlink(missing_ok=True)
        reason = getattr(exc, "reason", exc)
        print(
            f"error: cannot download {info.name} from {info.url}: {reason}\n"
            f"This machine may have no internet access. Fetch the file elsewhere and copy it to {target} "
            f"(or into the folder named by ${MODELS_DIR_ENV}), then run `sam2auto models verify {info.name}`.",
            file=sys.stderr,
        )
        return 1
    partial.rename(target)
    return 0 if _verify_one(info, target, load=False) else 1
