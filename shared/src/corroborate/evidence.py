"""Which kind of document a partner sent, decided from its bytes against an allow-list.

A file's name and declared content type are only the sender's claim; the bytes are the evidence.
``detect_type`` reads the head. ``content_check`` then follows the whole body as it streams, so a
file that merely starts like an allowed type (a truncated PDF, a spreadsheet zipped like a Word
document, text with a NUL further in) is refused too. Every check keeps a bounded amount of state
and never holds the body.
"""

from __future__ import annotations

import codecs
import re
import struct
from enum import StrEnum
from typing import Literal

HEAD_BYTES = 512
"""Leading bytes ``detect_type`` reads: the ZIP entry name, the ``ftyp`` brands, a text sample."""


class ContentType(StrEnum):
    PDF = "application/pdf"
    JPEG = "image/jpeg"
    PNG = "image/png"
    HEIC = "image/heic"
    HEIF = "image/heif"
    TIFF = "image/tiff"
    DOCX = "application/vnd.openxmlformats-officedocument.wordprocessingml.document"
    TEXT = "text/plain"


IMAGE_TYPES = frozenset(
    {ContentType.JPEG, ContentType.PNG, ContentType.HEIC, ContentType.HEIF, ContentType.TIFF}
)

_NAMES = {
    ContentType.PDF: "a PDF",
    ContentType.JPEG: "a JPEG image",
    ContentType.PNG: "a PNG image",
    ContentType.HEIC: "a HEIC image",
    ContentType.HEIF: "a HEIF image",
    ContentType.TIFF: "a TIFF image",
    ContentType.DOCX: "a Word document (.docx)",
    ContentType.TEXT: "plain text",
}
_NOT_ALLOWED = (
    "the content is not an allowed type "
    "(PDF, JPEG, PNG, HEIC/HEIF, TIFF, Word .docx or UTF-8 plain text)"
)


class ContentRefused(ValueError):
    """The bytes are not an allowed document; the message names the field and the rule broken."""

    def __init__(self, rule: str = _NOT_ALLOWED) -> None:
        super().__init__(f"file: {rule}")
        self.rule = rule


_PDF = b"%PDF-"
_JPEG = b"\xff\xd8\xff"
_PNG = b"\x89PNG\r\n\x1a\n"
_PNG_IEND = b"\x00\x00\x00\x00IEND\xaeB`\x82"  # the whole IEND chunk, CRC included
_TIFF = (b"II*\x00", b"MM\x00*")
_HEIC_BRANDS = frozenset({b"heic", b"heix", b"hevc", b"hevx", b"heim", b"heis"})
_HEIF_BRANDS = frozenset({b"mif1", b"msf1"})
_ZIP_LOCAL = b"PK\x03\x04"
_ZIP_CENTRAL = b"PK\x01\x02"
_ZIP_END = b"PK\x05\x06"
_ZIP_DESCRIPTOR = b"PK\x07\x08"
# Part names an OOXML package may open with; Word writes [Content_Types].xml first.
_OPC_FIRST_PARTS = (b"[Content_Types].xml", b"_rels/", b"docProps/", b"word/", b"customXml/")
_WORD_PARTS = frozenset({b"[Content_Types].xml", b"word/document.xml"})
_MACROS = b"word/vbaProject.bin"  # a macro-enabled document (.docm) under a .docx name
# C0 controls other than tab, LF, FF and CR: no editor writes them, binary formats are full of them.
_CONTROL = re.compile("[\x00-\x08\x0b\x0e-\x1f]")


def detect_type(head: bytes) -> ContentType | None:
    """The allowed type the leading bytes prove, or None; ``head`` is at most HEAD_BYTES long."""
    for signature, content_type in (
        (_PDF, ContentType.PDF),
        (_JPEG, ContentType.JPEG),
        (_PNG, ContentType.PNG),
        (_TIFF, ContentType.TIFF),
    ):
        if head.startswith(signature):
            return content_type
    if head.startswith(_ZIP_LOCAL):
        return ContentType.DOCX if _opens_like_ooxml(head) else None
    if head[4:8] == b"ftyp":
        return _heif_type(head)
    if head and _is_text(head):
        return ContentType.TEXT
    return None


def _opens_like_ooxml(head: bytes) -> bool:
    if len(head) < 30:
        return False
    name_length = int.from_bytes(head[26:28], "little")
    name = head[30 : 30 + name_length]
    return len(name) == name_length and name.startswith(_OPC_FIRST_PARTS)


