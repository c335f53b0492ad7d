"""The hardened archive client: one session, bounded retries, safe downloads, verification.

The same code serves the real archive (``https://...``) and the embedded simulator
(``sim://``, a transport adapter mounted on the session). Every failure leaves as one of
the typed errors in :mod:`comet_pipeline.archive.errors`, so the lifecycle can decide
between "retry later" and "give up with this reason" without knowing about HTTP.

A hostile or broken server must not be able to hold a worker or feed it foreign bytes: every
fetch has an overall deadline besides the connect and per-read timeouts, redirects are only
followed within the configured origin and only a few hops, and verification rejects headers
no LASCO frame can have before image code sees them.
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
from urllib.parse import urljoin, urlsplit

import requests
import urllib3
import urllib3.connection
import urllib3.response
from requests.adapters import HTTPAdapter
from urllib3.util.retry import Retry

from comet_pipeline.archive import layout
from comet_pipeline.archive.deadline import Deadline, DeadlineAdapter
from comet_pipeline.archive.errors import (
    ArchiveError,
    Corrupt,
    NotFound,
    Redirected,
    Rejected,
    Transient,
)
from comet_pipeline.archive.fits_header import HeaderError, check_plausible, parse_fits_header
from comet_pipeline.archive.layout import ArchiveTree
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
#: Redirect hops followed (within the configured origin) before a fetch gives up: a loop
#: costs 1 + MAX_REDIRECTS requests, not requests' 31.
MAX_REDIRECTS = 3
#: The overall deadline of a fetch is DEADLINE_BASE_S + max_bytes / MIN_RATE (defaults).
DEADLINE_BASE_S = 60.0
MIN_RATE = 50_000.0  # bytes per second
#: Temporary download files: ``.<final name>.<random>.part`` next to the final path.
TEMP_PREFIX = "."
TEMP_SUFFIX = ".part"
_DEFAULT_PORTS = {"http": 80, "https": 443}
FITS_BLOCK = 2880
USER_AGENT = "comet_pipeline archive client (+https://github.com/; SOHO/LASCO comet hunting)"
# Requests that map to "the URL or scheme is wrong": configuration errors, not archive ones.
_CONFIG_ERRORS = (
    requests.exceptions.InvalidURL,
    requests.exceptions.InvalidSchema,
    requests.exceptions.MissingSchema,
)


#: Called as ``progress(bytes_so_far)`` after every chunk of a download (e.g. to renew a lease).
Progress = Callable[[int], None]


def is_temp_name(name: str) -> bool:
    """True for a file name the client uses for a download in progress."""
    return name.startswith(TEMP_PREFIX) and name.endswith(TEMP_SUFFIX) and len(name) > 6


@dataclass(frozen=True)
class DownloadResult:
    path: Path
    size: int
    sha256: str
    elapsed_s: float


# ---------------------------------------------------------------------- redirects


def _origin(url: str) -> tuple[str, str, int | None]:
    """(scheme, host, port) with the scheme's default port; ValueError if unparsable."""
    parts = urlsplit(url)
    scheme = parts.scheme.lower()
    return scheme, (parts.hostname or "").lower(), parts.port or _DEFAULT_PORTS.get(scheme)


def _show_origin(origin: tuple[str, str, int | None]) -> str:
    scheme, host, port = origin
    return f"{scheme}://{host}" + ("" if port in (None, _DEFAULT_PORTS.get(scheme)) else f":{port}")


