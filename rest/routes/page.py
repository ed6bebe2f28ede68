"""The seat-map page at `/`: static files the build bundled from web/ (no rule lives here; the
page calls the GraphQL API like any client)."""

from __future__ import annotations

from importlib import resources
from pathlib import Path

from fastapi import APIRouter
from fastapi.responses import FileResponse

from ticketing.errors import ErrorCode, TicketingError

router = APIRouter(include_in_schema=False)

# The page runs only its own bundle and talks only to this origin (its API and WebSocket): an
# injected script or a frame of another site gets nothing to run or to draw over.
PAGE_HEADERS = {
    "content-security-policy": (
        "default-src 'self'; img-src 'self' data:; connect-src 'self'; style-src 'self'; "
        "frame-ancestors 'none'; base-uri 'none'; form-action 'none'"
    ),
    "x-content-type-options": "nosniff",
    "referrer-policy": "no-referrer",
}

ASSETS_PATH = "/app"
"""Where the page's script and styles are served (no REST route starts with it)."""


def page_assets() -> Path:
    """Where the build put the page (hatch_build.py bundles web/ into it)."""
    return Path(str(resources.files("rest") / "static" / "app"))


@router.get("/")
async def seat_map_page() -> FileResponse:
    index = page_assets() / "index.html"
    if not index.is_file():
        # an install built without npm: say so rather than serve nothing
        raise TicketingError(
            ErrorCode.NOT_FOUND,
            "The seat-map page is not in this install: it is built from web/ with npm when the "
            "package is built (pip install needs npm). The API works without it.",
        )
    # revalidated on every visit, so that an upgrade's page is seen at once
    return FileResponse(index, headers={"cache-control": "no-cache", **PAGE_HEADERS})
