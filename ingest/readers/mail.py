"""E-mail (.eml): the From/To/Date/Subject header block, then the plain-text body (or the HTML body's text).

Attachments are not read.
"""

from __future__ import annotations

import email
import email.policy
from email.message import EmailMessage, Message
from pathlib import Path

from ..document import Section, SourceDocument, UnreadableDocument
from .html import extract
from .text import paragraph_sections, read_bytes

SUFFIXES = (".eml",)
MAX_BYTES = 128 * 1024 * 1024
_HEADERS = ("From", "To", "Date", "Subject")


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
        if isinstance(content, str):
            return content
    except Exception:  # LookupError (charset), ValueError/binascii errors (encoding), …
        pass
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


def read(path: Path) -> SourceDocument:
    """Read one .eml message: a header section, then the body's paragraphs under the subject."""
    message = email.message_from_bytes(read_bytes(path, MAX_BYTES), policy=email.policy.default)
    if not isinstance(message, EmailMessage):  # the default policy always builds an EmailMessage
        raise UnreadableDocument("not an e-mail message")
    values = {name: _header(message, name) for name in _HEADERS}
    if not any(values.values()):
        raise UnreadableDocument("not an e-mail message (no From, To, Date or Subject)")
    header = "\n".join(f"{name}: {value}" for name, value in values.items() if value)
    try:
        body = body_text(message)
    except Exception as error:  # a structurally broken MIME tree
        raise UnreadableDocument("e-mail body is damaged") from error
    body = body.replace("\r\n", "\n").replace("\r", "\n").strip()
    subject = values["Subject"]
    text = f"{header}\n\n{body}" if body else header
    sections = [Section(0, len(header), subject)]
    if body:
        sections += paragraph_sections(body, offset=len(header) + 2, heading=subject)
    return SourceDocument(path=str(path), text=text, title=subject or path.stem, sections=sections)