@dataclass
class _Transfer:
    """A fetch under way: the 200 response, its deadline, the URL asked for."""

    response: requests.Response
    deadline: Deadline
    url: str


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
    """Talks to the level-0.5 trees and a DSN schedule page (``schedule_url``).

    ``archive_url`` is the near-real-time tree, ``longterm_url`` the long-term one (same
    layout; default :func:`~comet_pipeline.archive.layout.longterm_url_for` the archive URL,
    else the archive URL itself). Index, listing and file calls take ``tree=`` (default
    near-real-time); :func:`~comet_pipeline.archive.layout.tree_for_day` picks it.

    Retries (urllib3 ``Retry`` on an ``HTTPAdapter`` mounted for http/https): connection
    errors, read timeouts before the headers, and 500/502/503/504, ``retries`` times with
    exponential backoff ``backoff * 2**n`` (0 disables the sleep, for tests). 404 is never
    retried. ``Retry-After`` is ignored so a hostile server cannot park a worker. Errors in
    the middle of a body are not retried here: they raise :class:`Transient` and the
    lifecycle retries the file later. ``sim://`` URLs need the simulator adapter mounted on
    the session (:meth:`create` does that); transports that are not an
    ``HTTPAdapter`` get the same retry policy from :meth:`_send_once`.

    Every fetch (index, listing, schedule, file) must end within
    ``deadline_base + max_bytes / min_rate`` seconds (:attr:`deadline_s`), retries and
    redirects included, or it raises :class:`Transient` ("download too slow"): the per-read
    timeout alone lets a server dripping one byte a second hold a worker for days.
    Redirects are followed only to the scheme, host and port of the configured URL, at most
    :data:`MAX_REDIRECTS` hops; any other raises :class:`Redirected` (permanent).
    """

    def __init__(
        self,
        archive_url: str,
        schedule_url: str,
        *,
        longterm_url: str | None = None,
        session: requests.Session | None = None,
        connect_timeout: float = 5.0,
        read_timeout: float = 30.0,
        retries: int = 3,
        backoff: float = 0.5,
        max_bytes: int = 20_000_000,
        deadline_base: float = DEADLINE_BASE_S,
        min_rate: float = MIN_RATE,
    ) -> None:
        if deadline_base < 0 or min_rate <= 0:
            raise ValueError("deadline_base must be >= 0 and min_rate > 0")
        self.archive_url = archive_url.rstrip("/")
        self.longterm_url = (
            longterm_url or layout.longterm_url_for(archive_url) or archive_url
        ).rstrip("/")
        self.schedule_url = schedule_url
        self.timeout = (connect_timeout, read_timeout)
        self.max_bytes = max_bytes
        self.retries = retries
        self.backoff = backoff
        self.deadline_base = deadline_base
        self.min_rate = min_rate
        self.retry = Retry(
            total=retries,
            connect=retries,
            read=retries,
            status=retries,
            other=0,
            redirect=0,  # requests never follows (allow_redirects=False): _send does, checked
            backoff_factor=backoff,
            status_forcelist=RETRY_STATUSES,
            allowed_methods=frozenset({"GET", "HEAD"}),
            raise_on_status=False,  # the last 5xx comes back as a response: mapped below
            respect_retry_after_header=False,
        )
        self.session = session if session is not None else requests.Session()
        adapter = DeadlineAdapter(max_retries=self.retry, pool_maxsize=16)
        self.session.mount("http://", adapter)
        self.session.mount("https://", adapter)
        self.session.headers.setdefault("User-Agent", USER_AGENT)

    def base_url(self, tree: ArchiveTree = ArchiveTree.NEAR_REAL_TIME) -> str:
        """The base URL of ``tree`` (``YYMMDD/{c2,c3}/`` folders below it)."""
        return self.longterm_url if tree is ArchiveTree.LONG_TERM else self.archive_url

    @property
    def deadline_s(self) -> float:
        """The overall time limit of one fetch, in seconds."""
        return self.deadline_base + self.max_bytes / self.min_rate

    def close(self) -> None:
        self.session.close()

    def __enter__(self) -> ArchiveClient:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # ------------------------------------------------------------------ HTTP plumbing

    @contextlib.contextmanager
    def _get(self, url: str, *, origin: str) -> Iterator[_Transfer]:
        """GET with streaming under one deadline; yields a 200 response, else raises the
        typed error. Redirects are followed only within ``origin``'s scheme, host and port.
        """
        with Deadline(self.deadline_s) as deadline:
            try:
                response = self._send(url, origin=origin, deadline=deadline)
            except _CONFIG_ERRORS:
                raise
            except requests.exceptions.RequestException as exc:
                if deadline.passed():  # the deadline cut the socket: say so, not "reset"
                    raise deadline.error(url) from exc
                raise _to_archive_error(exc, url) from exc
            try:
                if deadline.passed():
                    raise deadline.error(url)
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
                yield _Transfer(response, deadline, url)
            finally:
                response.close()

    def _send(self, url: str, *, origin: str, deadline: Deadline) -> requests.Response:
        """GET ``url``, following at most :data:`MAX_REDIRECTS` same-origin redirects.

        requests would follow 30 redirects anywhere — another host, another port, even a
        scheme it then fails on as if the network were down — and use what it finds. Here a
        redirect outside ``origin``, or one hop too many, is :class:`Redirected`: permanent,
        and the target is never asked for.
        """
        home = _origin(origin)
        current = url
        for hop in range(MAX_REDIRECTS + 1):
            response = self._send_once(current, deadline)
            location = self.session.get_redirect_target(response)
            if location is None:
                return response
            response.close()
            try:
                target = urljoin(current, location)
                same = _origin(target) == home
            except ValueError:
                raise Redirected(
                    f"redirected to an unparsable URL {location!r}: not followed",
                    url=url,
                    target=location,
                ) from None
            if not same:
                raise Redirected(
                    f"redirected to {target}, outside the archive's origin "
                    f"{_show_origin(home)}: not followed",
                    url=url,
                    target=target,
                )
            if hop == MAX_REDIRECTS:
                raise Redirected(
                    f"more than {MAX_REDIRECTS} redirects (a loop?), the last to {target}",
                    url=url,
                    target=target,
                )
            current = target
        raise AssertionError("unreachable")

    def _send_once(self, url: str, deadline: Deadline) -> requests.Response:
        """One GET (no redirects); the same retry policy for transports that are not an
        ``HTTPAdapter``.

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
                    allow_redirects=False,
                )
            except (requests.exceptions.ConnectionError, requests.exceptions.Timeout):
                if last or deadline.passed():
                    raise
            else:
                if last or response.status_code not in RETRY_STATUSES or deadline.passed():
                    return response
                response.close()
            if self.backoff > 0:
                pause = min(self.backoff * 2**attempt, Retry.DEFAULT_BACKOFF_MAX)
                time.sleep(min(pause, deadline.remaining))
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

    def _chunks(self, transfer: _Transfer, progress: Progress | None = None) -> Iterator[bytes]:
        """The body in chunks, network errors mapped, size cap and deadline enforced as
        bytes arrive; ``progress(total)`` after every chunk.
        """
        response, deadline, url = transfer.response, transfer.deadline, transfer.url
        read = _reader(response)
        total = 0
        while chunk := _read_mapped(read, deadline, url):
            total += len(chunk)
            deadline.received = total
            if total > self.max_bytes:
                raise Rejected(f"body exceeds the {self.max_bytes}-byte cap", url=url)
            if deadline.passed():
                raise deadline.error(url)
            if progress is not None:
                progress(total)
            yield chunk
        if deadline.passed():  # the end may be the deadline's cut, not the server's
            raise deadline.error(url)
        expected = self._content_length(response)
        if expected is not None and total != expected:
            raise Transient(f"truncated body: {total} of {expected} bytes", url=url)

    def _get_text(self, url: str, *, origin: str, missing_ok: bool) -> str | None:
        try:
            with self._get(url, origin=origin) as transfer:
                body = b"".join(self._chunks(transfer))
        except NotFound:
            if missing_ok:
                return None
            raise
        return body.decode("utf-8", errors="replace")

    # ------------------------------------------------------------------ indexes

    def fetch_index(
        self, day: date, detector: Detector, *, tree: ArchiveTree = ArchiveTree.NEAR_REAL_TIME
    ) -> ParseResult[ArchiveFile]:
        """The day's ``img_hdr.txt``; a 404 (the day's folder does not exist yet) is empty."""
        base = self.base_url(tree)
        url = layout.img_hdr_url(base, day, detector)
        text = self._get_text(url, origin=base, missing_ok=True)
        return ParseResult() if text is None else parse_img_hdr(text, detector=detector)

    def fetch_listing(
        self, day: date, detector: Detector, *, tree: ArchiveTree = ArchiveTree.NEAR_REAL_TIME
    ) -> ParseResult[ListingEntry]:
        """The day's directory listing (arrival times, UTC); a 404 is empty."""
        base = self.base_url(tree)
        url = layout.index_url(base, day, detector)
        text = self._get_text(url, origin=base, missing_ok=True)
        return ParseResult() if text is None else parse_listing(text)

    def fetch_schedule(self) -> ParseResult[SchedulePass]:
        """The DSN schedule page; its absence is an error (NotFound), not an empty schedule."""
        text = self._get_text(self.schedule_url, origin=self.schedule_url, missing_ok=False)
        assert text is not None
        return parse_schedule(text)

    # ------------------------------------------------------------------ files

    def file_url(
        self,
        day: date,
        detector: Detector,
        name: str,
        *,
        tree: ArchiveTree = ArchiveTree.NEAR_REAL_TIME,
    ) -> str:
        """The URL of one file, with the name exactly as the index spells it.

        The name is validated first (:class:`RejectedName`) but never normalised: a
        case-sensitive server that lists ``23145543.FTS`` answers 404 for ``.fts``.
        """
        layout.validate_file_name(name)
        return layout.dir_url(self.base_url(tree), day, detector) + name

    def download(
        self,
        day: date,
        detector: Detector,
        name: str,
        dest: Path,
        *,
        verify: Callable[[Path], object] | None = None,
        progress: Progress | None = None,
        tree: ArchiveTree = ArchiveTree.NEAR_REAL_TIME,
    ) -> DownloadResult:
        """Stream one file to ``dest`` (the final file path) atomically.

        The name is validated before any URL is built, and used with its case. Bytes go to
        a temporary file in ``dest``'s folder (``.<name>.<random>.part``, see
        :func:`is_temp_name`), hashed as they arrive, then fsync. ``progress(bytes)`` is
        called after every chunk; whatever it raises aborts the download and propagates as
        is (a caller that lost its lease stops here). ``verify`` (if given) is called on the
        complete temporary file before ``os.replace``, so ``dest`` is only ever replaced by
        a file that passed it: verifying after the rename and deleting on failure could
        delete a good file another run had put there. A failing ``verify`` re-raises
        archive errors as they are and wraps anything else as :class:`Corrupt`. Whatever
        goes wrong at whatever byte (including KeyboardInterrupt), the temporary file is
        removed and ``dest`` is left as it was. ``tree`` is the level-0.5 tree the file is
        fetched from (:func:`~comet_pipeline.archive.layout.tree_for_day` chooses).
        """
        url = self.file_url(day, detector, name, tree=tree)
        dest = Path(dest)
        started = time.perf_counter()
        digest = hashlib.sha256()
        size = 0
        fd, tmp_name = tempfile.mkstemp(
            dir=dest.parent, prefix=f"{TEMP_PREFIX}{dest.name}.", suffix=TEMP_SUFFIX
        )
        tmp = Path(tmp_name)
        try:
            with os.fdopen(fd, "wb") as out, self._get(url, origin=url) as transfer:
                for chunk in self._chunks(transfer, progress):
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
    observation time within ``time_tolerance_s`` of the index, the index's image size, a
    geometry a LASCO frame can have (:func:`check_plausible`: 2-D, sane sides, plate scale
    and Sun centre), and NAXIS1*NAXIS2*|BITPIX|/8 data bytes after the header, padded to
    whole 2880-byte FITS blocks as the standard requires (a file short of its padding lost
    bytes somewhere).
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
        check_plausible(header, info)  # before anything downstream computes with it
    except HeaderError as exc:
        raise Corrupt(f"implausible header: {exc}") from exc
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


