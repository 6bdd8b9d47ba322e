"""``sam2auto models``: list, verify and download the SAM 2 checkpoints the project knows."""

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
    MODELS_DIR_ENV,
    CheckpointError,
    CheckpointInfo,
    checkpoint_info,
    models_home,
    resolve_checkpoint,
    search_dirs,
)

_CHUNK = 1 << 20


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser("models", help="list, verify and download SAM 2 checkpoints")
    parser.add_argument("--dir", help=f"models directory (searched after ${MODELS_DIR_ENV}; download target)")
    sub = parser.add_subparsers(dest="models_command", required=True, metavar="ACTION")
    sub.add_parser("list", help="known checkpoints and where they were found").set_defaults(func=_list)
    verify = sub.add_parser("verify", help="hash present checkpoints (and optionally load them strictly)")
    verify.add_argument("names", nargs="*", help="checkpoint names (default: all present)")
    verify.add_argument("--load", action="store_true", help="also build the model and load the file with strict key checking")
    verify.set_defaults(func=_verify)
    download = sub.add_parser("download", help="fetch a checkpoint from Meta's official URL")
    download.add_argument("name", choices=sorted(CHECKPOINTS), metavar="NAME")
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


def _verify(args: argparse.Namespace) -> int:
    try:
        infos = [checkpoint_info(n) for n in args.names] if args.names else list(CHECKPOINTS.values())
    except CheckpointError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    all_ok = True
    checked = 0
    for info in infos:
        path = _find(info, args.dir)
        if path is None:
            if args.names:
                print(f"MISSING {info.name}: fetch it with `{info.download_command}`")
                all_ok = False
            continue
        checked += 1
        all_ok &= _verify_one(info, path, args.load)
    if checked == 0 and not args.names:
        print("no SAM 2 checkpoints present; `sam2auto models list` shows where they are looked for")
    return 0 if all_ok else 1


def _download(args: argparse.Namespace) -> int:
    info = checkpoint_info(args.name)
    target_dir = Path(args.dir) if args.dir else models_home()
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
