"""Tickets at the door: the checkIn mutation (`TicketsMutation`)."""

from __future__ import annotations

import strawberry

from schema.tickets.check_in import check_in


@strawberry.type
class TicketsMutation:
    check_in = strawberry.mutation(
        resolver=check_in,
        description="Scanners and managers: check a scanned ticket in. The first scan of a "
        "valid ticket admits; a later one is ALREADY_CHECKED_IN (`checkedInAt` says when the "
        "first was); WRONG_EVENT, TICKET_VOID and FORGED_TICKET are refused.",
    )
