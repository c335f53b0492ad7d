"""The hardened archive client: one session, bounded retries, safe downloads, verification.

The same code serves the real archive (``https://...``) and the embedded simulator
(``sim://``, a transport adapter mounted on the session). Every failure leaves as one of
the typed errors in :mod:`comet_pipeline.archive.errors`, so the lifecycle can decide
between "retry later" and "give up with this reason" without knowing about HTTP.
"""

from __future__ import annotations

import contextlib
import hashlib
import math
import os
import tempfile
import time
import warnings
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import date
from pathlib import Path

import requests
import urllib3
from requests.adapters import HTTPAdapter
from urllib3.util.retry import Retry

from comet_pipeline.archive import layout
from comet_pipeline.archive.errors import ArchiveError, Corrupt, NotFound, Rejected, Transient
from comet_pipeline.archive.fits_header import HeaderError, parse_fits_header
from comet_pipeline.archive.parsers import (
    ListingEntry,
    ParseResult,
    SchedulePass,
    parse_img_hdr,
    parse_listing,
    parse_schedule,
)
from comet_pipeline.domain.models import ArchiveFile, Detector, FitsInfo

RETRY_STATUSES = (500, 502, 503, 504)
CHUNK_BYTES = 64 * 1024
FITS_BLOCK = 2880
USER_AGENT = "comet_pipeline archive client (+https://github.com/; SOHO/LASCO comet hunting)"
# Requests that map to "the URL or scheme is wrong": configuration errors, not archive ones.
_CONFIG_ERRORS = (
    requests.exceptions.InvalidURL,
    requests.exceptions.InvalidSchema,
    requests.exceptions.MissingSchema,
)


@dataclass(frozen=True)
class DownloadResult:
    path: Path
    size: int
    sha256: str
    elapsed_s: float


def _to_archive_error(exc: BaseException, url: str) -> ArchiveError:
    """Network-side exceptions (requests/urllib3/socket) as typed errors."""
    if isinstance(exc, ArchiveError):
        return exc
    if isinstance(exc, requests.exceptions.Timeout | urllib3.exceptions.TimeoutError):
        return Transient(f"timeout: {exc}", url=url)
    if isinstance(exc, requests.exceptions.RetryError):
        return Transient(f"gave up after retries: {exc}", url=url)
    if isinstance(exc, requests.exceptions.ChunkedEncodingError | urllib3.exceptions.ProtocolError):
        return Transient(f"truncated body: {exc}", url=url)
    if isinstance(exc, requests.exceptions.ConnectionError):
        return Transient(f"connection error: {exc}", url=url)
    return Transient(f"{type(exc).__name__}: {exc}", url=url)


