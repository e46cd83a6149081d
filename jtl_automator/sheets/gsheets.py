"""Google Sheets backend on the real gspread library (service-account credentials).

Request budget, which is what the Sheets per-minute quotas count (Google keeps two: 60 reads and 60
writes per minute and user):
- the first use fetches the spreadsheet's metadata once (tab titles); later lookups use that cache;
- ``read_frame``: one ``values.get`` for the whole tab;
- ``read_table``: one ``values.get`` of the top rows (the header), then one ``values:batchGet`` of only
  the columns asked for (a header lower than :data:`HEADER_SCAN_ROWS` costs one whole-tab read more);
- ``read_columns``: one ``values:batchGet``;
- ``write_cells`` / ``write_columns``: one ``values:batchUpdate`` with ``valueInputOption=RAW``
  (``"00123"`` stays text) however many cells, contiguous cells of a column merged into one range
  (``E2:E10001``); only a body over ``max_request_bytes`` (Google refuses more than 10 MiB) or more than
  ``max_ranges_per_request`` ranges is split over several requests;
- ``append_rows``: one ``values:append``.

Cells longer than Google's 50,000 characters are truncated (with a marker, and a warning in the log)
instead of failing the whole batch.

Retries (our :class:`RetryingHTTPClient` on the project's one retry policy, not gspread's
``BackOffHTTPClient``, which shares its counter between instances, cannot be told to stop and sleeps
with ``time.sleep``): 429 always, honouring Retry-After; 5xx/408/connection errors only for requests
that are safe to repeat (reads and ``values:batchUpdate``, whose explicit ranges make it idempotent;
not ``values:append``). What still fails after that with 429 (:class:`SheetRateLimited`) or
5xx/408/connection errors (:class:`SheetUnavailable`) is a
:class:`~jtl_automator.resilience.TransientFailure`, which the Prefect task retries act on.

``api_url`` points every ``https://sheets.googleapis.com`` request at another root (the sandbox's
``http://127.0.0.1:PORT/sheets``) through a transport adapter, so gspread itself runs unchanged.
Tokens come from the service account's own ``token_uri``.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from functools import partial
from typing import Any

import google.auth.exceptions
import gspread
import requests
from google.auth.transport.requests import AuthorizedSession
from google.oauth2.service_account import Credentials
from gspread.exceptions import APIError
from gspread.http_client import HTTPClient
from gspread.urls import SPREADSHEET_VALUES_BATCH_UPDATE_URL
from requests.adapters import HTTPAdapter

from jtl_automator.correlation import correlated_logger
from jtl_automator.resilience import (
    RateLimiter,
    RequestStats,
    Retry,
    RetryPolicy,
    TransientFailure,
    call_with_retry,
    server_delay,
)
from jtl_automator.sheets.a1 import (
    CellUpdate,
    CellValue,
    ColumnRun,
    ColumnValues,
    absolute_range,
    column_letter,
    group_column_runs,
    quote_sheet_title,
)
from jtl_automator.sheets.base import (
    GOOGLE_MAX_CELL_CHARS,
    ColumnBlock,
    HeaderNotFound,
    Locate,
    SheetBackend,
    SheetError,
    WorksheetNotFound,
    columns_from_grid,
    fit_cell,
    resolve_title,
)
from jtl_automator.sheets.xlsx import cell_text

logger = correlated_logger("jtl_automator.sheets.google")

GOOGLE_SHEETS_ROOT = "https://sheets.googleapis.com"
SCOPES = ("https://www.googleapis.com/auth/spreadsheets",)

#: Rows read to find a header row before reading only the wanted columns below it.
HEADER_SCAN_ROWS = 200
#: Google answers 400 "Request payload size exceeds the limit: 10485760 bytes"; stay clear of it.
MAX_REQUEST_BYTES = 8 * 2**20
#: Cells of one range serialised at a time (then halved until a piece fits the request size).
_PIECE_CELLS = 50_000
#: Unformatted numbers (no locale separators: 1234.5 not "1.234,50"), dates as displayed text.
_READ_PARAMS = {"valueRenderOption": "UNFORMATTED_VALUE", "dateTimeRenderOption": "FORMATTED_STRING"}

#: The ``sheets`` values of the one policy (``JTL_SHEETS_RETRY_*`` defaults): Google's advice for the
#: per-minute quota is truncated exponential backoff up to 64 s.
DEFAULT_SHEETS_RETRY = RetryPolicy.defaults("sheets")


class SheetApiError(SheetError):
    """The Sheets API refused a request (after retries where they apply)."""

    def __init__(self, message: str, *, status: int | None = None) -> None:
        super().__init__(message)
        self.status = status


class SpreadsheetNotFound(SheetApiError):
    """404: wrong spreadsheet id."""


class SheetPermissionDenied(SheetApiError):
    """403: the spreadsheet is not shared with the service account."""


class SheetRateLimited(SheetApiError, TransientFailure):
    """429 that outlasted the retry budget."""


class SheetUnavailable(SheetApiError, TransientFailure):
    """5xx, 408, timeouts or dropped connections (after retries where the request is safe to repeat)."""


class SheetAuthError(SheetApiError):
    """The service account could not get a token (bad key, revoked, wrong token_uri)."""


class ApiRootAdapter(HTTPAdapter):
    """Re-roots requests for ``source`` onto ``target`` (e.g. the sandbox) just before they are sent."""

    def __init__(self, source: str, target: str) -> None:
        super().__init__()
        self.source = source.rstrip("/")
        self.target = target.rstrip("/")

    def send(self, request: requests.PreparedRequest, *args: Any, **kwargs: Any) -> requests.Response:
        """Rewrite the URL prefix, then send as usual."""
        url = request.url or ""
        if url.startswith(self.source + "/") or url == self.source:
            request.url = self.target + url[len(self.source) :]
            # Proxies were chosen for the original host; choose again for the real destination.
            kwargs["proxies"] = requests.utils.get_environ_proxies(request.url)
        return super().send(request, *args, **kwargs)


#: The connection failed, timed out, or died while the response body was coming in.
_TRANSPORT_ERRORS = (requests.ConnectionError, requests.Timeout, requests.exceptions.ChunkedEncodingError)


class _OffGoogleCredentials(Credentials):
    """Service-account credentials for an API root that is not Google's (the sandbox).

    google-auth looks up the account's Regional Access Boundary at iamcredentials.googleapis.com in a
    background thread after each token refresh; against a sandbox that is a stray request to Google.
    """

    def _is_regional_access_boundary_lookup_required(self) -> bool:
        return False


def _is_idempotent(method: str, endpoint: str) -> bool:
    if method.upper() in ("GET", "HEAD", "PUT", "DELETE"):
        return True
    path = endpoint.split("?", 1)[0]
    return path.endswith(("/values:batchUpdate", "/values:batchGet", "/values:batchClear"))


class RetryingHTTPClient(HTTPClient):
    """gspread's HTTP client with the project's retry policy, an optional rate limiter and counters."""

    def __init__(
        self,
        auth: Any,
        session: requests.Session | None = None,
        *,
        retry: RetryPolicy,
        limiter: RateLimiter | None = None,
        stats: RequestStats | None = None,
    ) -> None:
        super().__init__(auth, session)
        self.retry = retry
        self.limiter = limiter
        self.stats = stats or RequestStats()

    def request(
        self,
        method: str,
        endpoint: str,
        params: Any = None,
        data: bytes | None = None,
        json: Any = None,
        files: Any = None,
        headers: Any = None,
    ) -> requests.Response:
        """The single exit gspread uses: one logical request, retried per the policy."""
        idempotent = _is_idempotent(method, endpoint)
        policy = self.retry
        display = f"{method.upper()} {endpoint.split('?', 1)[0].removeprefix(GOOGLE_SHEETS_ROOT)}"

        def send(attempt: int) -> requests.Response:
            try:
                response = self.session.request(
                    method=method,
                    url=endpoint,
                    json=json,
                    params=params,
                    data=data,
                    files=files,
                    headers=headers,
                    timeout=self.timeout,
                )
            except _TRANSPORT_ERRORS:
                self.stats.record_transport_error()
                raise
            self.stats.record_response(response.status_code)
            if response.ok:
                return response
            raise APIError(response)

        def classify(error: Exception) -> Retry | None:
            if isinstance(error, _TRANSPORT_ERRORS):
                return Retry(type(error).__name__) if idempotent else None
            if isinstance(error, APIError):
                status = error.response.status_code
                if status == 429:
                    return Retry.throttled(
                        server_delay(error.response.headers, now=policy.wall_clock), policy
                    )
                if (status >= 500 or status == 408) and idempotent:
                    return Retry(str(status))
            return None

        return call_with_retry(
            send, classify, policy, what=display, limiter=self.limiter, stats=self.stats, log=logger
        )


_CELL_RE = re.compile(r"^\$?([A-Za-z]*)\$?(\d*)")


def _range_start(a1_range: str) -> tuple[int, int]:
    """(row, col) of the first cell of ``'Tab'!C3:F9`` (1, 1 when the range names whole rows/columns)."""
    cells = a1_range.rpartition("!")[2]
    match = _CELL_RE.match(cells.split(":", 1)[0])
    letters, digits = (match.group(1), match.group(2)) if match else ("", "")
    col = gspread.utils.column_letter_to_index(letters.upper()) if letters else 1
    return (int(digits) if digits else 1), col


def _json_value(value: CellValue) -> str | int | float | bool:
    """Cell value for a RAW write: text stays text, numbers/booleans stay typed, dates become ISO text.

    Text is cut to Google's cell size (a longer cell would fail the whole request).
    """
    if value is None:
        return ""
    if isinstance(value, str):
        return fit_cell(value, GOOGLE_MAX_CELL_CHARS)
    if isinstance(value, bool | int | float):
        return value
    return value.isoformat()


def _too_long(value: CellValue) -> bool:
    return isinstance(value, str) and len(value) > GOOGLE_MAX_CELL_CHARS


@dataclass(frozen=True)
class _Piece:
    """Part of a column run, serialised as one ``ValueRange`` of a batchUpdate body."""

    json: str
    cells: int


@dataclass(frozen=True)
class _Tab:
    sheet_id: int
    rows: int
    cols: int


def _append_dimension(sheet_id: int, dimension: str, length: int) -> dict[str, Any]:
    return {"appendDimension": {"sheetId": sheet_id, "dimension": dimension, "length": length}}


class GoogleSheetsBackend(SheetBackend):
    """One spreadsheet, accessed as a service account. Construction makes no request."""

    def __init__(
        self,
        spreadsheet_id: str,
        credentials_info: Mapping[str, Any],
        api_url: str | None = None,
        *,
        retry: RetryPolicy | None = None,
        limiter: RateLimiter | None = None,
        timeout: float = 60.0,
        max_ranges_per_request: int = 10_000,
        max_request_bytes: int = MAX_REQUEST_BYTES,
    ) -> None:
        if max_ranges_per_request < 1:
            raise ValueError("max_ranges_per_request must be >= 1")
        if max_request_bytes < 2**16:
            raise ValueError("max_request_bytes must be at least 64 KiB (a cell may hold 50,000 characters)")
        self.spreadsheet_id = spreadsheet_id
        self.api_url = api_url.rstrip("/") if api_url else None
        self.client_email = str(credentials_info.get("client_email", "?"))
        self.max_ranges_per_request = max_ranges_per_request
        self.max_request_bytes = max_request_bytes
        self.stats = RequestStats()
        kind = _OffGoogleCredentials if api_url else Credentials
        credentials: Credentials | None = None
        detail = ""
        try:
            credentials = kind.from_service_account_info(  # type: ignore[no-untyped-call]
                dict(credentials_info), scopes=list(SCOPES)
            )
        except KeyError as exc:
            detail = f"missing field {exc}"
        except ValueError as exc:
            # google-auth names missing fields; anything else (a key parser's message) is not repeated.
            detail = str(exc) if "missing fields" in str(exc) else "unreadable private key"
        if credentials is None:
            raise SheetAuthError(f"invalid service-account credentials ({detail})")
        session = AuthorizedSession(credentials)  # type: ignore[no-untyped-call]
        if self.api_url:
            session.mount(GOOGLE_SHEETS_ROOT + "/", ApiRootAdapter(GOOGLE_SHEETS_ROOT, self.api_url))
        #: The authorised ``requests`` session; mount adapters on it for proxies or test fault injection.
        self.session: requests.Session = session
        factory = partial(
            RetryingHTTPClient, retry=retry or DEFAULT_SHEETS_RETRY, limiter=limiter, stats=self.stats
        )
        # gspread types http_client as a class, but only ever calls it as a factory(auth, session).
        self._client = gspread.Client(auth=credentials, session=session, http_client=factory)  # type: ignore[arg-type]
        self._client.set_timeout(timeout)
        self._http: HTTPClient = self._client.http_client
        self._tabs: dict[str, _Tab] | None = None

    def __repr__(self) -> str:
        root = f", api_url={self.api_url!r}" if self.api_url else ""
        return f"GoogleSheetsBackend({self.spreadsheet_id!r}, client_email={self.client_email!r}{root})"

    # -- error mapping -------------------------------------------------------------------------------

    def _call(self, what: str, func: Any, *args: Any, **kwargs: Any) -> Any:
        error: SheetApiError
        try:
            return func(*args, **kwargs)
        except APIError as exc:
            error = self._map_api_error(what, exc)
        except google.auth.exceptions.GoogleAuthError as exc:
            account = self.client_email
            error = SheetAuthError(
                f"{what}: service account {account!r} could not get a token ({type(exc).__name__})"
            )
        except _TRANSPORT_ERRORS as exc:
            error = SheetUnavailable(f"{what}: {type(exc).__name__} talking to the Sheets API")
        except requests.RequestException as exc:
            error = SheetApiError(f"{what}: {type(exc).__name__} talking to the Sheets API")
        # Raised outside the except block, so the library exception (its request carries the bearer
        # token) is not attached as __context__.
        raise error

    def _map_api_error(self, what: str, exc: APIError) -> SheetApiError:
        status = exc.response.status_code
        message = str(exc.error.get("message", "")) if isinstance(exc.error, Mapping) else ""
        text = f"{what} -> {status}" + (f": {message}" if message else "")
        if status == 404:
            return SpreadsheetNotFound(text, status=status)
        if status == 403:
            return SheetPermissionDenied(
                f"{text} (is the spreadsheet shared with {self.client_email}?)", status=status
            )
        if status == 429:
            return SheetRateLimited(text, status=status)
        if status == 401:
            return SheetAuthError(text, status=status)
        if status >= 500 or status == 408:
            return SheetUnavailable(text, status=status)
        return SheetApiError(text, status=status)

    # -- worksheets ----------------------------------------------------------------------------------

    def _refresh_titles(self) -> list[str]:
        metadata = self._call(
            f"spreadsheet {self.spreadsheet_id!r}", self._http.fetch_sheet_metadata, self.spreadsheet_id
        )
        tabs: dict[str, _Tab] = {}
        for sheet in metadata.get("sheets", []):
            props = sheet.get("properties", {})
            grid = props.get("gridProperties", {})
            tabs[props["title"]] = _Tab(
                sheet_id=int(props.get("sheetId", 0)),
                rows=int(grid.get("rowCount", 0)),
                cols=int(grid.get("columnCount", 0)),
            )
        self._tabs = tabs
        return list(tabs)

    def _title(self, worksheet: str) -> str:
        """The tab's exact title (cached; one metadata refresh on a miss), or :class:`WorksheetNotFound`."""
        if self._tabs is None:
            self._refresh_titles()
        assert self._tabs is not None
        title = resolve_title(worksheet, list(self._tabs))
        if title is None:
            titles = self._refresh_titles()
            title = resolve_title(worksheet, titles)
            if title is None:
                raise WorksheetNotFound(worksheet, titles)
        return title

    def _ensure_grid(self, title: str, last_row: int, last_col: int) -> None:
        """Grow the tab first when a write reaches past its rows/columns (Sheets refuses such writes)."""
        assert self._tabs is not None
        tab = self._tabs[title]
        requests_: list[dict[str, Any]] = []
        if last_row > tab.rows:
            requests_.append(_append_dimension(tab.sheet_id, "ROWS", last_row - tab.rows))
        if last_col > tab.cols:
            requests_.append(_append_dimension(tab.sheet_id, "COLUMNS", last_col - tab.cols))
        if not requests_:
            return
        self._call(
            f"grow worksheet {title!r} to {last_row} rows x {last_col} columns",
            self._http.batch_update,
            self.spreadsheet_id,
            {"requests": requests_},
        )
        self._tabs[title] = _Tab(tab.sheet_id, max(tab.rows, last_row), max(tab.cols, last_col))

    def worksheet_names(self) -> list[str]:
        """Titles of the tabs (always fetched fresh: one metadata request)."""
        return list(self._refresh_titles())

    # -- reads ---------------------------------------------------------------------------------------

    def read_grid(self, worksheet: str) -> list[list[str]]:
        """One ``values.get`` of the whole tab."""
        title = self._title(worksheet)
        return self._get_rows(title, quote_sheet_title(title), f"read worksheet {title!r}")

    def _get_rows(self, title: str, a1_range: str, what: str) -> list[list[str]]:
        """One ``values.get`` as a grid of text whose first cell is A1."""
        body = self._call(what, self._http.values_get, self.spreadsheet_id, a1_range, params=_READ_PARAMS)
        values = body.get("values", []) or []
        first_row, first_col = _range_start(str(body.get("range", "A1")))
        pad = [""] * (first_col - 1)
        grid: list[list[str]] = [[] for _ in range(first_row - 1)] + [
            pad + [cell_text(v) for v in row] for row in values
        ]
        return grid

    def read_table(self, worksheet: str, locate: Locate) -> ColumnBlock:
        """The top :data:`HEADER_SCAN_ROWS` rows, then only the wanted columns: two reads.

        A header further down is looked for in one read of the whole tab instead.
        """
        title = self._title(worksheet)
        assert self._tabs is not None
        scan = min(HEADER_SCAN_ROWS, max(self._tabs[title].rows, 1))
        top = self._get_rows(
            title, absolute_range(title, f"1:{scan}"), f"read the first {scan} rows of worksheet {title!r}"
        )
        try:
            index, letters = locate(top)
        except HeaderNotFound:
            if scan < HEADER_SCAN_ROWS or len(top) < scan:
                raise
            grid = self.read_grid(title)
            index, letters = locate(grid)
            header = tuple(grid[index]) if index < len(grid) else ()
            return ColumnBlock(index + 1, header, columns_from_grid(grid, letters, index + 2))
        header = tuple(top[index]) if index < len(top) else ()
        return ColumnBlock(index + 1, header, self.read_columns(title, letters, index + 2))

    def read_rows(self, worksheet: str, first_row: int, last_row: int) -> list[list[str]]:
        """One ``values.get`` of whole rows (none when the tab ends above ``first_row``)."""
        title = self._title(worksheet)
        assert self._tabs is not None
        last = min(last_row, self._tabs[title].rows)
        if first_row > last:
            return []
        grid = self._get_rows(
            title, absolute_range(title, f"{first_row}:{last}"), f"read rows {first_row}-{last} of {title!r}"
        )
        return grid[first_row - 1 :]

    def read_columns(self, worksheet: str, letters: Sequence[str], first_row: int) -> dict[str, list[str]]:
        """One ``values:batchGet`` of the columns (``'Tab'!B5:B``), column-major; ragged lists."""
        title = self._title(worksheet)
        wanted = list(dict.fromkeys(column_letter(letter) for letter in letters))
        assert self._tabs is not None
        if not wanted or first_row > self._tabs[title].rows:
            return {letter: [] for letter in wanted}
        ranges = [absolute_range(title, f"{letter}{first_row}:{letter}") for letter in wanted]
        body = self._call(
            f"read column(s) {', '.join(wanted)} of worksheet {title!r} from row {first_row}",
            self._http.values_batch_get,
            self.spreadsheet_id,
            ranges,
            params={**_READ_PARAMS, "majorDimension": "COLUMNS"},
        )
        out: dict[str, list[str]] = {}
        for letter, value_range in zip(wanted, body.get("valueRanges", []), strict=True):
            columns = value_range.get("values") or [[]]
            out[letter] = [v if isinstance(v, str) else cell_text(v) for v in columns[0]]
        return out

    # -- writes --------------------------------------------------------------------------------------

    def write_cells(self, worksheet: str, updates: Sequence[CellUpdate]) -> int:
        """RAW ``values:batchUpdate``: one request unless the body outgrows the request limits."""
        return self._write_runs(worksheet, group_column_runs(updates))

    def write_columns(self, worksheet: str, columns: Sequence[ColumnValues]) -> int:
        """As :meth:`write_cells`, from column-wise values (no object per cell)."""
        return self._write_runs(worksheet, [run for column in columns for run in column.runs()])

    def _write_runs(self, worksheet: str, runs: list[ColumnRun]) -> int:
        if not runs:
            return 0
        title = self._title(worksheet)
        self._ensure_grid(title, max(run.end_row for run in runs), max(run.col for run in runs))
        truncated = sum(1 for run in runs for v in run.cells if _too_long(v))
        if truncated:
            logger.warning(
                "%d cell(s) longer than %d characters truncated for worksheet %r",
                truncated,
                GOOGLE_MAX_CELL_CHARS,
                title,
            )
        requests_sent = self._post_bodies([(title, runs)], f"worksheet {title!r}")
        written = sum(len(run.cells) for run in runs)
        logger.info(
            "wrote %d cell(s) in %d range(s) and %d request(s) to worksheet %r",
            written,
            len(runs),
            requests_sent,
            title,
        )
        return written

    def _pieces(self, title: str, run: ColumnRun, budget: int) -> Iterator[_Piece]:
        """A run as serialised ValueRanges, each within ``budget`` bytes (halved until it fits)."""
        letter = column_letter(run.col)
        stack = [
            (start, min(start + _PIECE_CELLS, len(run.cells)))
            for start in range(0, len(run.cells), _PIECE_CELLS)
        ][::-1]
        while stack:
            start, end = stack.pop()
            first, last = run.start_row + start, run.start_row + end - 1
            a1 = f"{letter}{first}" if first == last else f"{letter}{first}:{letter}{last}"
            values = json.dumps([[_json_value(v)] for v in run.cells[start:end]], separators=(",", ":"))
            where = json.dumps(absolute_range(title, a1))
            text = f'{{"range":{where},"majorDimension":"ROWS","values":{values}}}'
            if len(text) > budget and end - start > 1:
                middle = (start + end) // 2
                stack += [(middle, end), (start, middle)]
                continue
            yield _Piece(text, end - start)

    def _post_bodies(self, tabs: Sequence[tuple[str, list[ColumnRun]]], what: str) -> int:
        """Send the runs of these tabs as few RAW ``values:batchUpdate`` requests as the limits allow."""
        url = SPREADSHEET_VALUES_BATCH_UPDATE_URL % self.spreadsheet_id
        requests_sent = 0
        for body, cells in self._bodies(tabs):
            self._call(
                f"write {cells} cell(s) to {what}",
                self._http.request,
                "post",
                url,
                data=body,
                headers={"Content-Type": "application/json"},
            )
            requests_sent += 1
        return requests_sent

    def _bodies(self, tabs: Sequence[tuple[str, list[ColumnRun]]]) -> Iterator[tuple[bytes, int]]:
        """Bodies of values:batchUpdate (ASCII JSON) within the byte and range limits, with their cells."""
        head, tail = '{"valueInputOption":"RAW","includeValuesInResponse":false,"data":[', "]}"
        budget = self.max_request_bytes - len(head) - len(tail)
        parts: list[str] = []
        size = cells = 0
        for title, run in ((title, run) for title, runs in tabs for run in runs):
            for piece in self._pieces(title, run, budget):
                if parts and (
                    size + len(piece.json) + 1 > budget or len(parts) >= self.max_ranges_per_request
                ):
                    yield (head + ",".join(parts) + tail).encode("ascii"), cells
                    parts, size, cells = [], 0, 0
                parts.append(piece.json)
                size += len(piece.json) + 1
                cells += piece.cells
        if parts:
            yield (head + ",".join(parts) + tail).encode("ascii"), cells

    def replace_tabs(
        self, tabs: Mapping[str, Sequence[Sequence[CellValue]]], *, delete: Sequence[str] = ()
    ) -> int:
        """Make the spreadsheet's first tabs exactly these, in this order, each holding only these rows.

        For a report rewritten on every run, within the per-minute quotas whatever the number of tabs:
        one metadata read, one ``spreadsheets.batchUpdate`` (add missing tabs sized to their rows, grow
        small ones, delete ``delete``, move the tabs into order), one ``values:batchClear`` of the tabs
        that existed and one RAW ``values:batchUpdate`` for all tabs (split only past the request
        limits). Tabs not named stay, after these. Returns the requests sent.
        """
        self._refresh_titles()
        assert self._tabs is not None
        existing = dict(self._tabs)
        structure: list[dict[str, Any]] = []
        ids: dict[str, int] = {}
        next_id = max((tab.sheet_id for tab in existing.values()), default=0) + 1
        for title, rows in tabs.items():
            height, width = max(len(rows), 1), max([len(r) for r in rows] + [1])
            tab = existing.get(title)
            if tab is None:
                ids[title], next_id = next_id, next_id + 1
                grid = {"rowCount": height, "columnCount": width}
                props = {"sheetId": ids[title], "title": title, "gridProperties": grid}
                structure.append({"addSheet": {"properties": props}})
                continue
            ids[title] = tab.sheet_id
            if height > tab.rows:
                structure.append(_append_dimension(tab.sheet_id, "ROWS", height - tab.rows))
            if width > tab.cols:
                structure.append(_append_dimension(tab.sheet_id, "COLUMNS", width - tab.cols))
        structure += [
            {"deleteSheet": {"sheetId": existing[t].sheet_id}}
            for t in dict.fromkeys(delete)
            if t in existing and t not in tabs
        ]
        # Each tab moves left to its place (the ones before it are placed already), where Google's
        # "index before the move" and "after the move" agree.
        structure += [
            {"updateSheetProperties": {"properties": {"sheetId": ids[t], "index": i}, "fields": "index"}}
            for i, t in enumerate(tabs)
        ]
        self._tabs = None  # titles, ids and sizes change below
        sent = 1
        if structure:
            what = f"add, size and order {len(tabs)} tab(s)"
            self._call(what, self._http.batch_update, self.spreadsheet_id, {"requests": structure})
            sent += 1
        stale = [quote_sheet_title(t) for t in tabs if t in existing]
        if stale:
            self._call(
                "clear tabs", self._http.values_batch_clear, self.spreadsheet_id, body={"ranges": stale}
            )
            sent += 1
        runs = [(t, [run for column in _columns(rows) for run in column.runs()]) for t, rows in tabs.items()]
        return sent + self._post_bodies(runs, f"{len(tabs)} tab(s)")

    def rewrite_tab(
        self,
        title: str,
        rows: Sequence[Sequence[CellValue]],
        formats: Callable[[int], list[dict[str, Any]]] | None = None,
        *,
        index: int | None = None,
    ) -> int:
        """Replace the tab ``title`` whole: its values, formats and rules; the others stay as they are.

        For a report tab rewritten on every run, formatted: one metadata read; one
        ``spreadsheets.batchUpdate`` that adds the new tab (under a temporary title, sized to ``rows``),
        deletes the old one with all its formats and conditional rules, names the new one ``title`` at
        ``index`` (default: where the old one was, else first) and applies ``formats(sheet_id)``; then one
        RAW ``values:batchUpdate`` (split only past the request limits). Returns the requests sent. The
        tab gets a new ``sheetId`` (a link to it changes), which is what makes stale formatting impossible.
        """
        self._refresh_titles()
        assert self._tabs is not None
        old = self._tabs.get(title)
        if index is None:
            index = list(self._tabs).index(title) if old is not None else 0
        new_id = max((tab.sheet_id for tab in self._tabs.values()), default=0) + 1
        height, width = max(len(rows), 1), max([len(r) for r in rows] + [1])
        temporary = f"{title[:80]} ~{new_id}"
        grid = {"rowCount": height, "columnCount": width}
        structure: list[dict[str, Any]] = [
            {"addSheet": {"properties": {"sheetId": new_id, "title": temporary, "gridProperties": grid}}}
        ]
        if old is not None:
            structure.append({"deleteSheet": {"sheetId": old.sheet_id}})
        structure.append(
            {
                "updateSheetProperties": {
                    "properties": {"sheetId": new_id, "title": title, "index": index},
                    "fields": "title,index",
                }
            }
        )
        structure += formats(new_id) if formats else []
        self._tabs = None
        self._call(
            f"replace tab {title!r}", self._http.batch_update, self.spreadsheet_id, {"requests": structure}
        )
        runs = [run for column in _columns(rows) for run in column.runs()]
        return 2 + self._post_bodies([(title, runs)], f"tab {title!r}")

    def append_rows(self, worksheet: str, rows: Sequence[Sequence[CellValue]]) -> int:
        """One RAW ``values:append`` (INSERT_ROWS); retried on 429 only: a repeat would add rows twice."""
        title = self._title(worksheet)
        if not rows:
            return 0
        params = {"valueInputOption": "RAW", "insertDataOption": "INSERT_ROWS"}
        body = {"majorDimension": "ROWS", "values": [[_json_value(v) for v in row] for row in rows]}
        result = self._call(
            f"append {len(rows)} row(s) to worksheet {title!r}",
            self._http.values_append,
            self.spreadsheet_id,
            quote_sheet_title(title),
            params,
            body,
        )
        updated = (result or {}).get("updates", {}).get("updatedRange")
        return _range_start(str(updated))[0] if updated else 0


def _columns(rows: Sequence[Sequence[CellValue]]) -> list[ColumnValues]:
    """Rows as column-wise values from row 1 (short rows padded with empty cells)."""
    width = max((len(r) for r in rows), default=0)
    numbers = list(range(1, len(rows) + 1))
    return [
        ColumnValues(col, numbers, [r[col - 1] if col <= len(r) else "" for r in rows])
        for col in range(1, width + 1)
    ]


__all__ = [
    "ApiRootAdapter",
    "GoogleSheetsBackend",
    "RetryingHTTPClient",
    "SheetApiError",
    "SheetAuthError",
    "SheetPermissionDenied",
    "SheetRateLimited",
    "SheetUnavailable",
    "SpreadsheetNotFound",
]
