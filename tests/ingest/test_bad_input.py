"""A hostile archive: 200+ corrupt, malicious and odd files each fail alone with a recorded, specific reason,
memory stays bounded, the queue goes on, and a good file among them is remembered and retrievable."""

from __future__ import annotations

import functools
import io
import os
import random
import re
import resource
import zipfile
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import docx
import pytest
from pypdf import PdfReader, PdfWriter

from memsa.core.engine import MemoryEngine
from memsa.ingest.discovery import discover, path_key
from memsa.ingest.pipeline import ingest_found
from memsa.ingest.watching import WatchService
from tests.support.tiny_models import TinyModel
from tests.support.watch_engine import open_tiny_engine, wait_for

GOOD_TEXT = "the wifi password at the lake cabin is tango 4 2 ."


@dataclass(frozen=True)
class Kind:
    """One kind of hostile file: how many, how to write one, which outcomes and reason it must get."""

    name: str
    count: int
    write: Callable[[Path, int], Path]
    statuses: frozenset[str]
    reason: str  # a regular expression the recorded reason must match ("" for a file that may be read)


def _pdf(text: str) -> bytes:
    """A one-page PDF with a text layer, its cross-reference table correct."""
    stream = f"BT /F1 12 Tf 72 700 Td ({text}) Tj ET".encode()
    bodies = [
        b"<< /Type /Catalog /Pages 2 0 R >>",
        b"<< /Type /Pages /Kids [3 0 R] /Count 1 >>",
        b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 612 792] /Resources << /Font << /F1 5 0 R >> >> "
        b"/Contents 4 0 R >>",
        b"<< /Length %d >>\nstream\n%s\nendstream" % (len(stream), stream),
        b"<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica >>",
    ]
    out = io.BytesIO(b"%PDF-1.4\n")
    out.seek(0, io.SEEK_END)
    offsets = []
    for number, body in enumerate(bodies, start=1):
        offsets.append(out.tell())
        out.write(b"%d 0 obj\n%s\nendobj\n" % (number, body))
    xref = out.tell()
    out.write(b"xref\n0 6\n0000000000 65535 f \n" + b"".join(b"%010d 00000 n \n" % at for at in offsets))
    out.write(b"trailer\n<< /Size 6 /Root 1 0 R >>\nstartxref\n%d\n%%%%EOF\n" % xref)
    return out.getvalue()


