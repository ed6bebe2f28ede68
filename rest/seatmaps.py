"""REST encodings of the cached seat maps, joined from per-seat pieces made once: a seat's JSON
is split around its status, so a changed section is re-encoded by joining bytes."""

from __future__ import annotations

import asyncio
import hashlib
from collections.abc import Callable, Sequence
from typing import Any

import orjson
from fastapi import Request, Response

from ticketing.catalog.seatmaps import EventSeatMap, SectionLayout, SectionState
from ticketing.compression import GZIP_OFF_LOOP_BYTES, accepts_gzip, compress, compress_off_loop
from ticketing.domain import SeatStatus

_STATUS_OBJECT = {
    48 + int(status): orjson.dumps({"id": int(status), "name": status.label})
    for status in SeatStatus
}
SEAT_COLUMNS = ("seat_id", "row_id", "row", "number", "status", "price_set", "x", "y")


def _amount(option_amount: object) -> str:
    return f"{option_amount:.2f}"


def _list_parts(layout: SectionLayout) -> tuple[list[bytes], list[bytes]]:
    parts: tuple[list[bytes], list[bytes]] | None = layout.memo.get("rest_list")
    if parts is None:
        suffixes = [
            b',"price_options":'
            + orjson.dumps(
                [{"id": p.id, "name": p.name, "amount": _amount(p.amount)} for p in offer]
            )
            + b"}"
            for offer in layout.price_sets
        ]
        prefixes = [
            orjson.dumps(
                {
                    "section_id": layout.id,
                    "row_id": seat.row_id,
                    "seat_id": seat.seat_id,
                    "row": seat.row,
                    "number": seat.number,
                    "type": seat.type.value,
                    "x": seat.x,
                    "y": seat.y,
                }
            )[:-1]
            + b',"status":'
            for seat in layout.seats
        ]
        parts = layout.memo["rest_list"] = (prefixes, [suffixes[i] for i in layout.seat_price_sets])
    return parts


def section_seats_json(state: SectionState) -> bytes:
    """The seat list of one section (the `list[SeatOut]` shape)."""
    encoded: bytes | None = state.memo.get("rest_list")
    if encoded is None:
        prefixes, suffixes = _list_parts(state.layout)
        status = _STATUS_OBJECT
        encoded = state.memo["rest_list"] = (
            b"["
            + b",".join(
                [
                    p + status[c] + q
                    for p, c, q in zip(prefixes, state.statuses, suffixes, strict=True)
                ]
            )
            + b"]"
        )
    return encoded


def _map_parts(layout: SectionLayout) -> tuple[bytes, list[bytes], list[bytes]]:
    parts: tuple[bytes, list[bytes], list[bytes]] | None = layout.memo.get("rest_map")
    if parts is None:
        head = orjson.dumps(
            {
                "id": layout.id,
                "name": layout.name,
                "kind": layout.kind.value,
                "capacity": layout.capacity,
                "outline": layout.outline,
                "label": layout.label,
                "price_sets": [
                    [{"price_id": p.id, "amount": _amount(p.amount)} for p in offer]
                    for offer in layout.price_sets
                ],
            }
        )[:-1]
        seats = layout.seats
        prefixes = [
            orjson.dumps((seat.seat_id, seat.row_id, seat.row, seat.number))[:-1] + b","
            for seat in seats
        ]
        # the position follows the price set: the columns before it keep their places
        suffixes = [b"," + orjson.dumps((seat.price_set, seat.x, seat.y))[1:] for seat in seats]
        parts = layout.memo["rest_map"] = (head, prefixes, suffixes)
    return parts


def _map_section(state: SectionState) -> bytes:
    encoded: bytes | None = state.memo.get("rest_map")
    if encoded is None:
        head, prefixes, suffixes = _map_parts(state.layout)
        encoded = state.memo["rest_map"] = (
            head
            + b',"available_count":'
            + str(state.available_count).encode()
            + b',"seats":['
            + b",".join(
                [
                    p + bytes((c,)) + q
                    for p, c, q in zip(prefixes, state.statuses, suffixes, strict=True)
                ]
            )
            + b"]}"
        )
    return encoded


async def event_map_json(seat_map: EventSeatMap) -> bytes:
    """The whole map of an event (the `SeatMapOut` shape), assembled from per-section pieces.

    A section's pieces are cached; building them all for a large map not seen yet holds the
    CPU, so the loop serves other requests between sections."""
    parts = []
    for state in seat_map.sections:
        if "rest_map" not in state.memo:
            await asyncio.sleep(0)
        parts.append(_map_section(state))
    head = orjson.dumps(
        {
            "event_id": seat_map.event.id,
            "currency": seat_map.event.currency,
            "version": seat_map.version,
            "price_levels": [{"id": lv.id, "name": lv.name} for lv in seat_map.price_levels],
            "seat_columns": SEAT_COLUMNS,
            "focal_point": seat_map.focal_point,
        }
    )[:-1]
    return head + b',"sections":[' + b",".join(parts) + b"]}"


def section_etag(state: SectionState) -> str:
    return f'"s{state.layout.event_id}-{state.layout.id}-{state.stamp}"'


def map_etag(seat_map: EventSeatMap) -> str:
    digest = hashlib.sha256(seat_map.version.encode()).hexdigest()[:24]
    return f'"m{seat_map.event.id}-{digest}"'


def event_map_memo(seat_map: EventSeatMap) -> dict[str, Any]:
    """Where the map's encodings are kept until the next change (one version at a time)."""
    memo: dict[str, Any] = seat_map.memo.get("rest_map_memo", {})
    if memo.get("version") != seat_map.version:
        memo = seat_map.memo["rest_map_memo"] = {"version": seat_map.version}
    return memo


def _matches(if_none_match: str | None, etags: Sequence[str]) -> bool:
    if not if_none_match:
        return False
    candidates = {tag.strip().removeprefix("W/") for tag in if_none_match.split(",")}
    # weak comparison (RFC 9110 13.1.2): W/"x" matches "x"
    return "*" in candidates or any(etag in candidates for etag in etags)


async def gzip_ahead(request: Request, memo: dict[str, Any], body: bytes) -> None:
    """Compress a large body for `cached_json` off the event loop, once per version."""
    if (
        len(body) >= GZIP_OFF_LOOP_BYTES
        and "gzip" not in memo
        and accepts_gzip(request.headers.get("accept-encoding"))
    ):
        memo.setdefault("gzip", await compress_off_loop(body))


def cached_json(
    request: Request, etag: str, memo: dict[str, Any], encode: Callable[[], bytes]
) -> Response:
    """200 with the bytes (gzipped once per version when the client accepts it), or 304 when
    the client already holds this version. `memo` belongs to this version of this document."""
    gzip_etag = etag[:-1] + '-gz"'
    headers = {"ETag": etag, "Cache-Control": "no-cache", "Vary": "Accept-Encoding"}
    if _matches(request.headers.get("if-none-match"), (etag, gzip_etag)):
        if accepts_gzip(request.headers.get("accept-encoding")):
            headers["ETag"] = gzip_etag
        return Response(status_code=304, headers=headers)
    if accepts_gzip(request.headers.get("accept-encoding")):
        zipped: bytes | None = memo.get("gzip")
        if zipped is None:
            zipped = memo["gzip"] = compress(encode())
        headers["ETag"] = gzip_etag
        headers["Content-Encoding"] = "gzip"
        return Response(zipped, media_type="application/json", headers=headers)
    return Response(encode(), media_type="application/json", headers=headers)
