"""Trailer uploads: stream a multipart body to a temporary file under a size limit, then check it is media.

FastAPI's `UploadFile` parameters read the whole body before the endpoint runs, so a 10 GB upload would be
spooled to disk before it could be refused. Parsing the stream here lets the server stop at the first byte
over the limit, write the file where the settings say, and refuse a non-video part before storing any of it.
A body has at most the five known parts, once each, each bounded (python-multipart bounds their headers):
an unknown or repeated part is refused at its headers, before its data is read. (Starlette's
`request.form(max_files=, max_fields=, max_part_size=)` would bound them too, but only after spooling.)
"""

from __future__ import annotations

import contextlib
import logging
import os
import re
import tempfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import anyio
from python_multipart.exceptions import FormParserError
from python_multipart.multipart import MultipartParser, parse_options_header
from starlette.requests import Request

from reelcast.serving.settings import GENERIC_CONTENT_TYPES, ServeSettings

log = logging.getLogger(__name__)

FILE_FIELD = "file"
# The only parts a request may have, each at most once: anything else is refused at its headers (422),
# before its data is read, so a body of many or large unknown parts costs the server nothing.
TEXT_FIELDS = ("description", "title", "film_id", "metadata", "breakeven", "explain")
FORM_FIELDS = (*TEXT_FIELDS, FILE_FIELD)
_PLAIN_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_.-]{0,59}")
# Room for the text fields and the multipart framing on top of the file itself (UTF-8: <= 4 bytes a char).
_FRAMING_BYTES = 64 * 1024


class UploadError(Exception):
    """A request the server refuses, with the HTTP status to answer and a message for the user."""

    def __init__(self, status: int, detail: str):
        super().__init__(detail)
        self.status = status
        self.detail = detail


@dataclass
class ReceivedUpload:
    """The text fields of a multipart request and the trailer file written to disk (if one was sent)."""

    fields: dict[str, str] = field(default_factory=dict)
    path: Path | None = None
    filename: str = ""
    content_type: str = ""
    size: int = 0

    def remove(self) -> None:
        """Delete the temporary file (safe to call more than once)."""
        if self.path is not None:
            with contextlib.suppress(FileNotFoundError):
                self.path.unlink()


def field_limit_bytes(settings: ServeSettings) -> int:
    """The largest text field accepted, in bytes."""
    return 4 * max(settings.max_description_chars, settings.max_title_chars, settings.max_trailer_url_chars)


def body_limit_bytes(settings: ServeSettings) -> int:
    """The largest request body accepted: the file limit plus the text fields and the framing."""
    return settings.max_upload_bytes + 2 * field_limit_bytes(settings) + _FRAMING_BYTES


def check_declared_length(request: Request, settings: ServeSettings) -> None:
    """413 before reading anything when Content-Length already says the body is too large."""
    declared = request.headers.get("content-length")
    if declared is None:
        return
    try:
        n = int(declared)
    except ValueError:
        raise UploadError(400, f"Content-Length is not a number: {declared!r}") from None
    if n > body_limit_bytes(settings):
        raise UploadError(
            413, f"upload of {n / 2**20:.1f} MB is over the {settings.max_upload_mb:g} MB limit"
        )


def check_media_type(filename: str, content_type: str, settings: ServeSettings) -> str:
    """The file's extension when both it and the declared content type are accepted; 415 otherwise."""
    ext = os.path.splitext(filename)[1].lower()
    allowed = ", ".join(settings.allowed_extensions)
    if ext not in settings.allowed_extensions:
        shown = f"'{ext}'" if ext else "no extension"
        raise UploadError(
            415, f"{filename or 'the file'}: {shown} is not a video file type this server accepts ({allowed})"
        )
    ctype = content_type.split(";")[0].strip().lower()
    if ctype not in settings.allowed_content_types and ctype not in GENERIC_CONTENT_TYPES:
        raise UploadError(415, f"{filename}: content type {ctype!r} is not a video type")
    return ext


