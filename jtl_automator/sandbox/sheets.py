"""Google Sheets API v4 emulator (values API plus the spreadsheet calls gspread makes), under ``/sheets``.

The real gspread library runs against it unchanged once its ``https://sheets.googleapis.com/`` URLs are
rewritten to ``http://host:port/sheets/``; google-auth obtains tokens from ``/sheets/token`` through the
``token_uri`` of a service-account file made by :func:`make_service_account_info`.

What is faithful, because pipelines trip over exactly these things on the real service:
A1 ranges (quoted sheet names, whole/open-ended columns and rows, sheet name alone), trailing empty
cells and rows trimmed from reads, RAW input stored as given ('00123' stays text) versus USER_ENTERED
parsing ('00123' becomes the number 123, returned as "123" by FORMATTED_VALUE and 123 by
UNFORMATTED_VALUE), grid limits, Google's error envelope, bearer-token auth, the two per-minute
request quotas (reads and writes counted apart) answered with 429 RESOURCE_EXHAUSTED, the 50,000-character
cell limit, and (strict) the 10 MiB request body limit.

Not modelled: formulas are stored as their text, cell formats (dates, currency, percent and thousands
separators stay strings under USER_ENTERED), named ranges, the Drive API (``client.open(title)``), and
the spreadsheet locale (numbers are formatted the en_US way).
"""

from __future__ import annotations

import copy
import json
import re
import secrets
import time
import uuid
from dataclasses import dataclass
from typing import Annotated, Any
from urllib.parse import parse_qs

import jwt
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from fastapi import APIRouter, Body, Request, Response
from fastapi.exceptions import RequestValidationError
from fastapi.routing import APIRoute

from jtl_automator.sandbox.data import JsonObject, Spreadsheet, Worksheet
from jtl_automator.sandbox.routing import RouteTable, bound_route_class
from jtl_automator.sandbox.state import RouteHandler, SandboxState, StateDep, bind

PREFIX = "/sheets"
JWT_BEARER = "urn:ietf:params:oauth:grant-type:jwt-bearer"
TOKEN_TTL_SECONDS = 3600
QUOTA_WINDOW_SECONDS = 60.0

# Legacy ``state.runtime[...]`` keys of ``state.runtime.sheets.requests`` and ``.clock`` (tests use them).
REQUESTS = "sheets_requests"  # Counter: endpoint name -> requests received (authenticated)
CLOCK = "sheets_clock"  # optional zero-argument callable returning seconds; drives the quota window

JsonBody = Annotated[Any, Body()]

# Public keys of the service accounts this process generated: tokens for them are signature-checked.
_KNOWN_KEYS: dict[str, bytes] = {}


# --------------------------------------------------------------------------------------------------
# Service accounts and tokens


def make_service_account_info(base_url: str, *, project_id: str = "jtl-automator-sandbox") -> JsonObject:
    """A service-account JSON (fresh RSA key) whose ``token_uri`` is this sandbox's token endpoint."""
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    private_pem = key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    ).decode()
    key_id = secrets.token_hex(20)
    _KNOWN_KEYS[key_id] = key.public_key().public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    client_email = f"sandbox-sheets@{project_id}.iam.gserviceaccount.com"
    return {
        "type": "service_account",
        "project_id": project_id,
        "private_key_id": key_id,
        "private_key": private_pem,
        "client_email": client_email,
        "client_id": str(uuid.uuid4().int)[:21],
        "auth_uri": "https://accounts.google.com/o/oauth2/auth",
        "token_uri": f"{base_url.rstrip('/')}{PREFIX}/token",
        "auth_provider_x509_cert_url": "https://www.googleapis.com/oauth2/v1/certs",
        "client_x509_cert_url": f"https://www.googleapis.com/robot/v1/metadata/x509/{client_email}",
        "universe_domain": "googleapis.com",
    }


def _oauth_error(error: str, description: str, status_code: int = 400) -> Response:
    body = {"error": error, "error_description": description}
    return Response(json.dumps(body), status_code=status_code, media_type="application/json")


def _check_assertion(assertion: str) -> JsonObject | str:
    """The JWT claims, or the reason Google's token endpoint would give for refusing it."""
    try:
        header = jwt.get_unverified_header(assertion)
        public_key = _KNOWN_KEYS.get(str(header.get("kid")))
        if public_key is not None:
            claims = jwt.decode(assertion, public_key, algorithms=["RS256"], options={"verify_aud": False})
        else:
            claims = jwt.decode(assertion, options={"verify_signature": False})
    except jwt.InvalidSignatureError:
        return "Invalid JWT Signature."
    except jwt.ExpiredSignatureError:
        return "Invalid JWT: Token must be a short-lived token (60 minutes) and in a reasonable timeframe."
    except jwt.PyJWTError:
        return "Invalid JWT: malformed assertion."
    missing = [claim for claim in ("iss", "aud", "iat", "exp") if claim not in claims]
    if missing:
        return f"Invalid JWT: missing claims {', '.join(missing)}."
    if not claims.get("scope") and not claims.get("target_audience"):
        return "Invalid OAuth scope or ID token audience provided."
    return dict(claims)


# --------------------------------------------------------------------------------------------------
# Errors and responses