class ArchiveClient:
    """Talks to an archive tree (``archive_url``) and a DSN schedule page (``schedule_url``).

    Retries (urllib3 ``Retry`` on an ``HTTPAdapter`` mounted for http/https): connection
    errors, read timeouts before the headers, and 500/502/503/504, ``retries`` times with
    exponential backoff ``backoff * 2**n`` (0 disables the sleep, for tests). 404 is never
    retried. ``Retry-After`` is ignored so a hostile server cannot park a worker. Errors in
    the middle of a body are not retried here: they raise :class:`Transient` and the
    lifecycle retries the file later. ``sim://`` URLs need the simulator adapter mounted on
    the session (:meth:`create` does that); transports that are not an
    ``HTTPAdapter`` get the same retry policy from :meth:`_send`.
    """

    def __init__(
        self,
        archive_url: str,
        schedule_url: str,
        *,
        session: requests.Session | None = None,
        connect_timeout: float = 5.0,
        read_timeout: float = 30.0,
        retries: int = 3,
        backoff: float = 0.5,
        max_bytes: int = 20_000_000,
    ) -> None:
        self.archive_url = archive_url.rstrip("/")
        self.schedule_url = schedule_url
        self.timeout = (connect_timeout, read_timeout)
        self.max_bytes = max_bytes
        self.retries = retries
        self.backoff = backoff
        self.retry = Retry(
            total=retries,
            connect=retries,
            read=retries,
            status=retries,
            other=0,
            redirect=5,
            backoff_factor=backoff,
            status_forcelist=RETRY_STATUSES,
            allowed_methods=frozenset({"GET", "HEAD"}),
            raise_on_status=False,  # the last 5xx comes back as a response: mapped below
            respect_retry_after_header=False,
        )
        self.session = session if session is not None else requests.Session()
        adapter = HTTPAdapter(max_retries=self.retry, pool_maxsize=16)
        self.session.mount("http://", adapter)
        self.session.mount("https://", adapter)
        self.session.headers.setdefault("User-Agent", USER_AGENT)

    def close(self) -> None:
        self.session.close()

    def __enter__(self) -> ArchiveClient:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # ------------------------------------------------------------------ HTTP plumbing

    @contextlib.contextmanager
    def _get(self, url: str) -> Iterator[requests.Response]:
        """GET with streaming; yields a 200 response, else raises the typed error."""
        try:
            response = self._send(url)
        except _CONFIG_ERRORS:
            raise
        except requests.exceptions.RequestException as exc:
            raise _to_archive_error(exc, url) from exc
        try:
            status = response.status_code
            if status in (404, 410):
                raise NotFound(f"HTTP {status}", url=url)
            if status != 200:
                # 5xx here means the retries are used up; any other status is unexpected
                # (403, 429 ...): transient, so the lifecycle's retry cap decides.
                raise Transient(f"HTTP {status} {response.reason or ''}".strip(), url=url)
            length = self._content_length(response)
            if length is not None and length > self.max_bytes:
                raise Rejected(
                    f"Content-Length {length} exceeds the {self.max_bytes}-byte cap", url=url
                )
            yield response
        finally:
            response.close()

    def _send(self, url: str) -> requests.Response:
        """One GET; the same retry policy for transports that are not an ``HTTPAdapter``.

        urllib3's ``Retry`` lives inside ``HTTPAdapter``; a custom transport (the ``sim://``
        adapter) gets the same policy here — connection errors and 500/502/503/504, up to
        ``retries`` more tries, sleeping ``backoff * 2**n`` — so both schemes behave alike.
        """
        manual = not isinstance(self.session.get_adapter(url), HTTPAdapter)
        tries = 1 + (self.retries if manual else 0)
        for attempt in range(tries):
            last = attempt == tries - 1
            try:
                response = self.session.get(
                    url,
                    stream=True,
                    timeout=self.timeout,
                    headers={"Accept-Encoding": "identity"},
                )
            except (requests.exceptions.ConnectionError, requests.exceptions.Timeout):
                if last:
                    raise
            else:
                if last or response.status_code not in RETRY_STATUSES:
                    return response
                response.close()
            if self.backoff > 0:
                time.sleep(min(self.backoff * 2**attempt, Retry.DEFAULT_BACKOFF_MAX))
        raise AssertionError("unreachable")

    @staticmethod
    def _content_length(response: requests.Response) -> int | None:
        text = response.headers.get("Content-Length")
        if text is None or response.headers.get("Content-Encoding", "identity") != "identity":
            return None
        try:
            value = int(text)
        except ValueError:
            return None
        return value if value >= 0 else None

    def _chunks(self, response: requests.Response, url: str) -> Iterator[bytes]:
        """The body in chunks, network errors mapped, size cap enforced as bytes arrive."""
        total = 0
        iterator = response.iter_content(chunk_size=CHUNK_BYTES)
        while True:
            try:
                chunk = next(iterator)
            except StopIteration:
                break
            except _CONFIG_ERRORS:
                raise
            except (requests.exceptions.RequestException, urllib3.exceptions.HTTPError) as exc:
                raise _to_archive_error(exc, url) from exc
            except OSError as exc:  # socket errors that escaped the wrappers
                raise Transient(f"connection error: {exc}", url=url) from exc
            total += len(chunk)
            if total > self.max_bytes:
                raise Rejected(f"body exceeds the {self.max_bytes}-byte cap", url=url)
            yield chunk
        expected = self._content_length(response)
        if expected is not None and total != expected:
            raise Transient(f"truncated body: {total} of {expected} bytes", url=url)

    def _get_text(self, url: str, *, missing_ok: bool) -> str | None:
        try:
            with self._get(url) as response:
                body = b"".join(self._chunks(response, url))
        except NotFound:
            if missing_ok:
                return None
            raise
        return body.decode("utf-8", errors="replace")

    # ------------------------------------------------------------------ indexes

    def fetch_index(self, day: date, detector: Detector) -> ParseResult[ArchiveFile]:
        """The day's ``img_hdr.txt``; a 404 (the day's folder does not exist yet) is empty."""
        url = layout.img_hdr_url(self.archive_url, day, detector)
        text = self._get_text(url, missing_ok=True)
        return ParseResult() if text is None else parse_img_hdr(text, detector=detector)

    def fetch_listing(self, day: date, detector: Detector) -> ParseResult[ListingEntry]:
        """The day's directory listing (arrival times, UTC); a 404 is empty."""
        url = layout.index_url(self.archive_url, day, detector)
        text = self._get_text(url, missing_ok=True)
        return ParseResult() if text is None else parse_listing(text)

    def fetch_schedule(self) -> ParseResult[SchedulePass]:
        """The DSN schedule page; its absence is an error (NotFound), not an empty schedule."""
        text = self._get_text(self.schedule_url, missing_ok=False)
        assert text is not None
        return parse_schedule(text)

    # ------------------------------------------------------------------ files

    def download(
        self,
        day: date,
        detector: Detector,
        name: str,
        dest: Path,
        *,
        verify: Callable[[Path], object] | None = None,
    ) -> DownloadResult:
        """Stream one file to ``dest`` (the final file path) atomically.

        The name is validated before any URL is built. Bytes go to a temporary file in
        ``dest``'s folder, hashed as they arrive, then fsync. ``verify`` (if given) is called
        on that complete temporary file before ``os.replace``, so ``dest`` is only ever
        replaced by a file that passed it: verifying after the rename and deleting on failure
        could delete a good file another run had put there. A failing ``verify`` re-raises
        archive errors as they are and wraps anything else as :class:`Corrupt`. Whatever
        goes wrong at whatever byte (including KeyboardInterrupt), the temporary file is
        removed and ``dest`` is left as it was.
        """
        url = layout.file_url(self.archive_url, day, detector, name)
        dest = Path(dest)
        started = time.perf_counter()
        digest = hashlib.sha256()
        size = 0
        fd, tmp_name = tempfile.mkstemp(dir=dest.parent, prefix=f".{dest.name}.", suffix=".part")
        tmp = Path(tmp_name)
        try:
            with os.fdopen(fd, "wb") as out, self._get(url) as response:
                for chunk in self._chunks(response, url):
                    digest.update(chunk)
                    out.write(chunk)
                    size += len(chunk)
                out.flush()
                os.fsync(out.fileno())
            if verify is not None:
                _run_verify(verify, tmp, url)
            os.replace(tmp, dest)
        except BaseException:
            tmp.unlink(missing_ok=True)
            raise
        _fsync_dir(dest.parent)
        return DownloadResult(
            path=dest, size=size, sha256=digest.hexdigest(), elapsed_s=time.perf_counter() - started
        )

    def verify_fits(
        self, path: Path, expected: ArchiveFile, *, time_tolerance_s: float = 5.0
    ) -> FitsInfo:
        return verify_fits(path, expected, time_tolerance_s=time_tolerance_s)