def _truncated_pdf(path: Path, number: int) -> Path:
    whole = _pdf(f"page words {number}")
    path.write_bytes(whole[: 20 + number * len(whole) // 40])
    return path


def _encrypted_pdf(path: Path, number: int) -> Path:
    writer = PdfWriter(clone_from=PdfReader(io.BytesIO(_pdf("secret words"))))
    writer.encrypt(user_password=f"password{number}", owner_password="owner", algorithm="RC4-128")
    with path.open("wb") as out:
        writer.write(out)
    return path


def _zip_bomb(member: str, extra: dict[str, bytes]) -> Callable[[Path, int], Path]:
    """Writes copies of one archive whose ``member`` unpacks to 136 MiB of zeros (about 0.14 MiB packed)."""

    @functools.cache
    def archive_bytes() -> bytes:
        out = io.BytesIO()
        with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as archive:
            for name, data in extra.items():
                archive.writestr(name, data, compress_type=zipfile.ZIP_STORED)
            with archive.open(member, "w", force_zip64=True) as bomb:
                zeros = bytes(1 << 20)
                for _ in range(136):
                    bomb.write(zeros)
        return out.getvalue()

    def write(path: Path, number: int) -> Path:
        path.write_bytes(archive_bytes())
        return path

    return write


_DOCX_PARTS = {"[Content_Types].xml": b'<?xml version="1.0"?><Types/>'}
_EPUB_PARTS = {"mimetype": b"application/epub+zip",
               "META-INF/container.xml": b'<?xml version="1.0"?><container><rootfiles><rootfile '
                                         b'full-path="content.opf"/></rootfiles></container>'}


def _invalid_utf8(path: Path, number: int) -> Path:
    rng = random.Random(number)
    path.write_bytes(bytes(rng.choice([0xC3, 0xFF, 0xFE, 0x80, 0xBF, 0xE2, 0x41, 0x20]) for _ in range(2000)))
    return path


def _long_line(path: Path, number: int) -> Path:
    with path.open("wb") as out:  # 100 MiB, one line, written sparsely: a few bytes, then a hole
        out.write(b"alpha bravo charlie ")
        out.truncate(100 * 2**20)
    return path


def _bytes(data: bytes) -> Callable[[Path, int], Path]:
    def write(path: Path, number: int) -> Path:
        path.write_bytes(data)
        return path
    return write


def _loop(path: Path, number: int) -> Path:
    partner = path.with_name(f"partner{number}.txt")
    path.symlink_to(partner.name)
    partner.symlink_to(path.name)
    return path


def _folder_loop(path: Path, number: int) -> Path:
    path.mkdir()
    (path / "back").symlink_to("..", target_is_directory=True)
    return path / "back"


def _dangling(path: Path, number: int) -> Path:
    path.symlink_to(f"nowhere{number}.txt")
    return path


def _outside(path: Path, number: int) -> Path:
    target = path.parents[2] / "outside" / f"secret{number}.txt"
    target.parent.mkdir(exist_ok=True)
    target.write_text("secret words .")
    path.symlink_to(target)
    return path


def _fifo(path: Path, number: int) -> Path:
    os.mkfifo(path)
    return path


def _deep(path: Path, number: int) -> Path:
    folder = path.parent.joinpath(*[f"d{number}"] * 40)
    folder.mkdir(parents=True)
    target = folder / path.name
    target.write_bytes(b"\x00binary at the bottom\x00" * 10)
    return target


def _entity_bomb(path: Path, number: int) -> Path:
    lol = '<!ENTITY a0 "lol">' + "".join(f'<!ENTITY a{i} "{f"&a{i - 1};" * 10}">' for i in range(1, 10))
    document = f'<?xml version="1.0"?><!DOCTYPE d [{lol}]><w:document>&a9;</w:document>'.encode()
    with zipfile.ZipFile(path, "w") as archive:
        archive.writestr("[Content_Types].xml", _DOCX_PARTS["[Content_Types].xml"])
        archive.writestr("word/document.xml", document)
    return path


def _truncated_docx(path: Path, number: int) -> Path:
    document = docx.Document()
    document.add_paragraph("the spare key is under the blue flowerpot .")
    out = io.BytesIO()
    document.save(out)
    whole = out.getvalue()
    path.write_bytes(whole[: len(whole) * (number + 1) // 12])
    return path


def _undecodable_name(path: Path, number: int) -> Path:
    target = Path(os.fsdecode(os.fsencode(path.parent) + b"/name-\xff\xfe-%d.txt" % number))
    target.write_text(GOOD_TEXT)
    return target


PNG = b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR" + bytes(64)
KINDS = [
    Kind("truncated-pdf", 30, _truncated_pdf, frozenset({"failed"}), r"(?i)pdf|damaged|truncat"),
    Kind("encrypted-pdf", 10, _encrypted_pdf, frozenset({"failed"}), r"(?i)encrypt|password"),
    Kind("zip-bomb-docx", 8, _zip_bomb("word/document.xml", _DOCX_PARTS), frozenset({"failed"}),
         r"(?i)MiB|too large|bomb|limit"),
    Kind("zip-bomb-epub", 8, _zip_bomb("content.opf", _EPUB_PARTS), frozenset({"failed"}),
         r"(?i)MiB|too large|bomb|limit"),
    Kind("entity-bomb-docx", 6, _entity_bomb, frozenset({"failed"}), r"(?i)entit|DTD|xml|damaged|docx"),
    Kind("invalid-utf8", 20, _invalid_utf8, frozenset({"failed", "added"}), ""),
    Kind("long-line", 1, _long_line, frozenset({"failed", "skipped"}), r"MiB"),
    Kind("link-loop", 10, _loop, frozenset({"failed"}), r"loop"),
    Kind("folder-loop", 5, _folder_loop, frozenset({"failed"}), r"loop"),
    Kind("dangling-link", 10, _dangling, frozenset({"failed"}), r"dangling"),
    Kind("link-outside", 10, _outside, frozenset({"skipped"}), r"outside the watched folder"),
    Kind("fifo", 5, _fifo, frozenset({"skipped"}), r"not a regular file"),
    Kind("empty-txt", 10, _bytes(b""), frozenset({"failed"}), r"(?i)empty"),
    Kind("empty-pdf", 5, _bytes(b""), frozenset({"failed"}), r"(?i)empty|pdf|damaged"),
    Kind("empty-docx", 5, _bytes(b""), frozenset({"failed"}), r"(?i)empty|docx|zip|damaged"),
    Kind("png-as-txt", 10, _bytes(PNG), frozenset({"failed"}), r"(?i)binary"),
    Kind("text-as-pdf", 10, _bytes(b"just some words, not a PDF at all"), frozenset({"failed"}), r"(?i)pdf"),
    Kind("text-as-docx", 10, _bytes(b"just some words, not a zip at all"), frozenset({"failed"}),
         r"(?i)docx|zip|damaged"),
    Kind("text-as-epub", 10, _bytes(b"<html>not an epub</html>"), frozenset({"failed"}), r"(?i)epub|zip|damaged"),
    Kind("garbage-eml", 5, _bytes(b"\x00\xff" * 500), frozenset({"failed"}), r"(?i)binary|mail|message|damaged"),
    Kind("truncated-docx", 10, lambda path, number: _truncated_docx(path, number), frozenset({"failed"}),
         r"(?i)docx|word|zip|damaged"),
    Kind("undecodable-name", 5, _undecodable_name, frozenset({"skipped"}), r"not valid UTF-8"),
    Kind("deep-folders", 5, _deep, frozenset({"failed"}), r"(?i)binary"),
]
SUFFIXES = {"truncated-pdf": ".pdf", "encrypted-pdf": ".pdf", "zip-bomb-docx": ".docx", "zip-bomb-epub": ".epub",
            "entity-bomb-docx": ".docx", "empty-pdf": ".pdf", "empty-docx": ".docx", "text-as-pdf": ".pdf",
            "text-as-docx": ".docx", "text-as-epub": ".epub", "garbage-eml": ".eml", "truncated-docx": ".docx",
            "folder-loop": ""}


def build_corpus(root: Path) -> dict[Path, Kind]:
    """Write every hostile file under ``root``; returns each file's path and kind."""
    corpus: dict[Path, Kind] = {}
    for kind in KINDS:
        folder = root / kind.name
        folder.mkdir(parents=True)
        for number in range(kind.count):
            name = f"{kind.name}-{number}{SUFFIXES.get(kind.name, '.txt')}"
            corpus[kind.write(folder / name, number)] = kind
    return corpus


@pytest.fixture()
def engine(tiny_llama: TinyModel, data_dir: Path) -> Iterator[MemoryEngine]:
    with open_tiny_engine(tiny_llama, data_dir) as opened:
        yield opened


def _peak_rss_mib() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def test_hostile_files_fail_alone_with_specific_reasons(engine: MemoryEngine, tmp_path: Path) -> None:
    root = tmp_path / "archive" / "root"
    corpus = build_corpus(root)
    good = root / "good" / "cabin.txt"
    good.parent.mkdir()
    good.write_text(GOOD_TEXT)
    assert len(corpus) >= 200
    peak_before = _peak_rss_mib()

    service = WatchService(engine, quiet_seconds=0.0)
    service.start()
    try:
        service.add_root(root)
        wait_for(lambda: engine.bank.ledger.outcome(str(good)) and service.pending() == 0,
                 "the queue to get through the hostile files", timeout=300)
    finally:
        service.stop()

    problems = []
    for path, kind in corpus.items():
        recorded = engine.bank.ledger.outcome(path_key(path))
        if recorded is None:
            problems.append(f"{kind.name}: {path.name}: no outcome recorded")
            continue
        outcome = recorded[0]
        if outcome.status not in kind.statuses:
            problems.append(f"{kind.name}: {path.name}: {outcome.status} ({outcome.reason})")
        elif outcome.status != "added" and not (outcome.reason and re.search(kind.reason, outcome.reason)):
            problems.append(f"{kind.name}: {path.name}: unspecific reason {outcome.reason!r}")
        elif "internal error" in outcome.reason:
            problems.append(f"{kind.name}: {path.name}: {outcome.reason}")
    assert not problems, "\n".join(problems)

    good_outcome = engine.bank.ledger.outcome(str(good))
    assert good_outcome is not None and good_outcome[0].status == "added"
    good_ids = set(engine.bank.document_ids(str(good)))
    routed = engine.retrieve("what is the wifi password at the lake cabin ?", top_k=engine.status().documents)
    assert good_ids & {document.doc_id for document in routed}
    assert not any("secret" in source.path for source in engine.bank.sources())
    # Bombs and the 100 MiB file were refused without being unpacked or read whole.
    assert _peak_rss_mib() - peak_before < 256


def test_a_file_that_vanishes_between_discovery_and_reading_gets_its_reason(
    engine: MemoryEngine, tmp_path: Path
) -> None:
    folder = tmp_path / "notes"
    folder.mkdir()
    for number in range(5):
        (folder / f"note{number}.txt").write_text(GOOD_TEXT)
    found = list(discover([folder]))
    for number in range(0, 5, 2):
        (folder / f"note{number}.txt").unlink()
    outcomes = {Path(item.path).name: ingest_found(engine, item) for item in found}
    for number in range(5):
        outcome = outcomes[f"note{number}.txt"]
        if number % 2 == 0:
            assert outcome.status == "failed" and "vanished" in outcome.reason
        else:
            assert outcome.status == "added"


def test_unreadable_files_get_their_reason(engine: MemoryEngine, tmp_path: Path) -> None:
    if os.geteuid() == 0:
        pytest.skip("running as root: a chmod 000 file is still readable, so it cannot be made unreadable")
    folder = tmp_path / "notes"
    folder.mkdir()
    locked = folder / "locked.txt"
    locked.write_text(GOOD_TEXT)
    locked.chmod(0)
    try:
        (outcome,) = [ingest_found(engine, item) for item in discover([folder])]
    finally:
        locked.chmod(0o600)
    assert outcome.status == "failed" and "permission denied" in outcome.reason