class SheetsError(Exception):
    """An error answered in Google's envelope ``{"error": {"code", "message", "status"}}``."""

    def __init__(self, code: int, message: str, status: str) -> None:
        super().__init__(message)
        self.code = code
        self.message = message
        self.status = status

    def response(self) -> Response:
        """Google's JSON error body with the matching HTTP status."""
        return _json(
            {"error": {"code": self.code, "message": self.message, "status": self.status}}, self.code
        )


def _invalid(message: str) -> SheetsError:
    return SheetsError(400, message, "INVALID_ARGUMENT")


def _json(obj: Any, status_code: int = 200) -> Response:
    content = json.dumps(obj, separators=(",", ":"), ensure_ascii=False).encode()
    return Response(content=content, status_code=status_code, media_type="application/json; charset=UTF-8")


# --------------------------------------------------------------------------------------------------
# A1 notation


def column_letters(index: int) -> str:
    """0 -> A, 25 -> Z, 26 -> AA."""
    letters = ""
    index += 1
    while index:
        index, rem = divmod(index - 1, 26)
        letters = chr(65 + rem) + letters
    return letters


def _column_index(letters: str) -> int:
    value = 0
    for char in letters.upper():
        value = value * 26 + ord(char) - 64
    return value - 1


_REF = re.compile(r"^([A-Za-z]{0,3})([0-9]*)$")
_PLAIN_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")


def quote_sheet_name(title: str) -> str:
    """Sheet names the way Google echoes them: bare when simple, else single-quoted with '' escapes."""
    if _PLAIN_NAME.match(title) and not _is_a1(title):
        return title
    return "'" + title.replace("'", "''") + "'"


def _is_a1(text: str) -> bool:
    parts = text.split(":")
    if len(parts) > 2 or not all(parts):
        return False
    matches = [_REF.match(part) for part in parts]
    if not all(m and (m.group(1) or m.group(2)) for m in matches):
        return False
    return len(parts) == 2 or bool(matches[0] and matches[0].group(1) and matches[0].group(2))


@dataclass
class GridRange:
    """A parsed range: half-open row/column bounds, ``None`` meaning "to the end of the grid"."""

    sheet: Worksheet
    row0: int
    row1: int | None
    col0: int
    col1: int | None
    single_cell: bool

    def clipped(self) -> tuple[int, int, int, int]:
        """Bounds with open ends closed at the grid's size."""
        row1 = self.sheet.row_count if self.row1 is None else self.row1
        col1 = self.sheet.column_count if self.col1 is None else self.col1
        return self.row0, row1, self.col0, col1

    def a1(
        self,
        row0: int | None = None,
        row1: int | None = None,
        col0: int | None = None,
        col1: int | None = None,
    ) -> str:
        """``'Sheet name'!A1:C10`` for these bounds (defaults: the clipped range itself)."""
        r0, r1, c0, c1 = self.clipped()
        r0 = r0 if row0 is None else row0
        r1 = r1 if row1 is None else row1
        c0 = c0 if col0 is None else col0
        c1 = c1 if col1 is None else col1
        start = f"{column_letters(c0)}{r0 + 1}"
        end = f"{column_letters(max(c1 - 1, c0))}{max(r1, r0 + 1)}"
        cells = start if start == end else f"{start}:{end}"
        return f"{quote_sheet_name(self.sheet.title)}!{cells}"

    def exceeds_grid(self, last_row: int, last_col: int) -> SheetsError:
        """Google's message when a range reaches past the sheet's rows or columns."""
        name = quote_sheet_name(self.sheet.title)
        start = f"{column_letters(self.col0)}{self.row0 + 1}"
        return _invalid(
            f"Range ({name}!{start}:{column_letters(last_col)}{last_row + 1}) "
            f"exceeds grid limits. Max rows: {self.sheet.row_count}, max columns: {self.sheet.column_count}"
        )


def _find_sheet(spreadsheet: Spreadsheet, title: str) -> Worksheet | None:
    for sheet in spreadsheet.worksheets:
        if sheet.title == title:
            return sheet
    folded = title.casefold()
    return next((s for s in spreadsheet.worksheets if s.title.casefold() == folded), None)


