"""Real background text for haystacks, kept apart from the text router training reads.

Two splits:

- ``"eval"`` (haystacks): English manual pages under /usr/share/man (troff markup stripped) and the
  function and class docstrings of every standard-library module, packages included.
- ``"train"``: exactly what ``memsa.core.training_corpus.corpus_texts`` reads (``pydoc_data.topics``,
  /usr/share/doc README/NEWS/*.txt/*.md, standard-library *module* docstrings). It is offered so a router
  can be checked on the text it was trained on, never to build the haystacks that measure it.

Router training must never read the ``"eval"`` sources: manual pages, or function/class docstrings.
"""

from __future__ import annotations

import ast
import functools
import gzip
import hashlib
import random
import re
import sysconfig
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

from memsa.core.errors import InvalidInput
from memsa.core.training_corpus import corpus_texts, passages_of

Split = Literal["eval", "train"]
SPLITS: tuple[Split, ...] = ("eval", "train")
EVAL_SOURCES = ("man pages (/usr/share/man/man1-8)", "standard-library function and class docstrings")

MAN_ROOT = Path("/usr/share/man")

# Font, size and spacing escapes carry no words; named characters that do are mapped below.
_TROFF_ESCAPE = re.compile(r"\\(f\(..|f\[[^]]*\]|f.|s[-+]?\d+|\*\(..|\*\[[^]]*\]|\*.|\(..|\[[^]]*\]|[,/&:^|c])")
_TROFF_CHARACTERS = {r"\(em": "—", r"\(en": "–", r"\(aq": "'", r"\(dq": '"', r"\(bu": "•", r"\(co": "©",
                     r"\(lq": '"', r"\(rq": '"', r"\(oq": "'", r"\(cq": "'", r"\-": "-", r"\e": "\\", r"\ ": " ",
                     r"\~": " ", r"\0": " "}
_INDENT = re.compile(r"\s+\d+(\.\d+)?[mnvi]?$")
_TEXT_MACROS = {"B", "I", "BR", "RB", "IR", "RI", "BI", "IB", "SM", "SB", "UR", "MT", "Nm", "Nd", "Ar", "Fl"}
_BREAK_MACROS = {"SH", "SS", "PP", "P", "LP", "TP", "IP", "HP", "sp", "Sh", "Ss", "Pp", "Bl", "It"}


@dataclass(frozen=True)
class SourceText:
    """One text of a source: a manual page or a module's docstrings.

    Attributes:
        source: which source it came from ("man", "pydoc-api", or "training").
        title: a short human-readable name ("ls(1)", "json.decoder").
        text: paragraphs separated by blank lines.
    """

    source: str
    title: str
    text: str


def troff_to_text(markup: str) -> str:
    """Readable paragraphs from a manual page's troff source (man or mdoc macros).

    Macro definitions and conditionals are dropped; text macros (``.B``, ``.IR``…) keep their words;
    section and paragraph macros become blank lines; font and size escapes disappear.
    """
    paragraphs: list[str] = []
    current: list[str] = []
    defining = False
    for raw in markup.splitlines():
        line = raw.split('\\"', 1)[0] if '\\"' in raw else raw
        if defining:
            defining = not line.startswith("..")
            continue
        if line.startswith((".", "'")):
            name, _, rest = line[1:].strip().partition(" ")
            if name in ("de", "de1", "am", "ig"):
                defining = True
                continue
            if name in _BREAK_MACROS:
                paragraphs.append(" ".join(current))
                current = []
                line = rest if name in ("SH", "SS", "Sh", "Ss") else ""
                if name == "IP":  # `.IP "•" 2m`: the tag's words, not the indent
                    line = _INDENT.sub("", rest)
            elif name in _TEXT_MACROS:
                line = rest
            else:
                continue
            line = line.replace('"', "")
        for escape, character in _TROFF_CHARACTERS.items():
            line = line.replace(escape, character)
        line = _TROFF_ESCAPE.sub("", line).strip()
        if line:
            current.append(line)
    paragraphs.append(" ".join(current))
    return "\n\n".join(paragraph for paragraph in paragraphs if paragraph.strip())