def _heif_type(head: bytes) -> ContentType | None:
    # ftyp: size, "ftyp", major brand, minor version, then compatible brands to the box's end.
    size = int.from_bytes(head[:4], "big")
    if len(head) < 16 or size < 16 or size % 4:
        return None
    end = min(size, len(head))
    brands = {head[8:12]} | {head[at : at + 4] for at in range(16, end - 3, 4)}
    if brands & _HEIC_BRANDS:
        return ContentType.HEIC
    if brands & _HEIF_BRANDS:
        return ContentType.HEIF
    return None


def _is_text(head: bytes) -> bool:
    # Not final: the head may end inside a multi-byte character.
    try:
        text = codecs.getincrementaldecoder("utf-8-sig")().decode(head, final=False)
    except UnicodeDecodeError:
        return False
    return _CONTROL.search(text) is None


class ContentCheck:
    """Follows a whole body, from its first byte, and refuses it once the bytes contradict the type.

    The base class checks that the head proves the type; each subclass checks what the rest must
    hold. ``feed`` every chunk in order, then ``finish``.
    """

    def __init__(self, content_type: ContentType) -> None:
        self.content_type = content_type
        self.size = 0
        self._head = bytearray()
        self._head_checked = False

    def feed(self, chunk: bytes) -> None:
        if not chunk:
            return
        if not self._head_checked:
            self._head += chunk[: HEAD_BYTES - len(self._head)]
            if len(self._head) == HEAD_BYTES:
                self._check_head()
        self._feed(chunk, self.size)
        self.size += len(chunk)

    def finish(self) -> None:
        if not self._head_checked:
            self._check_head()
        self._finish()

    def _check_head(self) -> None:
        head, self._head = bytes(self._head), bytearray()
        self._head_checked = True
        if not head:
            raise ContentRefused("the file is empty")
        if detect_type(head) is not self.content_type:
            raise ContentRefused(f"the content is not {_NAMES[self.content_type]}")

    def _feed(self, chunk: bytes, start: int) -> None:
        """Check ``chunk``, whose first byte is at offset ``start`` of the body."""

    def _finish(self) -> None:
        """Check what only the complete body can show."""


class _TailCheck(ContentCheck):
    """A type whose last bytes show the file is complete; only those are kept."""

    _keep = 0

    def __init__(self, content_type: ContentType) -> None:
        super().__init__(content_type)
        self._tail = bytearray()

    def _feed(self, chunk: bytes, start: int) -> None:
        self._tail += chunk[-self._keep :]
        del self._tail[: -self._keep]


class _PdfCheck(_TailCheck):
    _keep = 1024

    def _finish(self) -> None:
        if b"%%EOF" not in self._tail:
            raise ContentRefused("the PDF is truncated (no %%EOF in its last 1024 bytes)")


class _JpegCheck(_TailCheck):
    # Strict: the file must end at the EOI marker; bytes appended after it are refused.
    _keep = 2

    def _finish(self) -> None:
        if self._tail != b"\xff\xd9":
            raise ContentRefused(
                "the JPEG image does not end at its EOI marker (truncated or appended to)"
            )


class _PngCheck(_TailCheck):
    _keep = len(_PNG_IEND)

    def _finish(self) -> None:
        if self._tail != _PNG_IEND:
            raise ContentRefused(
                "the PNG image does not end at its IEND chunk (truncated or appended to)"
            )


class _TiffCheck(ContentCheck):
    """The first image directory, which the header points at, must lie wholly inside the file."""

    def __init__(self, content_type: ContentType) -> None:
        super().__init__(content_type)
        self._header = bytearray()
        self._directory_at: int | None = None
        self._entry_count = bytearray()

    def _feed(self, chunk: bytes, start: int) -> None:
        if self._directory_at is None:
            self._header += chunk[: 8 - len(self._header)]
            if len(self._header) < 8:
                return
            self._directory_at = int.from_bytes(self._header[4:8], self._byte_order())
            if self._directory_at < 8:
                raise ContentRefused("the TIFF image is malformed (its directory is misplaced)")
        at = self._directory_at + len(self._entry_count) - start
        if len(self._entry_count) < 2 and 0 <= at < len(chunk):
            self._entry_count += chunk[at : at + 2 - len(self._entry_count)]

    def _byte_order(self) -> Literal["little", "big"]:
        return "little" if self._header.startswith(b"II") else "big"

    def _finish(self) -> None:
        if self._directory_at is None or len(self._entry_count) < 2:
            raise ContentRefused("the TIFF image is truncated (its first directory is missing)")
        entries = int.from_bytes(self._entry_count, self._byte_order())
        if entries == 0:
            raise ContentRefused("the TIFF image is malformed (its first directory is empty)")
        # Entry count, 12 bytes per entry, then the offset of the next directory.
        if self._directory_at + 2 + 12 * entries + 4 > self.size:
            raise ContentRefused("the TIFF image is truncated (its first directory is cut off)")