def parse_range(spreadsheet: Spreadsheet, text: str) -> GridRange:
    """Parse an A1 range against a spreadsheet; unknown sheets or junk give Google's 400."""
    unable = _invalid(f"Unable to parse range: {text}")
    sheet: Worksheet | None
    cells: str
    if text.startswith("'"):
        index, name = 1, []
        while True:
            end = text.find("'", index)
            if end < 0:
                raise unable
            name.append(text[index:end])
            if text[end + 1 : end + 2] == "'":
                name.append("'")
                index = end + 2
                continue
            index = end + 1
            break
        title, rest = "".join(name), text[index:]
        if rest and not rest.startswith("!"):
            raise unable
        sheet, cells = _find_sheet(spreadsheet, title), rest[1:]
        if rest and not cells:
            raise unable
    elif "!" in text:
        title, _, cells = text.partition("!")
        sheet = _find_sheet(spreadsheet, title)
        if not cells:
            raise unable
    else:
        sheet = _find_sheet(spreadsheet, text)
        cells = ""
        if sheet is None and _is_a1(text):
            sheet, cells = (spreadsheet.worksheets[0] if spreadsheet.worksheets else None), text
    if sheet is None:
        raise unable
    if not cells:
        return GridRange(sheet, 0, None, 0, None, single_cell=False)
    if not _is_a1(cells):
        raise unable
    parts = [_REF.match(part) for part in cells.split(":")]
    refs = [(m.group(1), m.group(2)) for m in parts if m]
    if any(row == "0" or (row and int(row) == 0) for _, row in refs):
        raise unable
    (start_col, start_row), (end_col, end_row) = refs[0], refs[-1]
    col0 = _column_index(start_col) if start_col else 0
    row0 = int(start_row) - 1 if start_row else 0
    if len(refs) == 1:
        return GridRange(sheet, row0, row0 + 1, col0, col0 + 1, single_cell=True)
    col1 = _column_index(end_col) + 1 if end_col else None
    row1 = int(end_row) if end_row else None
    if col1 is not None and col1 <= col0:
        col0, col1 = col1 - 1, col0 + 1
    if row1 is not None and row1 <= row0:
        row0, row1 = row1 - 1, row0 + 1
    return GridRange(sheet, row0, row1, col0, col1, single_cell=False)


# --------------------------------------------------------------------------------------------------
# Cell values


_NUMBER = re.compile(r"^[+-]?(\d+\.?\d*|\.\d+)([eE][+-]?\d+)?$")
Cell = str | int | float | bool


def _is_empty(value: Any) -> bool:
    return value is None or value == ""


def parse_user_entered(value: Any) -> Cell:
    """What typing the value into the Sheets UI stores: numbers and booleans are recognised."""
    if not isinstance(value, str):
        return _normalise_input(value)
    if value.startswith("'"):
        return value[1:]
    stripped = value.strip()
    if _NUMBER.match(stripped):
        number = float(stripped)
        return int(number) if number.is_integer() and abs(number) < 1e15 else number
    if stripped.upper() in ("TRUE", "FALSE"):
        return stripped.upper() == "TRUE"
    return value


def _normalise_input(value: Any) -> Cell:
    if isinstance(value, bool | int | float | str):
        return value
    raise _invalid(f"Invalid values[0][0]: {json.dumps(value)}")


def format_number(value: int | float) -> str:
    """The 'automatic' number format: integers plain, up to 10 significant digits, E notation."""
    if isinstance(value, int) or (value.is_integer() and abs(value) < 1e15):
        return str(int(value))
    return f"{value:.10g}".replace("e", "E")


def render(value: Any, option: str) -> Any:
    """A stored cell as FORMATTED_VALUE (strings) or UNFORMATTED_VALUE/FORMULA (typed)."""
    if option == "FORMATTED_VALUE":
        if isinstance(value, bool):
            return "TRUE" if value else "FALSE"
        if isinstance(value, int | float):
            return format_number(value)
        return value
    if isinstance(value, float) and value.is_integer() and abs(value) < 1e15:
        return int(value)
    return value


def read_values(grid: GridRange, render_option: str, major: str) -> list[list[Any]]:
    """Cells of the range, trailing empty cells and rows trimmed as Google does."""
    r0, r1, c0, c1 = grid.clipped()
    rows: list[list[Any]] = []
    stored = grid.sheet.values
    for index in range(r0, min(r1, len(stored))):
        cells = stored[index][c0:c1]
        end = len(cells)
        while end and _is_empty(cells[end - 1]):
            end -= 1
        rows.append(["" if _is_empty(v) else render(v, render_option) for v in cells[:end]])
    while rows and not rows[-1]:
        rows.pop()
    if major == "COLUMNS" and rows:
        width = max(len(row) for row in rows)
        columns = [[row[c] if c < len(row) else "" for row in rows] for c in range(width)]
        for column in columns:
            while column and column[-1] == "":
                column.pop()
        rows = columns
        while rows and not rows[-1]:
            rows.pop()
    return rows


def _value_range(grid: GridRange, render_option: str, major: str) -> JsonObject:
    body: JsonObject = {"range": grid.a1(), "majorDimension": major}
    values = read_values(grid, render_option, major)
    if values:
        body["values"] = values
    return body


@dataclass
class _Write:
    """A validated write, applied only after every write of a request passed validation."""

    grid: GridRange
    row0: int
    col0: int
    rows: list[list[Any]]


def _prepare_write(grid: GridRange, values: Any, major: str, input_option: str, max_chars: int) -> _Write:
    if input_option not in ("RAW", "USER_ENTERED"):
        raise _invalid(f"Invalid value at 'value_input_option' ({input_option})")
    if not isinstance(values, list) or not all(isinstance(row, list) for row in values):
        raise _invalid("Invalid JSON payload received. 'values' must be a list of lists.")
    rows: list[list[Any]] = values
    if major == "COLUMNS":
        height = max((len(col) for col in rows), default=0)
        rows = [[col[r] if r < len(col) else None for col in rows] for r in range(height)]
    convert = parse_user_entered if input_option == "USER_ENTERED" else _normalise_input
    parsed = [[None if cell is None else convert(cell) for cell in row] for row in rows]
    if any(isinstance(cell, str) and len(cell) > max_chars for row in parsed for cell in row):
        raise _invalid(
            f"Your input contains more than the maximum of {max_chars} characters in a single cell."
        )
    height = len(parsed)
    width = max((len(row) for row in parsed), default=0)
    if not grid.single_cell:
        if grid.row1 is not None and height > grid.row1 - grid.row0:
            raise _invalid(
                f"Requested writing within range [{grid.a1()}], "
                f"but tried writing to row [{grid.row0 + height}]"
            )
        if grid.col1 is not None and width > grid.col1 - grid.col0:
            raise _invalid(
                f"Requested writing within range [{grid.a1()}], "
                f"but tried writing to column [{column_letters(grid.col0 + width - 1)}]"
            )
    return _Write(grid, grid.row0, grid.col0, parsed)


