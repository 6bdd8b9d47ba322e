"""Registry resolution, strict checkpoint loading and the ``sam2auto models`` command."""

from __future__ import annotations

import argparse
import shutil
from pathlib import Path

import pytest
import torch

from sam2auto_ros.cli import models as models_cli
from sam2auto_ros.sam2.loading import (
    build_model,
    build_random_model,
    load_checkpoint,
    select_device,
)
from sam2auto_ros.sam2.registry import (
    CHECKPOINTS,
    MODELS_DIR_ENV,
    REPO_MODELS_DIR,
    CheckpointError,
    checkpoint_info,
    resolve_checkpoint,
    search_dirs,
)

from .conftest import MODEL

CONFIG = checkpoint_info(MODEL).config


def test_registry_lists_sam2_and_sam21_in_four_sizes() -> None:
    for family in ("sam2_hiera", "sam2.1_hiera"):
        for size in ("tiny", "small", "base_plus", "large"):
            info = CHECKPOINTS[f"{family}_{size}"]
            assert info.url.startswith("https://dl.fbaipublicfiles.com/segment_anything_2/")
            assert info.url.endswith(f"/{family}_{size}.pt")
            assert info.sha256 is None or len(info.sha256) == 64
    assert checkpoint_info("sam2.1_hiera_tiny.pt") is CHECKPOINTS["sam2.1_hiera_tiny"]
    with pytest.raises(CheckpointError, match="unknown SAM 2 checkpoint"):
        checkpoint_info("sam3_huge")


def test_resolution_order_explicit_env_configured(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, tiny_checkpoint: Path) -> None:
    env_dir, conf_dir = tmp_path / "env", tmp_path / "conf"
    for d in (env_dir, conf_dir):
        d.mkdir()
        shutil.copy(tiny_checkpoint, d / tiny_checkpoint.name)
    monkeypatch.setenv(MODELS_DIR_ENV, str(env_dir))
    assert resolve_checkpoint(MODEL, path=tiny_checkpoint, configured_dir=conf_dir) == tiny_checkpoint
    assert resolve_checkpoint(MODEL, configured_dir=conf_dir) == env_dir / tiny_checkpoint.name
    monkeypatch.delenv(MODELS_DIR_ENV)
    assert resolve_checkpoint(MODEL, configured_dir=conf_dir) == conf_dir / tiny_checkpoint.name
    assert search_dirs(conf_dir) == [conf_dir, REPO_MODELS_DIR]  # the checkout's models/ last...
    monkeypatch.setenv(MODELS_DIR_ENV, str(env_dir))
    assert search_dirs(conf_dir) == [env_dir, conf_dir]  # ...and replaced by the variable