class _HeifCheck(ContentCheck):
    """Top-level ISO BMFF boxes must chain to exactly the end of the file and include ``meta``."""

    def __init__(self, content_type: ContentType) -> None:
        super().__init__(content_type)
        self._box = bytearray()  # the header of the box being read
        self._skip = 0  # body bytes of the current box still to pass
        self._runs_to_end = False  # a box of size 0 extends to the end of the file
        self._has_meta = False

    def _header_length(self) -> int:
        # A size field of 1 means a 64-bit size follows the type.
        return 16 if len(self._box) >= 8 and self._box[:4] == b"\x00\x00\x00\x01" else 8

    def _feed(self, chunk: bytes, start: int) -> None:
        at = 0
        while at < len(chunk) and not self._runs_to_end:
            if self._skip:
                step = min(self._skip, len(chunk) - at)
                self._skip -= step
                at += step
                continue
            take = min(self._header_length() - len(self._box), len(chunk) - at)
            self._box += chunk[at : at + take]
            at += take
            if len(self._box) == self._header_length():
                self._open_box()

    def _open_box(self) -> None:
        header_length = len(self._box)
        size = int.from_bytes(self._box[:4] if header_length == 8 else self._box[8:16], "big")
        self._has_meta = self._has_meta or self._box[4:8] == b"meta"
        self._box = bytearray()
        if size == 0:
            self._runs_to_end = True
        elif size < header_length:
            raise ContentRefused("the HEIC/HEIF image is malformed (a box is too short)")
        else:
            self._skip = size - header_length

    def _finish(self) -> None:
        if self._box or self._skip:
            raise ContentRefused("the HEIC/HEIF image is truncated (its last box is cut off)")
        if not self._has_meta:
            raise ContentRefused("the HEIC/HEIF image is malformed (it has no meta box)")


class _TextCheck(ContentCheck):
    def __init__(self, content_type: ContentType) -> None:
        super().__init__(content_type)
        self._decoder = codecs.getincrementaldecoder("utf-8-sig")()

    def _feed(self, chunk: bytes, start: int) -> None:
        self._decode(chunk, final=False)

    def _finish(self) -> None:
        self._decode(b"", final=True)

    def _decode(self, data: bytes, *, final: bool) -> None:
        try:
            text = self._decoder.decode(data, final)
        except UnicodeDecodeError:
            raise ContentRefused("the text is not valid UTF-8") from None
        if _CONTROL.search(text):
            raise ContentRefused(
                "the text contains a NUL or a control character other than tab, "
                "line feed, carriage return or form feed"
            )


_LOCAL_HEADER = struct.Struct("<4sHHHHHIIIHH")  # 30 bytes, up to the name and extra lengths
_SIZES_FOLLOW_DATA = 0x0008  # general purpose flag: sizes are in a descriptor after the data
_ZIP64 = 0xFFFFFFFF
_ZIP_END_MAX = 22 + 0xFFFF  # end-of-central-directory record with the longest comment
# Data descriptor forms: (length, offset of the compressed size, its width, has signature).
_DESCRIPTORS = ((16, 8, 4, True), (12, 4, 4, False), (24, 8, 8, True), (20, 4, 8, False))
_SCAN_CARRY = 24 + 3  # the longest descriptor plus a signature cut one byte short