def _check_grid(write: _Write) -> None:
    height = len(write.rows)
    width = max((len(row) for row in write.rows), default=0)
    sheet = write.grid.sheet
    if height and (write.row0 + height > sheet.row_count or write.col0 + width > sheet.column_count):
        raise write.grid.exceeds_grid(write.row0 + height - 1, write.col0 + max(width, 1) - 1)


def _apply_write(write: _Write) -> JsonObject:
    stored = write.grid.sheet.values
    rows_touched = cols_touched = cells = 0
    touched_columns: set[int] = set()
    for offset, row in enumerate(write.rows):
        if all(cell is None for cell in row):
            continue
        index = write.row0 + offset
        while len(stored) <= index:
            stored.append([])
        target = stored[index]
        needed = write.col0 + len(row)
        if len(target) < needed:
            target.extend([""] * (needed - len(target)))
        for col_offset, cell in enumerate(row):
            if cell is not None:
                target[write.col0 + col_offset] = cell
                touched_columns.add(col_offset)
                cells += 1
        rows_touched += 1
    cols_touched = len(touched_columns)
    height = len(write.rows)
    width = max((len(row) for row in write.rows), default=0)
    response: JsonObject = {
        "updatedRange": write.grid.a1(
            write.row0, write.row0 + max(height, 1), write.col0, write.col0 + max(width, 1)
        )
    }
    if cells:
        response.update(updatedRows=rows_touched, updatedColumns=cols_touched, updatedCells=cells)
    return response


def _clear(grid: GridRange) -> None:
    r0, r1, c0, c1 = grid.clipped()
    stored = grid.sheet.values
    for index in range(r0, min(r1, len(stored))):
        row = stored[index]
        for col in range(c0, min(c1, len(row))):
            row[col] = ""


# --------------------------------------------------------------------------------------------------
# Router


def _clock(state: SandboxState) -> float:
    clock = state.runtime.sheets.clock
    return float(clock()) if clock is not None else time.monotonic()


def _authorised(state: SandboxState, request: Request) -> bool:
    scheme, _, token = request.headers.get("authorization", "").partition(" ")
    if scheme.lower() != "bearer":
        return False
    expiry = state.runtime.sheets.tokens.get(token.strip())
    return expiry is not None and expiry > time.time()


def _over_quota(state: SandboxState, request: Request) -> Response | None:
    """Count the request in its bucket's rolling 60 s window; past the bucket's limit answer 429.

    Reads and writes are counted apart, as Google counts them, and the 429 names the bucket.
    """
    now = _clock(state)
    kind = "read" if request.method in ("GET", "HEAD") else "write"
    with state.data.lock:
        sheets = state.runtime.sheets
        window = sheets.quota if kind == "read" else sheets.write_quota
        while window and window[0] <= now - state.config.scaled(QUOTA_WINDOW_SECONDS):
            window.popleft()
        if len(window) < state.config.sheets_quota(kind):
            window.append(now)
            return None
    name = kind.capitalize()
    message = (
        f"Quota exceeded for quota metric '{name} requests' and limit '{name} requests per minute per user' "
        "of service 'sheets.googleapis.com' for consumer 'project_number:000000000000'."
    )
    return SheetsError(429, message, "RESOURCE_EXHAUSTED").response()


async def _payload_too_large(state: SandboxState, request: Request) -> Response | None:
    """Google's 400 for a request body past its size limit (strict setting)."""
    limit = state.config.sheets_max_request_bytes
    if limit is None or request.method in ("GET", "HEAD"):
        return None
    if len(await request.body()) <= limit:
        return None
    return _invalid(f"Request payload size exceeds the limit: {limit} bytes.").response()


_UNAUTHENTICATED = SheetsError(
    401,
    "Request had invalid authentication credentials. Expected OAuth 2 access token, login cookie or other "
    "valid authentication credential. See https://developers.google.com/identity/sign-in/web/devconsole-project.",
    "UNAUTHENTICATED",
)