def _reader(response: requests.Response) -> Callable[[], bytes | None]:
    """One read of the body per call (b"" or None at the end).

    A urllib3 body is read with ``read1``: one network read per call, so the deadline is
    checked (and progress reported) as often as bytes arrive, not once per 64 KiB that a
    slow server may take hours to fill. Other transports' bodies go through requests.
    """
    raw = response.raw
    if isinstance(raw, urllib3.response.HTTPResponse):
        return lambda: raw.read1(CHUNK_BYTES, decode_content=True)
    iterator = response.iter_content(chunk_size=CHUNK_BYTES)
    return lambda: next(iterator, b"")


def _read_mapped(read: Callable[[], bytes | None], deadline: Deadline, url: str) -> bytes | None:
    """``read()`` with network errors as typed errors ("too slow" once the deadline passed:
    the deadline's cut looks like a reset connection)."""
    try:
        return read()
    except _CONFIG_ERRORS:
        raise
    except (requests.exceptions.RequestException, urllib3.exceptions.HTTPError) as exc:
        raise (deadline.error(url) if deadline.passed() else _to_archive_error(exc, url)) from exc
    except OSError as exc:  # socket errors that escaped the wrappers
        if deadline.passed():
            raise deadline.error(url) from exc
        raise Transient(f"connection error: {exc}", url=url) from exc


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