@functools.cache
def man_page_paths(root: Path = MAN_ROOT, per_family: int = 40) -> tuple[Path, ...]:
    """English manual pages (sections 1-8), sorted, at most ``per_family`` of each command family.

    A family is the name's first word (``gcloud`` in ``gcloud_alpha_iam…``): one tool's thousands of
    near-identical pages would otherwise make most of the haystack.
    """
    counts: dict[str, int] = {}
    kept = []
    for path in sorted(path for section in range(1, 9) for path in (root / f"man{section}").glob("*")):
        family = re.split(r"[_.\-]", path.name, maxsplit=1)[0].lower()
        if path.is_file() and counts.get(family, 0) < per_family:
            counts[family] = counts.get(family, 0) + 1
            kept.append(path)
    return tuple(kept)


def read_man_page(path: Path) -> SourceText | None:
    """A manual page as text, or None when it is unreadable or only points at another page (``.so``)."""
    try:
        raw = gzip.decompress(path.read_bytes()) if path.suffix == ".gz" else path.read_bytes()
        markup = raw.decode("utf-8", errors="replace")
    except (OSError, EOFError, gzip.BadGzipFile):
        return None
    if markup.lstrip().startswith(".so "):
        return None
    name = path.name.removesuffix(".gz")
    stem, _, section = name.rpartition(".")
    return SourceText("man", f"{stem}({section})", troff_to_text(markup))


@functools.cache
def stdlib_module_paths() -> tuple[Path, ...]:
    """Every standard-library source file (packages included, tests and site-packages excluded), sorted."""
    stdlib = Path(sysconfig.get_paths()["stdlib"])
    skipped = {"site-packages", "test", "tests", "idlelib", "lib2to3", "__pycache__"}
    return tuple(sorted(
        path for path in stdlib.rglob("*.py") if not skipped & set(path.relative_to(stdlib).parts)
    ))


def read_api_docstrings(path: Path) -> SourceText | None:
    """The function and class docstrings of one module (never its module docstring: training reads those)."""
    try:
        tree = ast.parse(path.read_text(encoding="utf-8"))
    except (SyntaxError, UnicodeDecodeError, OSError, ValueError):
        return None
    parts = []
    for node in ast.walk(tree):
        if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef):
            docstring = ast.get_docstring(node)
            if docstring and len(docstring) > 80:
                parts.append(f"{node.name}: {' '.join(docstring.split())}")
    if not parts:
        return None
    stdlib = Path(sysconfig.get_paths()["stdlib"])
    title = ".".join(path.relative_to(stdlib).with_suffix("").parts)
    return SourceText("pydoc-api", title, "\n\n".join(parts))


def source_texts(split: Split, seed: int, man_per_family: int = 40) -> Iterator[SourceText]:
    """Texts of ``split`` in a seeded order: the two eval sources shuffled and interleaved one by one.

    The same seed gives the same order, so a smaller haystack's background is a prefix of a larger
    one's (which lets encodings be reused across sizes).

    Raises:
        InvalidInput: an unknown split.
    """
    if split not in SPLITS:
        raise InvalidInput(f"unknown text split {split!r}: use one of {', '.join(SPLITS)}")
    if split == "train":
        for index, text in enumerate(corpus_texts()):
            yield SourceText("training", f"training-{index}", text)
        return
    rng = random.Random(seed)
    man = list(man_page_paths(MAN_ROOT, man_per_family))
    api = list(stdlib_module_paths())
    rng.shuffle(man)
    rng.shuffle(api)
    readers = [(iter(man), read_man_page), (iter(api), read_api_docstrings)]
    while readers:
        for reader in list(readers):
            paths, read = reader
            text = None
            for path in paths:
                text = read(path)
                if text is not None:
                    break
            if text is None:
                readers.remove(reader)
            else:
                yield text


def background_passages(split: Split, seed: int, man_per_family: int = 40) -> Iterator[tuple[str, str]]:
    """(title, passage) pairs of whole paragraphs (60-260 words each), in the seeded order of :func:`source_texts`.

    A passage seen before (manual pages installed under several names) is skipped.
    """
    seen: set[str] = set()
    for text in source_texts(split, seed, man_per_family):
        for index, passage in enumerate(passages_of(text.text)):
            digest = hashlib.sha1(passage.encode()).hexdigest()
            if digest not in seen:
                seen.add(digest)
                yield f"{text.title} #{index + 1}", passage