def _route_class(state: SandboxState) -> type[APIRoute]:
    """The route class of the v4 router: binds ``state``, then auth, quota and counting."""

    class SheetsRoute(APIRoute):
        """Auth, quota and the per-endpoint counter run before the handler; errors use Google's envelope."""

        def get_route_handler(self) -> RouteHandler:
            handler = super().get_route_handler()
            endpoint = self.name

            async def guarded(request: Request) -> Response:
                bind(request, state)
                if not _authorised(state, request):
                    return _UNAUTHENTICATED.response()
                with state.data.lock:
                    state.runtime.sheets.requests[endpoint] += 1
                refused = _over_quota(state, request) or await _payload_too_large(state, request)
                if refused is not None:
                    return refused
                try:
                    return await handler(request)
                except SheetsError as exc:
                    return exc.response()
                except RequestValidationError as exc:
                    first = exc.errors()[0] if exc.errors() else {}
                    return _invalid(
                        f"Invalid JSON payload received. {first.get('msg', '')}".strip()
                    ).response()

            return guarded

    return SheetsRoute


def build_router(state: SandboxState) -> APIRouter:
    """Token endpoint plus the Sheets v4 routes, bound to one sandbox state."""
    router = APIRouter(prefix=PREFIX, route_class=bound_route_class(state))
    token_routes.mount(router)
    v4 = APIRouter(route_class=_route_class(state))
    v4_routes.mount(v4)
    router.include_router(v4, prefix="/v4/spreadsheets")
    return router


token_routes = RouteTable()
v4_routes = RouteTable()


@token_routes.post("/token")
async def token(request: Request, state: StateDep) -> Response:
    """OAuth2 JWT-bearer grant as google-auth's service-account credentials perform it."""
    form = {k: v[0] for k, v in parse_qs((await request.body()).decode()).items()}
    if form.get("grant_type") != JWT_BEARER:
        return _oauth_error("unsupported_grant_type", "Invalid grant_type: " + form.get("grant_type", ""))
    claims = _check_assertion(form.get("assertion", ""))
    if isinstance(claims, str):
        return _oauth_error("invalid_grant", claims)
    access_token = "ya29.sandbox-" + secrets.token_urlsafe(32)
    with state.data.lock:
        state.runtime.sheets.tokens[access_token] = time.time() + TOKEN_TTL_SECONDS
    return _json({"access_token": access_token, "expires_in": TOKEN_TTL_SECONDS, "token_type": "Bearer"})


def _spreadsheet(state: SandboxState, spreadsheet_id: str) -> Spreadsheet:
    """The spreadsheet, or Google's 404 (callers hold the data lock)."""
    found: Spreadsheet | None = state.data.spreadsheets.get(spreadsheet_id)
    if found is None:
        raise SheetsError(404, "Requested entity was not found.", "NOT_FOUND")
    return found


def _read_options(request: Request) -> tuple[str, str]:
    """``valueRenderOption`` and ``majorDimension`` of a read, checked as Google checks them."""
    render_option = request.query_params.get("valueRenderOption") or "FORMATTED_VALUE"
    major = request.query_params.get("majorDimension") or "ROWS"
    if render_option not in ("FORMATTED_VALUE", "UNFORMATTED_VALUE", "FORMULA"):
        raise _invalid(f"Invalid value at 'value_render_option' ({render_option})")
    if major not in ("ROWS", "COLUMNS", "DIMENSION_UNSPECIFIED"):
        raise _invalid(f"Invalid value at 'major_dimension' ({major})")
    return render_option, "ROWS" if major == "DIMENSION_UNSPECIFIED" else major


def _input_option(raw: Any) -> str:
    """``valueInputOption`` is required for every write."""
    if not raw:
        raise _invalid("'valueInputOption' is required but not specified")
    return str(raw)


@v4_routes.get("/{spreadsheet_id}", name="spreadsheets.get")
def get_spreadsheet(spreadsheet_id: str, request: Request, state: StateDep) -> Response:
    """Metadata as gspread reads it; ``includeGridData`` adds formatted values, ``namedRanges`` is empty."""
    with state.data.lock:
        book = _spreadsheet(state, spreadsheet_id)
        body = _metadata(book)
        if request.query_params.get("includeGridData") == "true":
            for sheet, entry in zip(book.worksheets, body["sheets"], strict=True):
                rows = read_values(GridRange(sheet, 0, None, 0, None, False), "FORMATTED_VALUE", "ROWS")
                entry["data"] = [
                    {"rowData": [{"values": [{"formattedValue": v} for v in row]} for row in rows]}
                ]
        if request.query_params.get("fields") == "namedRanges":
            body = {}  # no named ranges are modelled; Google omits empty fields
    return _json(body)


@v4_routes.get("/{spreadsheet_id}/values:batchGet", name="values.batchGet")
def batch_get(spreadsheet_id: str, request: Request, state: StateDep) -> Response:
    """One ValueRange per ``ranges`` parameter, in the order asked."""
    render_option, major = _read_options(request)
    with state.data.lock:
        book = _spreadsheet(state, spreadsheet_id)
        ranges = request.query_params.getlist("ranges")
        value_ranges = [_value_range(parse_range(book, text), render_option, major) for text in ranges]
    return _json({"spreadsheetId": spreadsheet_id, "valueRanges": value_ranges})


