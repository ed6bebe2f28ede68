"""Liveness that includes the database."""

from __future__ import annotations

from fastapi import APIRouter, Request

from rest.deps import service_call
from rest.problems import problem_responses
from rest.schemas import HealthOut
from ticketing.db import health as system
from ticketing.errors import ErrorCode

router = APIRouter(tags=["health"])


@router.get(
    "/health",
    summary="The service and its database answer",
    responses=problem_responses(ErrorCode.INTERNAL_ERROR),
)
async def health(request: Request) -> HealthOut:
    call = service_call(request)
    await system.database_answers(call.db)
    return HealthOut(status="ok", payments=call.payments.mode)
