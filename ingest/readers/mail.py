"""E-mail: ``.eml`` (one message) and ``.mbox`` (a mailbox file of many), with their readable attachments.

Each message becomes a header block (From, To, Cc, Date, Subject and the names of its attachments), then its
plain-text body (or its HTML body's text), paragraphs as sections headed by the subject and anchored to the
message: its Message-ID, or "From · Date · Subject" when it has none (stable either way). An ``.mbox`` is one
document with a block per message. Attachments in a format memsa reads (PDF, Word, OpenDocument, EPUB, text,
Markdown, HTML, forwarded e-mails, …) are handed to ``read_part`` and come back as documents of their own,
``file#part`` (``report.pdf``, or ``msg-12/report.pdf`` inside a mailbox).
"""

from __future__ import annotations

import email
import email.policy
import hashlib
import logging
import mailbox
import re
from collections.abc import Callable, Iterator
from email.message import EmailMessage, Message
from pathlib import Path

from ..document import Section, SourceDocument, UnreadableDocument, join_parts
from .html import extract
from .text import normalize_newlines, paragraph_sections, read_bytes, regular_file_size

SUFFIXES = (".eml",)
MBOX_SUFFIXES = (".mbox",)
MAX_BYTES = 128 * 1024 * 1024
MAX_MBOX_BYTES = 1024 * 1024 * 1024
MAX_ATTACHMENT_BYTES = 64 * 1024 * 1024
MAX_ATTACHMENTS = 200  # per file
_HEADERS = ("From", "To", "Cc", "Date", "Subject")
_UNSAFE_NAME = re.compile(r"[\x00-\x1f/\\#]+")
_TYPE_SUFFIXES = {"text/plain": ".txt", "text/html": ".html", "application/pdf": ".pdf", "message/rfc822": ".eml"}

log = logging.getLogger(__name__)

PartReader = Callable[[str, bytes, str], SourceDocument | None]
"""``read_part(name, data, virtual_path)``: an embedded file as a document at ``virtual_path``, or None."""

Attachment = tuple[str, bytes]


def _header(message: Message, name: str) -> str:
    """A header's decoded value on one line; "" when absent or unparseable."""
    try:
        value = message.get(name)
    except Exception:  # a malformed header must not cost the message
        return ""
    return " ".join(str(value).split()) if value is not None else ""


def _content(part: Message) -> str:
    """A text part's decoded content, tolerating unknown charsets and broken transfer encodings."""
    try:
        content = part.get_content()  # type: ignore[attr-defined]
    except Exception:  # LookupError (charset), ValueError/binascii errors (encoding), …: use the raw bytes
        content = None
    if isinstance(content, str):
        return content
    payload = part.get_payload(decode=True)
    return payload.decode("utf-8", errors="replace") if isinstance(payload, bytes) else ""


def body_text(message: EmailMessage) -> str:
    """The message's plain-text body, or the text of its HTML body when it has no plain-text one."""
    plain = message.get_body(preferencelist=("plain",))
    if plain is not None:
        return _content(plain)
    html = message.get_body(preferencelist=("html",))
    if html is not None:
        return extract(_content(html)).text
    return ""


def _attachments(part: Message, body: Message | None) -> Iterator[Attachment]:
    """(file name, bytes) of every attachment; a forwarded message is one ``.eml`` attachment."""
    content_type = part.get_content_type()
    if content_type == "message/rfc822" and part is not body:
        inner = part.get_payload()
        if isinstance(inner, list) and inner and isinstance(inner[0], Message):
            yield part.get_filename() or "forwarded.eml", inner[0].as_bytes()
        return
    if part.is_multipart():
        for child in part.get_payload():
            if isinstance(child, Message):
                yield from _attachments(child, body)
        return
    name = part.get_filename()
    if part is body or not (name or part.get_content_disposition() == "attachment"):
        return
    payload = part.get_payload(decode=True)
    if isinstance(payload, bytes):
        yield name or f"attachment{_TYPE_SUFFIXES.get(content_type, '')}", payload


def _safe_name(name: str, taken: set[str]) -> str:
    """A file name fit for a virtual path: no folders or separators, short, unique within the file."""
    name = _UNSAFE_NAME.sub("_", name).strip(" .") or "attachment"
    stem, dot, suffix = name.rpartition(".")
    name = (stem[:80] + dot + suffix[:16]) if dot else name[:96]
    unique, count = name, 1
    while unique in taken:
        count += 1
        unique = f"{stem}-{count}{dot}{suffix}" if dot else f"{name}-{count}"
    taken.add(unique)
    return unique


def parse_message(raw: bytes) -> EmailMessage:
    """Parse one message's bytes.

    Raises:
        UnreadableDocument: no From, To, Date or Subject: not an e-mail.
    """
    message = email.message_from_bytes(raw, policy=email.policy.default)
    if not isinstance(message, EmailMessage) or not any(name in message for name in _HEADERS):
        raise UnreadableDocument("not an e-mail message (no From, To, Date or Subject)")
    return message