@v4_routes.post("/{spreadsheet_id}/values:batchUpdate", name="values.batchUpdate")
def batch_update_values(spreadsheet_id: str, state: StateDep, payload: JsonBody = None) -> Response:
    """All writes are validated before any is applied; the totals are omitted when nothing changed."""
    body = payload if isinstance(payload, dict) else {}
    option = _input_option(body.get("valueInputOption"))
    with state.data.lock:
        book = _spreadsheet(state, spreadsheet_id)
        writes = []
        for entry in body.get("data") or []:
            grid = parse_range(book, str(entry.get("range", "")))
            major = entry.get("majorDimension") or "ROWS"
            limit = state.config.sheets_max_cell_chars
            writes.append(_prepare_write(grid, entry.get("values", []), major, option, limit))
        for write in writes:
            _check_grid(write)
        responses = [{"spreadsheetId": spreadsheet_id, **_apply_write(write)} for write in writes]
    updated_sheets = {
        id(write.grid.sheet) for write, resp in zip(writes, responses, strict=True) if "updatedCells" in resp
    }
    summary = {
        "spreadsheetId": spreadsheet_id,
        "totalUpdatedRows": sum(r.get("updatedRows", 0) for r in responses),
        "totalUpdatedColumns": sum(r.get("updatedColumns", 0) for r in responses),
        "totalUpdatedCells": sum(r.get("updatedCells", 0) for r in responses),
        "totalUpdatedSheets": len(updated_sheets),
        "responses": responses,
    }
    if not summary["totalUpdatedCells"]:
        summary = {"spreadsheetId": spreadsheet_id, "responses": responses}
    return _json(summary)


@v4_routes.post("/{spreadsheet_id}/values:batchClear", name="values.batchClear")
def batch_clear(spreadsheet_id: str, state: StateDep, payload: JsonBody = None) -> Response:
    """Clears the values (not the formats) of every range."""
    body = payload if isinstance(payload, dict) else {}
    with state.data.lock:
        book = _spreadsheet(state, spreadsheet_id)
        grids = [parse_range(book, str(text)) for text in body.get("ranges") or []]
        for grid in grids:
            _clear(grid)
    return _json({"spreadsheetId": spreadsheet_id, "clearedRanges": [grid.a1() for grid in grids]})


@v4_routes.post("/{spreadsheet_id}:batchUpdate", name="spreadsheets.batchUpdate")
def batch_update(spreadsheet_id: str, state: StateDep, payload: JsonBody = None) -> Response:
    """Structural requests, applied to a copy of the tabs so one bad request changes nothing."""
    body = payload if isinstance(payload, dict) else {}
    requests = body.get("requests")
    if not isinstance(requests, list) or not requests:
        raise _invalid("Must specify at least one request.")
    with state.data.lock:
        book = _spreadsheet(state, spreadsheet_id)
        sheets = copy.deepcopy(book.worksheets)
        replies = [_apply_request(sheets, request, index) for index, request in enumerate(requests)]
        book.worksheets = sheets
    return _json({"spreadsheetId": spreadsheet_id, "replies": replies})


@v4_routes.get("/{spreadsheet_id}/values/{range_text:path}", name="values.get")
def get_values(spreadsheet_id: str, range_text: str, request: Request, state: StateDep) -> Response:
    """One range; explicit bounds past the grid are a 400, open-ended ones are clipped."""
    render_option, major = _read_options(request)
    with state.data.lock:
        grid = parse_range(_spreadsheet(state, spreadsheet_id), range_text)
        _check_read_bounds(grid)
        return _json(_value_range(grid, render_option, major))


@v4_routes.put("/{spreadsheet_id}/values/{range_text:path}", name="values.update")
def update_values(
    spreadsheet_id: str, range_text: str, request: Request, state: StateDep, payload: JsonBody = None
) -> Response:
    """A body ``range`` must match the URL's; ``includeValuesInResponse`` echoes what was stored."""
    body = payload if isinstance(payload, dict) else {}
    option = _input_option(request.query_params.get("valueInputOption"))
    with state.data.lock:
        book = _spreadsheet(state, spreadsheet_id)
        grid = parse_range(book, range_text)
        if body.get("range") and parse_range(book, str(body["range"])).clipped() != grid.clipped():
            raise _invalid(
                f"Requested entity range [{body['range']}] does not match the range in the URL [{range_text}]"
            )
        major = body.get("majorDimension") or "ROWS"
        write = _prepare_write(
            grid, body.get("values", []), major, option, state.config.sheets_max_cell_chars
        )
        _check_grid(write)
        result: JsonObject = {"spreadsheetId": spreadsheet_id, **_apply_write(write)}
        if request.query_params.get("includeValuesInResponse") == "true":
            shown = parse_range(book, result["updatedRange"])
            render_option = request.query_params.get("responseValueRenderOption") or "FORMATTED_VALUE"
            result["updatedData"] = _value_range(shown, render_option, "ROWS")
    return _json(result)


@v4_routes.post("/{spreadsheet_id}/values/{range_text:path}:append", name="values.append")
def append_values(
    spreadsheet_id: str, range_text: str, request: Request, state: StateDep, payload: JsonBody = None
) -> Response:
    """Writes below the last row of the table found in the range, growing the grid as needed."""
    body = payload if isinstance(payload, dict) else {}
    option = _input_option(request.query_params.get("valueInputOption"))
    insert = request.query_params.get("insertDataOption") or "OVERWRITE"
    if insert not in ("OVERWRITE", "INSERT_ROWS"):
        raise _invalid(f"Invalid value at 'insert_data_option' ({insert})")
    with state.data.lock:
        grid = parse_range(_spreadsheet(state, spreadsheet_id), range_text)
        result = _append(spreadsheet_id, grid, body, option, insert, state.config.sheets_max_cell_chars)
    return _json(result)


