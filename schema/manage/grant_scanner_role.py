"""grantScannerRole: a manager lets an account check tickets in at the door."""

from __future__ import annotations

from typing import Annotated

import strawberry

from schema.common import Role, UserError, attempt
from schema.context import Info
from ticketing.accounts import accounts


@strawberry.input(description="The account to make a scanner.")
class GrantScannerRoleInput:
    email: str = strawberry.field(description="The account's email (any case).")


@strawberry.type(description="The account's new role, or why not.")
class GrantScannerRolePayload:
    # Not the User type: its carts and payments are for its owner's eyes only.
    email: str | None = strawberry.field(description="The account's email; null on error.")
    role: Role | None = strawberry.field(  # type: ignore[valid-type]
        description="SCANNER; null on error."
    )
    user_errors: list[UserError] = strawberry.field(description="Why not; empty on success.")


async def grant_scanner_role(
    info: Info,
    input: Annotated[GrantScannerRoleInput, strawberry.argument(description="The account.")],
) -> GrantScannerRolePayload:
    context = info.context

    async def run() -> GrantScannerRolePayload:
        user = await context.call(
            accounts.grant_scanner_role, caller=await context.viewer(), email=input.email
        )
        return GrantScannerRolePayload(email=user.email, role=user.role, user_errors=[])

    result, errors = await attempt(run())
    return result or GrantScannerRolePayload(email=None, role=None, user_errors=errors)