def test_missing_checkpoint_names_file_and_download_command(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(MODELS_DIR_ENV, str(tmp_path))
    with pytest.raises(CheckpointError, match=r"sam2\.1_hiera_small\.pt not found.*sam2auto models download sam2\.1_hiera_small"):
        resolve_checkpoint("sam2.1_hiera_small", configured_dir=tmp_path / "nowhere")
    with pytest.raises(CheckpointError, match="does not exist.*sam2auto models download sam2.1_hiera_tiny"):
        resolve_checkpoint(MODEL, path=tmp_path / "gone.pt")


def test_random_checkpoint_round_trip_loads_strictly(tiny_checkpoint: Path) -> None:
    model = build_model(MODEL, checkpoint=tiny_checkpoint, image_size=256)
    saved = torch.load(tiny_checkpoint, map_location="cpu", weights_only=True)["model"]
    loaded = model.state_dict()
    assert saved.keys() == loaded.keys()
    assert all(torch.equal(saved[k], loaded[k]) for k in ("no_mem_embed", "maskmem_tpos_enc", "image_encoder.trunk.pos_embed"))
    assert model.image_size == 256


def test_corrupt_checkpoint_is_a_clear_error(tmp_path: Path, tiny_checkpoint: Path) -> None:
    bad = tmp_path / tiny_checkpoint.name
    bad.write_bytes(tiny_checkpoint.read_bytes()[: 100_000])  # a truncated download
    with pytest.raises(CheckpointError, match=rf"cannot read SAM 2 checkpoint {bad}.*corrupt"):
        build_model(MODEL, checkpoint=bad, image_size=256)
    not_sam = tmp_path / "other.pt"
    torch.save({"state_dict": {}}, not_sam)
    with pytest.raises(CheckpointError, match="expected a dict with a 'model' state dict"):
        build_model(MODEL, checkpoint=not_sam, image_size=256)


class _Planted:
    """Pickles as a call to os.makedirs: loading it with pickled code allowed would make the folder."""

    def __init__(self, folder: Path) -> None:
        self.folder = folder

    def __reduce__(self) -> tuple:
        import os

        return (os.makedirs, (str(self.folder),))


def test_a_pickled_checkpoint_is_refused_in_one_line_and_runs_nothing(tmp_path: Path) -> None:
    planted = tmp_path / "planted"
    evil = tmp_path / "evil.pt"
    torch.save({"model": _Planted(planted)}, evil)
    with pytest.raises(CheckpointError) as caught:
        build_model(MODEL, checkpoint=evil, image_size=256)
    message = str(caught.value)
    assert message.startswith(f"SAM 2 checkpoint {evil} holds pickled Python objects (GLOBAL ") and "\n" not in message
    assert "weights_only" not in message and "trusted source" not in message  # torch's advice is not passed on
    assert caught.value.__cause__ is None and caught.value.__suppress_context__
    assert not planted.exists()


def test_key_mismatch_names_missing_and_unexpected_keys(tmp_path: Path, tiny_checkpoint: Path) -> None:
    state = torch.load(tiny_checkpoint, map_location="cpu", weights_only=True)["model"]
    state.pop("no_mem_embed")
    state["extra_head.weight"] = torch.zeros(1)
    mismatched = tmp_path / "mismatch.pt"
    torch.save({"model": state}, mismatched)
    model = build_random_model(CONFIG, image_size=256)
    with pytest.raises(CheckpointError, match=r"mismatch\.pt.*missing keys: no_mem_embed.*unexpected keys: extra_head\.weight"):
        load_checkpoint(model, mismatched)
    # a checkpoint of another size (SAM 2.1 small into the tiny config) fails the same way
    with pytest.raises(CheckpointError, match="does not fit this SAM 2 config"):
        load_checkpoint(build_random_model(checkpoint_info("sam2.1_hiera_small").config, image_size=256), tiny_checkpoint)


@pytest.mark.parametrize("has_cuda", [False, True])
def test_device_selection(has_cuda: bool, monkeypatch: pytest.MonkeyPatch) -> None:
    # both answers of torch.cuda.is_available() are set here, so no machine decides the branch
    monkeypatch.setattr(torch.cuda, "is_available", lambda: has_cuda)
    assert select_device("cpu").type == "cpu"
    assert select_device("auto").type == ("cuda" if has_cuda else "cpu")
    if has_cuda:
        assert select_device("cuda:1") == torch.device("cuda:1")
    else:
        with pytest.raises(ValueError, match="no CUDA device"):
            select_device("cuda")
    with pytest.raises(ValueError, match="unsupported device 'mps'"):
        select_device("mps")
    with pytest.raises(ValueError, match="image_size must be a positive multiple of 32"):
        build_random_model(CONFIG, image_size=250)


def _cli(*argv: str) -> int:
    parser = argparse.ArgumentParser()
    models_cli.register(parser.add_subparsers())
    args = parser.parse_args(["models", *argv])
    return int(args.func(args))


def test_models_cli_list_verify_download(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str], tiny_checkpoint: Path) -> None:
    shutil.copy(tiny_checkpoint, tmp_path / tiny_checkpoint.name)
    assert _cli("--dir", str(tmp_path), "list") == 0
    out = capsys.readouterr().out
    assert str(tmp_path / tiny_checkpoint.name) in out and "sam2auto models download sam2.1_hiera_large" in out
    # random weights are not the released file: the published digest does not match
    assert _cli("--dir", str(tmp_path), "verify", MODEL) == 1
    out = capsys.readouterr().out
    assert "BAD" in out and models_cli.sha256_of(tmp_path / tiny_checkpoint.name) in out
    assert _cli("--dir", str(tmp_path), "verify", "sam2_hiera_small") == 1
    assert "sam2auto models download sam2_hiera_small" in capsys.readouterr().out


def test_models_cli_download_without_network_fails_clearly(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    import urllib.error
    import urllib.request

    def unreachable(*args: object, **kwargs: object) -> object:
        raise urllib.error.URLError("no route to host")

    monkeypatch.setattr(urllib.request, "urlopen", unreachable)  # keep the test offline on any machine
    assert _cli("--dir", str(tmp_path), "download", MODEL) == 1
    err = capsys.readouterr().err
    assert "cannot download sam2.1_hiera_tiny" in err and "sam2auto models verify sam2.1_hiera_tiny" in err
    assert not list(tmp_path.iterdir())  # no partial file left behind
