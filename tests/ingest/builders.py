"""Fixture files built by the tests: OpenDocument text, EPUB books and zip bombs, written with zipfile."""

from __future__ import annotations

import struct
import zipfile
from pathlib import Path
from xml.sax.saxutils import escape

ODT_NAMESPACES = (
    'xmlns:office="urn:oasis:names:tc:opendocument:xmlns:office:1.0" '
    'xmlns:text="urn:oasis:names:tc:opendocument:xmlns:text:1.0" '
    'xmlns:table="urn:oasis:names:tc:opendocument:xmlns:table:1.0" '
    'xmlns:dc="http://purl.org/dc/elements/1.1/" '
    'xmlns:meta="urn:oasis:names:tc:opendocument:xmlns:meta:1.0"'
)


def write_odt(path: Path, body_xml: str, title: str | None = None, manifest_extra: str = "") -> Path:
    """An .odt whose office:text holds ``body_xml`` (ODF markup with the text:/table: prefixes)."""
    content = (
        f'<?xml version="1.0" encoding="UTF-8"?><office:document-content {ODT_NAMESPACES}>'
        f"<office:body><office:text>{body_xml}</office:text></office:body></office:document-content>"
    )
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as archive:
        archive.writestr(zipfile.ZipInfo("mimetype"), "application/vnd.oasis.opendocument.text")
        archive.writestr("content.xml", content)
        archive.writestr(
            "META-INF/manifest.xml",
            '<manifest:manifest xmlns:manifest="urn:oasis:names:tc:opendocument:xmlns:manifest:1.0">'
            f'<manifest:file-entry manifest:full-path="content.xml">{manifest_extra}</manifest:file-entry>'
            "</manifest:manifest>",
        )
        if title is not None:
            archive.writestr(
                "meta.xml",
                f"<office:document-meta {ODT_NAMESPACES}><office:meta><dc:title>{escape(title)}</dc:title>"
                "</office:meta></office:document-meta>",
            )
    return path


def chapter_xhtml(title: str, body: str) -> str:
    return (
        '<?xml version="1.0" encoding="utf-8"?><html xmlns="http://www.w3.org/1999/xhtml">'
        f"<head><title>{escape(title)}</title></head><body>{body}</body></html>"
    )


def write_epub(
    path: Path,
    chapters: list[tuple[str, str]],
    title: str = "A Book",
    spine_order: list[int] | None = None,
    encrypted: bool = False,
    navigation: bool = False,
) -> Path:
    """An EPUB 3 in the usual OEBPS layout; ``chapters`` are (file name, XHTML), read in ``spine_order``.

    ``navigation``: the first chapter is the navigation document (``properties="nav"``), as many books have.
    """
    order = spine_order if spine_order is not None else list(range(len(chapters)))
    nav = ' properties="nav"'
    manifest = "".join(
        f'<item id="c{i}" href="text/{name}" media-type="application/xhtml+xml"{nav if navigation and i == 0 else ""}/>'
        for i, (name, _) in enumerate(chapters)
    )
    spine = "".join(f'<itemref idref="c{i}"/>' for i in order)
    opf = (
        '<?xml version="1.0" encoding="utf-8"?><package xmlns="http://www.idpf.org/2007/opf" version="3.0">'
        f'<metadata xmlns:dc="http://purl.org/dc/elements/1.1/"><dc:title>{escape(title)}</dc:title></metadata>'
        f'<manifest><item id="css" href="style.css" media-type="text/css"/>{manifest}</manifest>'
        f"<spine>{spine}</spine></package>"
    )
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as archive:
        archive.writestr(zipfile.ZipInfo("mimetype"), "application/epub+zip")
        archive.writestr(
            "META-INF/container.xml",
            '<container xmlns="urn:oasis:names:tc:opendocument:xmlns:container" version="1.0"><rootfiles>'
            '<rootfile full-path="OEBPS/content.opf" media-type="application/oebps-package+xml"/>'
            "</rootfiles></container>",
        )
        archive.writestr("OEBPS/content.opf", opf)
        archive.writestr("OEBPS/style.css", "body { margin: 0 }")
        for name, xhtml in chapters:
            archive.writestr(f"OEBPS/text/{name}", xhtml)
        if encrypted:
            references = "".join(
                '<EncryptedData xmlns="http://www.w3.org/2001/04/xmlenc#">'
                '<EncryptionMethod Algorithm="http://www.w3.org/2001/04/xmlenc#aes128-cbc"/>'
                f'<CipherData><CipherReference URI="OEBPS/text/{name}"/></CipherData></EncryptedData>'
                for name, _ in chapters
            )
            archive.writestr(
                "META-INF/encryption.xml",
                f'<encryption xmlns="urn:oasis:names:tc:opendocument:xmlns:container">{references}</encryption>',
            )
    return path


def add_bomb_member(archive: zipfile.ZipFile, name: str, mebibytes: int) -> None:
    """A member of ``mebibytes`` MiB of zeros, streamed in (a few KiB on disk per MiB)."""
    zeros = bytes(1 << 20)
    with archive.open(name, "w", force_zip64=True) as member:
        for _ in range(mebibytes):
            member.write(zeros)


def declare_sizes(path: Path, declared: int) -> None:
    """Rewrite every member's declared unpacked size to ``declared`` bytes, as a hostile archive may.

    Patches the central directory's 32-bit size fields (members written without zip64).
    """
    raw = bytearray(path.read_bytes())
    position = raw.find(b"PK\x01\x02")
    while position != -1:
        struct.pack_into("<I", raw, position + 24, declared)
        position = raw.find(b"PK\x01\x02", position + 4)
    path.write_bytes(bytes(raw))


W_NAMESPACES = (
    'xmlns:w="http://schemas.openxmlformats.org/wordprocessingml/2006/main" '
    'xmlns:mc="http://schemas.openxmlformats.org/markup-compatibility/2006"'
)


def write_docx_xml(path: Path, body_xml: str, styles_xml: str = "") -> Path:
    """A .docx built from WordprocessingML: ``body_xml`` inside w:body, ``styles_xml`` inside w:styles."""
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as archive:
        archive.writestr("[Content_Types].xml", '<?xml version="1.0"?><Types/>')
        archive.writestr(
            "_rels/.rels",
            '<Relationships xmlns="http://schemas.openxmlformats.org/package/2006/relationships">'
            '<Relationship Id="rId1" Target="word/document.xml" '
            'Type="http://schemas.openxmlformats.org/officeDocument/2006/relationships/officeDocument"/>'
            "</Relationships>",
        )
        archive.writestr("word/document.xml", f"<w:document {W_NAMESPACES}><w:body>{body_xml}</w:body></w:document>")
        archive.writestr("word/styles.xml", f"<w:styles {W_NAMESPACES}>{styles_xml}</w:styles>")
    return path
