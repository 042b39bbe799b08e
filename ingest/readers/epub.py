"""EPUB (2 and 3): chapters in reading order, each through the HTML reader's text extraction.

``META-INF/container.xml`` names the package document (OPF); its ``<spine>`` gives the reading order of
manifest items, XHTML chapters whose headings become sections (the EPUB 3 navigation document, a table of
contents, is skipped). Sections before a chapter's first heading are headed by the chapter's own title;
every section's anchor names its chapter ("chapter 3: The Storm"). The title is the OPF's ``dc:title``.
The archive passes the shared zip-bomb guard; books whose chapters are encrypted (DRM, listed in
``META-INF/encryption.xml``) are refused as such, while obfuscated fonts are not a reason to refuse.
"""

from __future__ import annotations

import posixpath
from dataclasses import replace
from pathlib import Path
from urllib.parse import unquote

from lxml import etree

from ..document import Section, SourceDocument, UnreadableDocument, join_parts
from .archive import SafeZip, parse_xml
from .html import decode_html, extract
from .text import read_bytes

SUFFIXES = (".epub",)
MAX_BYTES = 256 * 1024 * 1024
_KIND = "EPUB book"
_ENCRYPTION = "http://www.w3.org/2001/04/xmlenc#"
_CHAPTER_TYPES = frozenset({"application/xhtml+xml", "text/html", "application/x-dtbook+xml"})


def _named(root: etree._Element, name: str) -> list[etree._Element]:
    """Elements called ``name`` in any namespace (or none), in document order."""
    found = root.xpath(f"//*[local-name()='{name}']")
    return [element for element in found if isinstance(element, etree._Element)] if isinstance(found, list) else []


def _package_path(archive: SafeZip) -> str:
    if "META-INF/container.xml" not in archive:
        raise UnreadableDocument(f"not a readable {_KIND} (no META-INF/container.xml; not an .epub?)")
    container = parse_xml(archive.read("META-INF/container.xml"), _KIND, "META-INF/container.xml")
    rootfiles = _named(container, "rootfile")  # by local name: some tools leave out the namespace
    full_path = rootfiles[0].get("full-path") if rootfiles else None
    if not full_path or full_path not in archive:
        raise UnreadableDocument(f"not a readable {_KIND}: its package document is missing")
    return full_path


def _encrypted_parts(archive: SafeZip) -> set[str]:
    """Members encrypted with real encryption (fonts obfuscated by the IDPF or Adobe schemes do not count)."""
    if "META-INF/encryption.xml" not in archive:
        return set()
    encryption = parse_xml(archive.read("META-INF/encryption.xml"), _KIND, "META-INF/encryption.xml")
    parts = set()
    for data in encryption.iter(f"{{{_ENCRYPTION}}}EncryptedData"):
        method = data.find(f"{{{_ENCRYPTION}}}EncryptionMethod")
        algorithm = method.get("Algorithm", "") if method is not None else ""
        reference = data.find(f".//{{{_ENCRYPTION}}}CipherReference")
        if reference is not None and "embedding" not in algorithm and "pdf/enc#RC" not in algorithm:
            parts.add(unquote(reference.get("URI", "")))
    return parts


def _spine(archive: SafeZip, package: str) -> tuple[str, list[str]]:
    """The book's title and its chapter members in reading order."""
    opf = parse_xml(archive.read(package), _KIND, package)
    folder = posixpath.dirname(package)
    manifest = {
        item.get("id"): (item.get("href", ""), item.get("media-type", ""))
        for item in _named(opf, "item")
        if item.get("id") and "nav" not in str(item.get("properties", "")).split()  # the table of contents
    }
    chapters = []
    for itemref in _named(opf, "itemref"):
        href, media_type = manifest.get(itemref.get("idref"), ("", ""))
        if href and media_type in _CHAPTER_TYPES:
            chapters.append(posixpath.normpath(posixpath.join(folder, unquote(href.split("#")[0]))))
    titles = _named(opf, "title")
    title = " ".join((titles[0].text or "").split()) if titles else ""
    return title, chapters


def _chapter(markup: bytes, number: int, fallback: str) -> tuple[str, list[Section]]:
    """A chapter's text and sections, each anchored to the chapter."""
    page = extract(decode_html(markup))
    label = page.first_heading or page.title or fallback
    anchor = f"chapter {number}: {label}" if label else f"chapter {number}"
    sections = [replace(s, heading=s.heading or label, anchor=anchor) for s in page.sections]
    return page.text, sections


def read(path: Path) -> SourceDocument:
    """Read an .epub book; sections follow the chapters' headings."""
    with SafeZip(read_bytes(path, MAX_BYTES), _KIND) as archive:
        package = _package_path(archive)
        title, members = _spine(archive, package)
        encrypted = _encrypted_parts(archive)
        if encrypted & set(members):
            raise UnreadableDocument(f"{_KIND} is DRM-protected (its chapters are encrypted)")
        chapters = []
        for member in members:
            if member not in archive:
                continue  # a spine entry without its file: the rest of the book is still worth reading
            markup = archive.read(member)
            chapters.append((markup, posixpath.splitext(posixpath.basename(member))[0]))
    parts: list[tuple[str, list[Section]]] = []
    for markup, fallback in chapters:
        number = sum(1 for chapter_text, _ in parts if chapter_text) + 1  # chapters with text, counted from 1
        parts.append(_chapter(markup, number, fallback))
    text, sections = join_parts(parts)
    if not text:
        raise UnreadableDocument("book has no text (no readable chapters)")
    return SourceDocument(path=str(path), text=text, title=title or path.stem, sections=sections)