def verify_fits(path: Path, expected: ArchiveFile, *, time_tolerance_s: float = 5.0) -> FitsInfo:
    """Check a downloaded file is the image the index promised; :class:`Corrupt` if not.

    It must open with astropy, have a usable LASCO header, the index's detector, an
    observation time within ``time_tolerance_s`` of the index, the index's image size, and
    NAXIS1*NAXIS2*|BITPIX|/8 data bytes after the header, padded to whole 2880-byte FITS
    blocks as the standard requires (a file short of its padding lost bytes somewhere).
    """
    from astropy.io import fits

    path = Path(path)
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            with fits.open(path, memmap=False, lazy_load_hdus=True) as hdul:
                header = hdul[0].header.copy()
                data_offset = hdul.fileinfo(0)["datLoc"]
    except Exception as exc:  # astropy raises OSError, ValueError, IndexError... on garbage
        raise Corrupt(f"does not open as FITS: {type(exc).__name__}: {exc}") from exc
    try:
        info = parse_fits_header(header)
    except HeaderError as exc:
        raise Corrupt(f"unusable header: {exc}") from exc
    if info.detector != expected.detector:
        raise Corrupt(f"header detector {info.detector.label} != index {expected.detector.label}")
    drift = abs((info.observed_at - expected.observed_at).total_seconds())
    if drift > time_tolerance_s:
        raise Corrupt(
            f"header time {info.observed_at.isoformat()} is {drift:.1f}s from the index's "
            f"{expected.observed_at.isoformat()}"
        )
    if (info.naxis1, info.naxis2) != (expected.naxis1, expected.naxis2):
        raise Corrupt(
            f"header size {info.naxis1}x{info.naxis2} != index {expected.naxis1}x{expected.naxis2}"
        )
    try:
        bitpix = int(header["BITPIX"])
        naxis = int(header.get("NAXIS", 2))
        axes = [int(header[f"NAXIS{i}"]) for i in range(1, naxis + 1)]
    except (KeyError, ValueError, TypeError) as exc:
        raise Corrupt(f"bad BITPIX/NAXIS cards: {exc}") from exc
    if bitpix not in (8, 16, 32, 64, -32, -64):
        raise Corrupt(f"BITPIX = {bitpix} is not a FITS value")
    need = math.prod(axes) * abs(bitpix) // 8
    padded = -(-need // FITS_BLOCK) * FITS_BLOCK
    have = path.stat().st_size - int(data_offset)
    if have < padded:
        raise Corrupt(
            f"data truncated: {have} bytes after the header, NAXIS needs {need} "
            f"({padded} in whole FITS blocks)"
        )
    return info


def _run_verify(verify: Callable[[Path], object], tmp: Path, url: str) -> None:
    """Call ``verify`` on the finished temporary file; non-archive errors become Corrupt."""
    try:
        verify(tmp)
    except ArchiveError:
        raise
    except Exception as exc:
        raise Corrupt(f"verification failed: {type(exc).__name__}: {exc}", url=url) from exc


def _fsync_dir(folder: Path) -> None:
    """Make the rename itself durable (best effort: not every platform allows it)."""
    try:
        fd = os.open(folder, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)
