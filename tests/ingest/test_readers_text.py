"""Plain text and code: encodings, binary refusal, size caps, files that are not regular files."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from memsa.ingest.document import UnreadableDocument
from memsa.ingest.readers import read_document, supported
from memsa.ingest.readers.text import MAX_BYTES, decode_text
from memsa.ingest.splitting import split_document

FRENCH = "Le café crème était très bon, à côté de la fenêtre. Ça coûte cher, naïvement. " * 20


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("\ufeffhéllo".encode(), "héllo"),
        ("héllo wörld".encode("utf-16"), "héllo wörld"),  # with BOM
        ("héllo wörld".encode("utf-16-be"), "héllo wörld"),  # no BOM, big-endian
        ("héllo wörld, plain ascii mostly".encode("utf-16-le"), "héllo wörld, plain ascii mostly"),
        ("héllo".encode("utf-32"), "héllo"),
        ("caf\xe9 au lait".encode("cp1252"), "café au lait"),  # too short to detect: Windows-1252
        (FRENCH.encode("cp1252"), FRENCH),  # the detector alone would say Windows-1250
    ],
)
def test_encodings_are_detected(raw: bytes, expected: str) -> None:
    assert decode_text(raw) == expected


@pytest.mark.parametrize(
    ("text", "encoding"),
    [
        ("Grüße aus München, schöne Straße. " * 40, "latin-1"),
        ("Привет, как дела? Это проверка кодировки. " * 40, "cp1251"),
        ("これは日本語のテキストです。東京は晴れ。" * 40, "shift_jis"),
        ("Zażółć gęślą jaźń, to jest polski tekst o żółwiach. " * 40, "cp1250"),
    ],
)
def test_legacy_code_pages_round_trip(tmp_path: Path, text: str, encoding: str) -> None:
    path = tmp_path / "legacy.txt"
    path.write_bytes(text.encode(encoding))
    assert read_document(path).text == text


def test_invalid_utf8_in_mostly_utf8_text_is_decoded_not_dropped(tmp_path: Path) -> None:
    path = tmp_path / "mixed.txt"
    path.write_bytes(b"Meeting notes: " + b"caf\xe9 \xff\xfe at nine" + b" and more." * 5)
    text = read_document(path).text
    assert text.startswith("Meeting notes: caf") and "at nine" in text


def test_binary_files_are_refused_with_a_reason(tmp_path: Path) -> None:
    (tmp_path / "nul.txt").write_bytes(b"\x00\x01\x02binary\x00" * 100)
    with pytest.raises(UnreadableDocument, match="^binary file"):
        read_document(tmp_path / "nul.txt")
    (tmp_path / "controls.log").write_bytes(bytes(range(1, 9)) * 500)
    with pytest.raises(UnreadableDocument, match="binary file|not text"):
        read_document(tmp_path / "controls.log")
    (tmp_path / "random.py").write_bytes(os.urandom(50_000))
    with pytest.raises(UnreadableDocument, match="binary file|not text"):
        read_document(tmp_path / "random.py")


def test_a_100_mb_single_line_is_refused_by_its_size_cap(tmp_path: Path) -> None:
    path = tmp_path / "one-line.txt"
    with path.open("wb") as handle:  # sparse: costs no disk and no time
        handle.truncate(100 * 2**20)
    cap = MAX_BYTES // 2**20
    with pytest.raises(UnreadableDocument, match=rf"^file is 100 MiB, over the {cap} MiB limit for this format$"):
        read_document(path)


def test_a_long_single_line_under_the_cap_splits_into_bounded_documents(tmp_path: Path) -> None:
    path = tmp_path / "minified.js"
    path.write_text("var a=1;" * 500_000)  # 4 MB, no newline, no sentence end
    document = read_document(path)
    spans = split_document(document, max_chars=3000)
    assert all(span.end - span.start <= 3000 for span in spans)
    assert spans[0].start == 0 and spans[-1].end == len(document.text)
    gaps = [document.text[a.end : b.start] for a, b in zip(spans, spans[1:], strict=False)]
    assert all(gap.isspace() or not gap for gap in gaps)  # cut at spaces: nothing but the space is left out


def test_folders_pipes_and_missing_files_are_refused(tmp_path: Path) -> None:
    (tmp_path / "folder.txt").mkdir()
    with pytest.raises(UnreadableDocument, match="not a regular file"):
        read_document(tmp_path / "folder.txt")
    os.mkfifo(tmp_path / "pipe.txt")
    with pytest.raises(UnreadableDocument, match="not a regular file"):
        read_document(tmp_path / "pipe.txt")
    with pytest.raises(UnreadableDocument, match="vanished"):
        read_document(tmp_path / "gone.txt")
    (tmp_path / "loop.txt").symlink_to(tmp_path / "loop.txt")
    with pytest.raises(UnreadableDocument, match="cannot read the file"):
        read_document(tmp_path / "loop.txt")


def test_code_files_are_supported_and_read_as_text(tmp_path: Path) -> None:
    path = tmp_path / "tool.py"
    path.write_text("def main():\n    return 1\n\n\n# entry point\nmain()\n")
    assert supported(path)
    assert [path.read_text()[s.start : s.end] for s in read_document(path).sections][0].startswith("def main")


def test_utf8_with_a_stray_byte_stays_utf8(tmp_path: Path) -> None:
    path = tmp_path / "damaged.txt"
    path.write_bytes("Grüße aus München — “quoted” ".encode() * 3 + b"\xff end")
    assert read_document(path).text == "Grüße aus München — “quoted” " * 3 + "\ufffd end"