@v4_routes.post("/{spreadsheet_id}/values/{range_text:path}:clear", name="values.clear")
def clear_values(spreadsheet_id: str, range_text: str, state: StateDep) -> Response:
    """Clears the values of one range."""
    with state.data.lock:
        grid = parse_range(_spreadsheet(state, spreadsheet_id), range_text)
        _clear(grid)
    return _json({"spreadsheetId": spreadsheet_id, "clearedRange": grid.a1()})


def _check_read_bounds(grid: GridRange) -> None:
    """Explicit bounds past the grid are an error on reads too; open-ended ranges are clipped."""
    sheet = grid.sheet
    last_row = (grid.row1 if grid.row1 is not None else grid.row0 + 1) - 1
    last_col = (grid.col1 if grid.col1 is not None else grid.col0 + 1) - 1
    if last_row >= sheet.row_count or last_col >= sheet.column_count:
        raise grid.exceeds_grid(last_row, last_col)


def _append(
    spreadsheet_id: str, grid: GridRange, body: JsonObject, option: str, insert: str, max_chars: int
) -> JsonObject:
    """values.append: find the table in the range, write below its last row, growing the grid."""
    sheet = grid.sheet
    r0, r1, c0, c1 = grid.clipped()
    last = -1
    for index in range(r0, min(r1, len(sheet.values))):
        if any(not _is_empty(cell) for cell in sheet.values[index][c0:c1]):
            last = index
    target = r0 if last < 0 else last + 1
    anchor = GridRange(sheet, target, None, c0, None, single_cell=True)
    major = body.get("majorDimension") or "ROWS"
    write = _prepare_write(anchor, body.get("values", []), major, option, max_chars)
    height = len(write.rows)
    width = max((len(row) for row in write.rows), default=0)
    if insert == "INSERT_ROWS" and target < len(sheet.values):
        sheet.values[target:target] = [[] for _ in range(height)]
        sheet.row_count += height
    sheet.row_count = max(sheet.row_count, target + height)
    sheet.column_count = max(sheet.column_count, c0 + width)
    result: JsonObject = {"spreadsheetId": spreadsheet_id}
    if last >= 0:
        used = max((len(row) for row in sheet.values[r0 : last + 1]), default=c0 + 1)
        result["tableRange"] = grid.a1(r0, last + 1, c0, max(used, c0 + 1))
    result["updates"] = {"spreadsheetId": spreadsheet_id, **_apply_write(write)}
    return result


def _metadata(book: Spreadsheet) -> JsonObject:
    return {
        "spreadsheetId": book.spreadsheet_id,
        "properties": {
            "title": book.title,
            "locale": "en_US",
            "autoRecalc": "ON_CHANGE",
            "timeZone": "Europe/Berlin",
        },
        "sheets": [
            {"properties": _sheet_properties(sheet, index)} for index, sheet in enumerate(book.worksheets)
        ],
        "spreadsheetUrl": f"https://docs.google.com/spreadsheets/d/{book.spreadsheet_id}/edit",
    }


def _sheet_properties(sheet: Worksheet, index: int) -> JsonObject:
    return {
        "sheetId": sheet.sheet_id,
        "title": sheet.title,
        "index": index,
        "sheetType": "GRID",
        "gridProperties": {"rowCount": sheet.row_count, "columnCount": sheet.column_count},
    }


# Requests that only change formatting, protection or layout: accepted, values unaffected.
_FORMAT_ONLY = frozenset(
    {
        "repeatCell",
        "updateCells",
        "updateBorders",
        "autoResizeDimensions",
        "updateDimensionProperties",
        "mergeCells",
        "unmergeCells",
        "setBasicFilter",
        "clearBasicFilter",
        "addProtectedRange",
        "deleteProtectedRange",
        "setDataValidation",
        "addConditionalFormatRule",
        "updateSpreadsheetProperties",
        "addNamedRange",
        "deleteNamedRange",
    }
)


def _sheet_by_id(sheets: list[Worksheet], sheet_id: Any, index: int) -> Worksheet:
    found = next((s for s in sheets if s.sheet_id == sheet_id), None)
    if found is None:
        raise _invalid(f"Invalid requests[{index}]: No grid with id: {sheet_id}")
    return found