class _DocxCheck(ContentCheck):
    """Walks the ZIP local headers as they pass, noting the Word parts, to the central directory.

    An entry whose sizes follow its data (general purpose flag bit 3) is passed by searching for
    the next record signature preceded by a data descriptor whose compressed size matches the
    bytes passed; nothing is decompressed.
    """

    def __init__(self, content_type: ContentType) -> None:
        super().__init__(content_type)
        self._record = bytearray()  # the signature, or the local header, being read
        self._stage = "signature"  # signature -> header -> names
        self._need = 4
        self._skip = 0
        self._searching = False  # inside an entry whose sizes follow its data
        self._carry = b""  # last bytes of that entry seen so far
        self._carry_at = 0  # offset of ``_carry`` within that entry
        self._in_central_directory = False
        self._tail = bytearray()
        self._parts: set[bytes] = set()

    def _feed(self, chunk: bytes, start: int) -> None:
        self._tail += chunk[-_ZIP_END_MAX:]
        del self._tail[:-_ZIP_END_MAX]
        at = 0
        while at < len(chunk) and not self._in_central_directory:
            if self._skip:
                step = min(self._skip, len(chunk) - at)
                self._skip -= step
                at += step
            elif self._searching:
                at = self._search(chunk, at)
            else:
                take = min(self._need - len(self._record), len(chunk) - at)
                self._record += chunk[at : at + take]
                at += take
                if len(self._record) == self._need:
                    self._read_record()

    def _read_record(self) -> None:
        if self._stage == "signature":
            signature = bytes(self._record)
            if signature in {_ZIP_CENTRAL, _ZIP_END}:
                self._in_central_directory = True
            elif signature == _ZIP_LOCAL:
                self._stage, self._need = "header", _LOCAL_HEADER.size
            else:
                raise ContentRefused("the Word document is not a valid ZIP archive")
            return
        fields = _LOCAL_HEADER.unpack_from(self._record)
        flags, compressed, name_length, extra_length = fields[2], fields[7], fields[9], fields[10]
        if self._stage == "header" and name_length + extra_length:
            self._stage = "names"
            self._need = _LOCAL_HEADER.size + name_length + extra_length
            return
        name_end = _LOCAL_HEADER.size + name_length
        name = bytes(self._record[_LOCAL_HEADER.size : name_end])
        if name in _WORD_PARTS:
            self._parts.add(name)
        if name == _MACROS:
            raise ContentRefused("the Word document contains macros")
        if flags & _SIZES_FOLLOW_DATA:
            self._searching, self._carry, self._carry_at = True, b"", 0
        elif compressed == _ZIP64:
            self._skip = _zip64_compressed_size(bytes(self._record[name_end:]))
        else:
            self._skip = compressed
        self._record, self._stage, self._need = bytearray(), "signature", 4

    def _search(self, chunk: bytes, at: int) -> int:
        window = self._carry + chunk[at:]
        found = window.find(b"PK")
        while 0 <= found <= len(window) - 4:
            if window[found : found + 4] in {_ZIP_LOCAL, _ZIP_CENTRAL} and _descriptor_before(
                window, found, self._carry_at + found
            ):
                self._searching = False
                carried = len(self._carry)
                if found < carried:  # the signature began in an earlier chunk
                    self._record += window[found:carried]
                    return at
                return at + found - carried
            found = window.find(b"PK", found + 1)
        keep = min(len(window), _SCAN_CARRY)
        self._carry_at += len(window) - keep
        self._carry = window[len(window) - keep :]
        return len(chunk)

    def _finish(self) -> None:
        if not self._in_central_directory:
            raise ContentRefused("the Word document is truncated (it ends inside a part)")
        if not _ends_with_zip_end_record(bytes(self._tail)):
            raise ContentRefused("the Word document is truncated (it has no ZIP end record)")
        if missing := sorted(part.decode() for part in _WORD_PARTS - self._parts):
            raise ContentRefused(
                f"the ZIP archive is not a Word document (it has no {' or '.join(missing)})"
            )


def _descriptor_before(window: bytes, found: int, entry_bytes: int) -> bool:
    """Whether the bytes before ``found`` end an entry: a data descriptor sizing its data."""
    for length, offset, width, signed in _DESCRIPTORS:
        if entry_bytes < length or found < length:
            continue
        descriptor = window[found - length : found]
        if signed and descriptor[:4] != _ZIP_DESCRIPTOR:
            continue
        if int.from_bytes(descriptor[offset : offset + width], "little") == entry_bytes - length:
            return True
    return False


def _zip64_compressed_size(extra: bytes) -> int:
    at = 0
    while at + 4 <= len(extra):
        field, size = struct.unpack_from("<HH", extra, at)
        if field == 0x0001 and size >= 16:
            # A local header's ZIP64 field holds both sizes: uncompressed, then compressed.
            return int.from_bytes(extra[at + 12 : at + 20], "little")
        at += 4 + size
    raise ContentRefused("the Word document is not a valid ZIP archive (a ZIP64 size is missing)")


def _ends_with_zip_end_record(tail: bytes) -> bool:
    found = tail.rfind(_ZIP_END)
    while found >= 0:
        comment_length = int.from_bytes(tail[found + 20 : found + 22], "little")
        if found + 22 <= len(tail) and found + 22 + comment_length == len(tail):
            return True
        found = tail.rfind(_ZIP_END, 0, found)
    return False


_CHECKS: dict[ContentType, type[ContentCheck]] = {
    ContentType.PDF: _PdfCheck,
    ContentType.JPEG: _JpegCheck,
    ContentType.PNG: _PngCheck,
    ContentType.TIFF: _TiffCheck,
    ContentType.HEIC: _HeifCheck,
    ContentType.HEIF: _HeifCheck,
    ContentType.DOCX: _DocxCheck,
    ContentType.TEXT: _TextCheck,
}


def content_check(content_type: ContentType) -> ContentCheck:
    """A fresh check for a body whose head ``detect_type`` found to be ``content_type``."""
    return _CHECKS[content_type](content_type)
