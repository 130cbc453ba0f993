"""A Bun standalone executable's module graph: read, listed, extracted to a folder Bun can run.

The graph sits in the ELF section `.bun`: a u64 payload length, then the payload, which ends with
a 32-byte offsets record and the trailer `\\n---- Bun! ----\\n`. The offsets record points (relative
to the payload) at the module table, 52-byte records of six {offset, length} pointers (name,
contents, sourcemap, bytecode, module info, bytecode origin path) and four one-byte fields
(encoding, loader, format, side), and at the compile-time argv. Module names are absolute
`/$bunfs/root/...` paths and the JavaScript imports its chunks by those paths.
"""

from __future__ import annotations

import re
import struct
from dataclasses import dataclass
from pathlib import Path

from turnproof.conform import HarnessError

ROOT = "/$bunfs/root/"
TRAILER = b"\n---- Bun! ----\n"
RECORD = struct.Struct("<12I4B")
LOADER_JS = 1  # Bun's loader enum: 1 is js (0 file-ish assets, 9 wasm, 10 napi are copied as they are)
ENCODING_LATIN1 = 1
# A dynamic import of a JS chunk that only exports a wasm asset's path, with the import attribute
# `type: "wasm"`: inside the executable Bun resolves the attribute to the asset, a plain Bun tries
# to compile the JS chunk as wasm and the bash/PowerShell parsers never load (the tool hangs).
WASM_ATTRIBUTE = re.compile(r',\{with:\{type:"wasm"\}\}\)')
# The only module name that climbs out of the root: it is kept inside the extraction folder.
CLIMB = "../"


@dataclass(frozen=True)
class Module:
    name: str  # the /$bunfs/root/... path
    contents: bytes
    encoding: int
    loader: int

    @property
    def javascript(self) -> bool:
        return self.loader == LOADER_JS

    def text(self) -> str:
        """The JavaScript as text (latin1-stored chunks decoded as latin1, the rest as UTF-8)."""
        return self.contents.decode("latin-1" if self.encoding == ENCODING_LATIN1 else "utf-8")


@dataclass(frozen=True)
class Bundle:
    modules: tuple[Module, ...]
    entry: str  # the entry point's name
    argv: tuple[str, ...]  # compile-time argv Bun runs the entry point with
    bun_version: str  # the Bun that built the executable, e.g. "1.3.13"

    def javascript(self) -> dict[str, str]:
        """Every JavaScript module's text by name."""
        return {m.name: m.text() for m in self.modules if m.javascript}


def _section(data: bytes, name: bytes, where: Path) -> bytes:
    """The contents of the ELF64 little-endian section `name`."""
    if data[:4] != b"\x7fELF" or data[4] != 2 or data[5] != 1:
        raise HarnessError(f"{where}: not a 64-bit little-endian ELF executable, so not a Bun standalone opencode")
    (shoff,) = struct.unpack_from("<Q", data, 0x28)
    shentsize, shnum, shstrndx = struct.unpack_from("<3H", data, 0x3A)
    heads = [struct.unpack_from("<IIQQQQIIQQ", data, shoff + i * shentsize) for i in range(shnum)]
    strtab = heads[shstrndx][4]
    for h in heads:
        end = data.index(b"\0", strtab + h[0])
        if data[strtab + h[0] : end] == name:
            return data[h[4] : h[4] + h[5]]
    raise HarnessError(f"{where}: no {name.decode()} section: not a Bun standalone executable")


def read(path: Path) -> Bundle:
    """The module graph of the Bun standalone executable at `path`."""
    path = Path(path)
    try:
        data = path.read_bytes()
    except OSError as e:
        raise HarnessError(f"{path}: cannot read: {e.strerror}") from None
    sec = _section(data, b".bun", path)
    (length,) = struct.unpack_from("<Q", sec, 0)
    payload = sec[8 : 8 + length]
    if len(payload) != length or not payload.endswith(TRAILER):
        raise HarnessError(f"{path}: the .bun section does not end with Bun's trailer: an unknown graph layout")
    at = length - len(TRAILER) - 32
    mod_off, mod_len, entry_id, argv_off, argv_len = struct.unpack_from("<8x2II2I", payload, at)
    if mod_len % RECORD.size:
        raise HarnessError(f"{path}: module table of {mod_len} bytes is not a whole number of 52-byte records")
    modules = []
    for i in range(mod_len // RECORD.size):
        r = RECORD.unpack_from(payload, mod_off + i * RECORD.size)
        name = payload[r[0] : r[0] + r[1]].decode("utf-8")
        modules.append(Module(name, payload[r[2] : r[2] + r[3]], r[12], r[13]))
    if not 0 <= entry_id < len(modules):
        raise HarnessError(f"{path}: entry point {entry_id} is not one of its {len(modules)} modules")
    argv = payload[argv_off : argv_off + argv_len].decode("utf-8").split()
    if argv and argv[-1] == "--":  # the end of the compile-time flags, not a flag
        argv.pop()
    found = re.search(rb"Bun v(1\.\d+\.\d+)", data)
    if found is None:
        raise HarnessError(f"{path}: no `Bun v1.x.y` string: which Bun built it is unknown")
    return Bundle(tuple(modules), modules[entry_id].name, tuple(argv), found.group(1).decode())


def local_path(name: str) -> str:
    """Where module `name` lands under the extraction folder, relative to it (never outside it)."""
    rel = name.removeprefix(ROOT)
    up = 0
    while rel.startswith(CLIMB):  # the one name that climbs out of the root stays inside
        rel, up = rel[len(CLIMB) :], up + 1
    rel = "_up/" * up + rel
    if rel.startswith("/") or "/../" in f"/{rel}/":
        raise HarnessError(f"module {name!r} would land outside the extraction folder")
    return rel


def runnable(text: str, folder: Path) -> str:
    """A module's JavaScript with its `/$bunfs/root/...` paths pointing into `folder` and the
    wasm import attribute dropped, so a plain Bun runs it as the executable did."""
    base = str(folder).rstrip("/") + "/"

    def moved(m: re.Match) -> str:
        return base + local_path(m.group(0))

    text = re.sub(r"/\$bunfs/root/(?:\.\./)*", moved, text)
    return WASM_ATTRIBUTE.sub(")", text)


def extract(bundle: Bundle, folder: Path, javascript: dict[str, str] | None = None, final: Path | None = None) -> Path:
    """Write every module under `folder` (JavaScript from `javascript` when given, e.g. edited),
    its paths pointing at `final` (where the folder will be run from; default `folder`), and
    return the entry point's path."""
    folder = Path(folder)
    final = folder if final is None else Path(final)
    texts = bundle.javascript() if javascript is None else javascript
    for m in bundle.modules:
        target = folder / local_path(m.name)
        target.parent.mkdir(parents=True, exist_ok=True)
        if m.javascript:
            target.write_text(runnable(texts[m.name], final), encoding="utf-8")
        else:
            target.write_bytes(m.contents)
    return folder / local_path(bundle.entry)