def _apply_request(sheets: list[Worksheet], request: Any, index: int) -> JsonObject:
    """One spreadsheets.batchUpdate request applied to a working copy of the tabs."""
    if not isinstance(request, dict) or len(request) != 1:
        raise _invalid(f"Invalid requests[{index}]: exactly one request kind must be set.")
    kind, spec = next(iter(request.items()))
    if kind == "addSheet":
        props = spec.get("properties") or {}
        title = props.get("title") or f"Sheet{len(sheets) + 1}"
        if any(s.title.casefold() == title.casefold() for s in sheets):
            raise _invalid(
                f'Invalid requests[{index}].addSheet: A sheet with the name "{title}" already exists. '
                "Please enter another name."
            )
        sheet_id = props.get("sheetId")
        if sheet_id is None:
            sheet_id = max((s.sheet_id for s in sheets), default=0) + 1 + secrets.randbelow(10**8)
        elif any(s.sheet_id == sheet_id for s in sheets):
            raise _invalid(f"Invalid requests[{index}].addSheet: Sheet with id {sheet_id} already exists.")
        grid = props.get("gridProperties") or {}
        sheet = Worksheet(
            title=title,
            sheet_id=int(sheet_id),
            row_count=int(grid.get("rowCount", 1000)),
            column_count=int(grid.get("columnCount", 26)),
        )
        position = int(props.get("index", len(sheets)))
        sheets.insert(min(max(position, 0), len(sheets)), sheet)
        return {"addSheet": {"properties": _sheet_properties(sheet, sheets.index(sheet))}}
    if kind == "deleteSheet":
        sheet = _sheet_by_id(sheets, spec.get("sheetId"), index)
        if len(sheets) == 1:
            raise _invalid(
                f"Invalid requests[{index}].deleteSheet: You can't remove all the sheets in a document."
            )
        sheets.remove(sheet)
        return {}
    if kind == "updateSheetProperties":
        _update_sheet_properties(sheets, spec, index)
        return {}
    if kind in ("appendDimension", "insertDimension", "deleteDimension"):
        _change_dimension(sheets, kind, spec, index)
        return {}
    if kind in _FORMAT_ONLY:
        return {}
    raise _invalid(
        f"Invalid JSON payload received. Unknown name \"{kind}\" at 'requests[{index}]': Cannot find field."
    )


def _update_sheet_properties(sheets: list[Worksheet], spec: JsonObject, index: int) -> None:
    props = spec.get("properties") or {}
    sheet = _sheet_by_id(sheets, props.get("sheetId"), index)
    fields = [f.strip() for f in str(spec.get("fields", "")).split(",") if f.strip()]
    if not fields:
        raise _invalid(
            f"Invalid requests[{index}].updateSheetProperties: "
            "At least one field must be updated, but none were specified."
        )
    every = "*" in fields
    grid = props.get("gridProperties") or {}
    if every or "title" in fields:
        title = props.get("title", sheet.title)
        if any(s is not sheet and s.title.casefold() == str(title).casefold() for s in sheets):
            raise _invalid(
                f"Invalid requests[{index}].updateSheetProperties: "
                f'A sheet with the name "{title}" already exists. '
                "Please enter another name."
            )
        sheet.title = str(title)
    grid_fields = every or "gridProperties" in fields
    if (grid_fields or "gridProperties/rowCount" in fields) and "rowCount" in grid:
        sheet.row_count = int(grid["rowCount"])
        del sheet.values[sheet.row_count :]
    if (grid_fields or "gridProperties/columnCount" in fields) and "columnCount" in grid:
        sheet.column_count = int(grid["columnCount"])
        for row in sheet.values:
            del row[sheet.column_count :]
    if (every or "index" in fields) and "index" in props:
        sheets.remove(sheet)
        sheets.insert(min(max(int(props["index"]), 0), len(sheets)), sheet)


def _change_dimension(sheets: list[Worksheet], kind: str, spec: JsonObject, index: int) -> None:
    if kind == "appendDimension":
        sheet = _sheet_by_id(sheets, spec.get("sheetId"), index)
        length = int(spec.get("length", 0))
        if spec.get("dimension") == "COLUMNS":
            sheet.column_count += length
        else:
            sheet.row_count += length
        return
    span = spec.get("range") or {}
    sheet = _sheet_by_id(sheets, span.get("sheetId"), index)
    start, end = int(span.get("startIndex", 0)), int(span.get("endIndex", 0))
    count = max(end - start, 0)
    if span.get("dimension") == "COLUMNS":
        for row in sheet.values:
            if kind == "insertDimension":
                if len(row) > start:
                    row[start:start] = [""] * count
            else:
                del row[start:end]
        sheet.column_count += count if kind == "insertDimension" else -count
        return
    if kind == "insertDimension":
        if len(sheet.values) > start:
            sheet.values[start:start] = [[] for _ in range(count)]
        sheet.row_count += count
    else:
        del sheet.values[start:end]
        sheet.row_count -= count


# --------------------------------------------------------------------------------------------------
# Helpers for fixtures, the demo and tests


def new_spreadsheet(
    title: str, tabs: dict[str, list[list[Any]]], spreadsheet_id: str | None = None
) -> Spreadsheet:
    """A spreadsheet with the given tabs (title -> rows), sized like a new Google sheet or larger."""
    book_id = spreadsheet_id or secrets.token_urlsafe(33)[:44]
    worksheets = []
    for position, (tab, rows) in enumerate(tabs.items()):
        width = max((len(row) for row in rows), default=0)
        worksheets.append(
            Worksheet(
                title=tab,
                sheet_id=0 if position == 0 else 100000 + position,
                values=[list(row) for row in rows],
                row_count=max(1000, len(rows)),
                column_count=max(26, width),
            )
        )
    return Spreadsheet(spreadsheet_id=book_id, title=title, worksheets=worksheets)