class _StreamingForm:
    """python-multipart callbacks: text fields into memory, the one file part into a temporary file."""

    def __init__(self, settings: ServeSettings):
        self.settings = settings
        self.out = ReceivedUpload()
        self._file = None
        self._pending: list[bytes] = []
        self._header_name = b""
        self._header_value = b""
        self._headers: dict[bytes, bytes] = {}
        self._name = ""
        self._is_file = False
        self._data = bytearray()
        self._field_limit = field_limit_bytes(settings)
        self._seen: set[str] = set()

    def on_part_begin(self) -> None:
        self._headers, self._name, self._is_file, self._data = {}, "", False, bytearray()

    def on_header_field(self, data: bytes, start: int, end: int) -> None:
        self._header_name += data[start:end]

    def on_header_value(self, data: bytes, start: int, end: int) -> None:
        self._header_value += data[start:end]

    def on_header_end(self) -> None:
        self._headers[self._header_name.strip().lower()] = self._header_value.strip()
        self._header_name, self._header_value = b"", b""

    def on_headers_finished(self) -> None:
        _, options = parse_options_header(self._headers.get(b"content-disposition", b""))
        if b"name" not in options:
            raise UploadError(400, 'a multipart part has no Content-Disposition "name"')
        self._name = options[b"name"].decode("utf-8", "replace")
        if self._name not in FORM_FIELDS:
            shown = repr(self._name) if _PLAIN_NAME.fullmatch(self._name) else "(a field)"
            raise UploadError(422, f"unknown form field {shown}; the fields are {', '.join(FORM_FIELDS)}")
        if self._name in self._seen:
            raise UploadError(422, f"form field {self._name!r} is sent more than once")
        self._seen.add(self._name)
        if b"filename" not in options:
            if self._name == FILE_FIELD:
                raise UploadError(422, f"{FILE_FIELD!r} must be a file part (with a filename)")
            return
        filename = options[b"filename"].decode("utf-8", "replace")
        if self._name != FILE_FIELD:
            raise UploadError(
                400, f"unexpected file field {self._name!r}; send the trailer as {FILE_FIELD!r}"
            )
        if self.out.path is not None:
            raise UploadError(400, "send one trailer file per request")
        content_type = self._headers.get(b"content-type", b"").decode("latin-1")
        # Refused here, from the part's headers alone, before a byte of it is stored.
        ext = check_media_type(filename, content_type, self.settings)
        self._is_file = True
        self._file = tempfile.NamedTemporaryFile(  # noqa: SIM115 - closed in flush/close, removed by the caller
            prefix="reelcast-upload-", suffix=ext, dir=self.settings.temp_dir, delete=False
        )
        self.out.path = Path(self._file.name)
        self.out.filename = os.path.basename(filename.replace("\\", "/")) or f"upload{ext}"
        self.out.content_type = content_type

    def on_part_data(self, data: bytes, start: int, end: int) -> None:
        n = end - start
        if self._is_file:
            self.out.size += n
            if self.out.size > self.settings.max_upload_bytes:
                raise UploadError(
                    413, f"{self.out.filename} is over the {self.settings.max_upload_mb:g} MB upload limit"
                )
            self._pending.append(bytes(data[start:end]))
        else:
            if len(self._data) + n > self._field_limit:
                raise UploadError(413, f"form field {self._name!r} is over {self._field_limit} bytes")
            self._data += data[start:end]

    def on_part_end(self) -> None:
        if not self._is_file:
            try:
                self.out.fields[self._name] = self._data.decode("utf-8")
            except UnicodeDecodeError:
                # Never a silent replacement character in the plot the model reads.
                raise UploadError(422, f"form field {self._name!r} is not valid UTF-8 text") from None

    def flush(self) -> None:
        """Write what the parser has handed over so far (run in a worker thread: disk I/O)."""
        if self._pending and self._file is not None:
            self._file.write(b"".join(self._pending))
        self._pending.clear()

    def close(self) -> None:
        """Close the file handle; the file itself stays until `ReceivedUpload.remove`."""
        if self._file is not None:
            self._file.close()
            self._file = None


async def receive_upload(request: Request, settings: ServeSettings) -> ReceivedUpload:
    """Read a multipart body: text fields plus at most one trailer file, streamed to a temporary file.

    Raises UploadError (400/413/415); on any error the temporary file is already removed.
    """
    check_declared_length(request, settings)
    ctype, params = parse_options_header(request.headers.get("content-type", ""))
    if ctype != b"multipart/form-data":
        raise UploadError(415, "send the trailer as multipart/form-data (fields description, title, file)")
    if b"boundary" not in params:
        raise UploadError(400, "multipart body without a boundary")
    form = _StreamingForm(settings)
    callbacks: Any = {
        name: getattr(form, name)
        for name in (
            "on_part_begin",
            "on_part_data",
            "on_part_end",
            "on_header_field",
            "on_header_value",
            "on_header_end",
            "on_headers_finished",
        )
    }
    parser = MultipartParser(params[b"boundary"], callbacks)
    received = 0
    try:
        async for chunk in request.stream():
            received += len(chunk)
            # Without Content-Length (chunked uploads) the stream itself is bounded here.
            if received > body_limit_bytes(settings):
                raise UploadError(413, f"upload is over the {settings.max_upload_mb:g} MB limit")
            parser.write(chunk)
            await anyio.to_thread.run_sync(form.flush)
        parser.finalize()
        await anyio.to_thread.run_sync(form.flush)
    except FormParserError as e:
        form.close()
        form.out.remove()
        raise UploadError(400, f"malformed multipart body: {e}") from None
    except BaseException:
        # Includes the client going away mid-upload: nothing may be left behind in the temp folder.
        form.close()
        form.out.remove()
        raise
    form.close()
    return form.out


def probe_media(path: Path, filename: str, max_pixels: int | None = None) -> dict[str, Any]:
    """Open a file with PyAV and decode its first frame; 415 when it is not playable video or audio.

    413 when a video stream's frame size (read from its headers, before decoding) is over max_pixels:
    one 8192x8192 frame alone takes 100 MB decoded, and the decoder keeps several.
    """
    import av

    try:
        with av.open(str(path), metadata_errors="ignore") as container:
            video, audio = list(container.streams.video), list(container.streams.audio)
            if not video and not audio:
                raise UploadError(415, f"{filename}: the file has no video or audio stream")
            for v in video:
                w, h = int(v.codec_context.width or 0), int(v.codec_context.height or 0)
                if max_pixels is not None and w * h > max_pixels:
                    raise UploadError(
                        413,
                        f"{filename}: the video is {w}x{h} pixels; this server decodes at most "
                        f"{max_pixels} pixels a frame",
                    )
            stream = video[0] if video else audio[0]
            if next(iter(container.decode(stream)), None) is None:
                raise UploadError(415, f"{filename}: no frame could be decoded")
            duration = float(container.duration) / 1e6 if container.duration else None
            return {
                "container": container.format.name,
                "video_streams": len(video),
                "audio_streams": len(audio),
                "duration_seconds": duration,
            }
    except UploadError:
        raise
    except Exception as e:  # whatever FFmpeg raises, the file is not media we can use
        log.debug("PyAV could not read %s: %s", filename, e)
        # FFmpeg names the file in its messages; show the user's name, not the server's temporary path.
        reason = f"{type(e).__name__}: {e}".replace(str(path), filename)
        raise UploadError(415, f"{filename}: not a video file PyAV can read ({reason})") from None