def message_anchor(message: Message) -> str:
    """The message's Message-ID, or "From · Date · Subject" when it has none."""
    message_id = _header(message, "Message-ID")
    if message_id:
        return message_id
    values = [_header(message, name) for name in ("From", "Date", "Subject")]
    fallback = " · ".join(value for value in values if value)
    return fallback or f"message {hashlib.sha1(message.as_bytes()).hexdigest()[:12]}"


def render_message(message: EmailMessage) -> tuple[str, list[Section], list[Attachment]]:
    """A message's header block and body as text with sections, and its attachments.

    Raises:
        UnreadableDocument: the MIME structure is broken.
    """
    try:
        body_part = message.get_body(preferencelist=("plain", "html"))
        body = normalize_newlines(body_text(message)).strip()
        attachments = list(_attachments(message, body_part))
    except Exception as error:  # a structurally broken MIME tree
        raise UnreadableDocument("e-mail body is damaged") from error
    values = {name: _header(message, name) for name in _HEADERS}
    lines = [f"{name}: {value}" for name, value in values.items() if value]
    if attachments:
        lines.append("Attachments: " + ", ".join(name for name, _ in attachments))
    header = "\n".join(lines)
    subject, anchor = values["Subject"], message_anchor(message)
    if not header and not body:
        raise UnreadableDocument("e-mail message has no text (empty headers and body)")
    if not header:
        return body, paragraph_sections(body, heading=subject, anchor=anchor), attachments
    text = f"{header}\n\n{body}" if body else header
    sections = [Section(0, len(header), subject, anchor)]
    if body:
        sections += paragraph_sections(body, offset=len(header) + 2, heading=subject, anchor=anchor)
    return text, sections, attachments


def read(path: Path) -> SourceDocument:
    """Read one .eml message (without its attachments)."""
    message = parse_message(read_bytes(path, MAX_BYTES))
    text, sections, _ = render_message(message)
    return SourceDocument(path=str(path), text=text, title=_header(message, "Subject") or path.stem, sections=sections)


def read_with_attachments(path: Path, read_part: PartReader) -> list[SourceDocument]:
    """Read an .eml message, then its readable attachments as documents of their own."""
    message = parse_message(read_bytes(path, MAX_BYTES))
    text, sections, attachments = render_message(message)
    title = _header(message, "Subject") or path.stem
    documents = [SourceDocument(path=str(path), text=text, title=title, sections=sections)]
    return documents + _read_attachments(path, attachments[:MAX_ATTACHMENTS], "", read_part)


def read_mbox(path: Path, read_part: PartReader) -> list[SourceDocument]:
    """Read an mbox mailbox: one document with a block per message, then the readable attachments.

    Messages are read one at a time, their attachments straight away, so memory holds one message's bytes.

    Raises:
        UnreadableDocument: unreadable, too large, or holding no message.
    """
    regular_file_size(path, MAX_MBOX_BYTES)
    parts: list[tuple[str, list[Section]]] = []
    attached: list[SourceDocument] = []
    budget = MAX_ATTACHMENTS
    try:
        box = mailbox.mbox(path, create=False)
        for number, key in enumerate(box.iterkeys(), start=1):
            try:
                text, sections, found = render_message(parse_message(box.get_bytes(key)))
            except UnreadableDocument as error:
                log.info("%s: message %d skipped: %s", path, number, error)
                continue
            parts.append((text, sections))
            attached += _read_attachments(path, found[:budget], f"msg-{number}/", read_part)
            budget = max(0, budget - len(found))
    except (OSError, mailbox.Error) as error:
        raise UnreadableDocument(f"cannot read the mailbox: {error}") from error
    text, sections = join_parts(parts, separator="\n\n\n")
    if not text:
        raise UnreadableDocument("not an mbox mailbox (no e-mail messages found)")
    return [SourceDocument(path=str(path), text=text, title=path.stem, sections=sections), *attached]


def _read_attachments(
    path: Path, attachments: list[Attachment], folder: str, read_part: PartReader
) -> list[SourceDocument]:
    """The readable ones among one message's attachments, as ``file#folder/name`` documents under the size cap."""
    documents = []
    taken: set[str] = set()
    for name, data in attachments:
        part = folder + _safe_name(name, taken)
        if len(data) > MAX_ATTACHMENT_BYTES:
            log.info("%s#%s skipped: over the %d MiB attachment limit", path, part, MAX_ATTACHMENT_BYTES >> 20)
            continue
        try:
            document = read_part(part.rsplit("/", 1)[-1], data, f"{path}#{part}")
        except UnreadableDocument as error:
            log.info("%s#%s skipped: %s", path, part, error)
            continue
        if document is not None:
            documents.append(document)
    return documents
