"""Fuzzing: schemathesis sends generated requests to both doors of a started server with demo
data, on each database, and checks every answer: no 5xx, no masked failure, nothing the
published documents do not promise (the exceptions, each with its reason: schemathesis.toml)."""

from __future__ import annotations

import copy
from collections import Counter, defaultdict
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
import pytest_asyncio
import schemathesis
from hypothesis import strategies as st
from schemathesis import Case, CheckContext, GenerationMode, Response
from schemathesis.graphql import nodes

from rest.app import create_app
from tests.conftest import DATABASES, FUZZ_CASES, Templates, fresh_database
from tests.server import run_cli, serving

pytestmark = pytest.mark.slow

ROOT = Path(__file__).resolve().parents[1]
CONFIG = schemathesis.Config.from_path(ROOT / "schemathesis.toml")
DOCUMENT = create_app().openapi()
OPENAPI = schemathesis.openapi.from_dict(copy.deepcopy(DOCUMENT), config=CONFIG)
GRAPHQL = schemathesis.graphql.from_path(ROOT / "schema.graphql", config=CONFIG)
# A whole run (every operation of a door, as one caller, on one database) generates at least this
# many cases; fewer means the configuration lost a phase or operations.
MINIMUM_CASES = 1000

CUSTOMER = "customer@example.com"
MANAGER = "manager@example.com"
PASSWORD = "correct horse battery"
SERVER_ENV = {
    # the fuzzer registers and signs in thousands of times from one address
    "TICKETING_AUTH__CLIENT_RATE_LIMIT": "1000000/minute",
    "TICKETING_AUTH__ACCOUNT_RATE_LIMIT": "1000000/hour",
    "TICKETING_AUTH__ARGON2_TIME_COST": "1",
    "TICKETING_AUTH__ARGON2_MEMORY_KIB": "256",
}

# GraphQL ids, uuids and numbers: half of them name what the demo data has (its venue, events,
# sections, seats and prices have small ids), could be a client's cart or are a sensible count
# (a page, places, seats), so that generated operations reach the services instead of stopping
# at NOT_FOUND or VALIDATION_ERROR.
schemathesis.graphql.scalar(
    "ID", st.one_of(st.integers(1, 12).map(str), st.text()).map(nodes.String)
)
schemathesis.graphql.scalar(
    "UUID", st.one_of(st.uuids(version=4), st.uuids()).map(str).map(nodes.String)
)
schemathesis.graphql.scalar(
    "Int", st.one_of(st.integers(0, 20), st.integers(-(2**31), 2**31 - 1)).map(nodes.Int)
)


class Target:
    """The started server, the accounts requests are sent as, and the cases of each run."""

    def __init__(self, base_url: str) -> None:
        self.base_url = base_url
        self.cases: defaultdict[str, Counter[str]] = defaultdict(Counter)
        self.tokens: dict[str, dict[str, str]] = {"anonymous": {}}

    def register(self, email: str) -> None:
        registered = httpx.post(
            f"{self.base_url}/auth/register", json={"email": email, "password": PASSWORD}
        )
        assert registered.status_code == 201, registered.text

    def sign_in(self, email: str) -> dict[str, str]:
        token = httpx.post(
            f"{self.base_url}/auth/token", data={"username": email, "password": PASSWORD}
        )
        assert token.status_code == 200, token.text
        return {"Authorization": f"Bearer {token.json()['access_token']}"}

    def headers(self, caller: str, *, signing_out: bool) -> dict[str, str]:
        if signing_out and caller != "anonymous":
            # signing out revokes the token it is sent with: it gets one of its own
            return self.sign_in(CUSTOMER if caller == "customer" else MANAGER)
        return self.tokens[caller]


@pytest_asyncio.fixture(scope="module", loop_scope="module", params=DATABASES)
async def fuzzed_database(
    request: pytest.FixtureRequest, templates: Templates, tmp_path_factory: pytest.TempPathFactory
) -> AsyncIterator[tuple[str, str]]:
    """One database per kind for all runs: their operations share it, as clients would."""
    kind: str = request.param
    async with fresh_database(kind, templates, tmp_path_factory.mktemp("fuzz")) as url:
        yield kind, url


@pytest.fixture(scope="module")
def target(
    request: pytest.FixtureRequest,
    fuzzed_database: tuple[str, str],
    tmp_path_factory: pytest.TempPathFactory,
) -> Iterator[Target]:
    kind, url = fuzzed_database
    log = tmp_path_factory.mktemp("fuzz-server") / "server.log"
    with serving(url, workers=1, demo=True, log=log, **SERVER_ENV) as base_url:
        # the document fuzzed is the one served
        assert httpx.get(f"{base_url}/openapi.json").json() == DOCUMENT
        served = Target(base_url)
        served.register(CUSTOMER)
        served.register(MANAGER)
        promoted = run_cli(url, "users", "promote", MANAGER)
        assert promoted.returncode == 0, promoted.stderr
        served.tokens["customer"] = served.sign_in(CUSTOMER)
        served.tokens["manager"] = served.sign_in(MANAGER)
        yield served
    _report(request, served, kind)
    said = log.read_text()
    assert "Traceback" not in said, said


def _report(request: pytest.FixtureRequest, served: Target, kind: str) -> None:
    """The number of cases of each run, in the terminal summary; a whole run has enough."""
    operations = {"openapi": OPENAPI, "graphql": GRAPHQL}
    for run, counted in sorted(served.cases.items()):
        total = sum(counted.values())
        line = f"{run}, {kind}: {total} cases over {len(counted)} operations"
        request.config.stash.setdefault(FUZZ_CASES, []).append(line)
        door = run.split(",")[0]
        if len(counted) == len(list(operations[door].get_all_operations())):
            assert total >= MINIMUM_CASES, (line, counted)


def json_body(response: Response) -> Any:
    try:
        return response.json()
    except ValueError:
        return None


# --- REST ---------------------------------------------------------------------------------

# VALIDATION_ERRORs about what a request means, which no schema can say: holding places in a
# section of designated seats (which sections are general admission is data, not form).
MEANING_NOT_FORM = {("/orders/carts/{cart_id}/general-admission", "section_id")}


def valid_requests_pass_validation(ctx: CheckContext, response: Response, case: Case) -> None:
    """A request the document allows is not refused as malformed: the document states every
    rule of form (refusals for what a request means, such as PRICE_NOT_OFFERED, have codes of
    their own)."""
    if case.meta is None or case.meta.generation.mode is not GenerationMode.POSITIVE:
        return
    body = json_body(response)
    if response.status_code != 422 or not isinstance(body, dict):
        return
    if body.get("code") == "VALIDATION_ERROR":
        fields = {(case.path, error["field"]) for error in body.get("errors") or []}
        assert fields, f"a documented request refused: {body}"
        assert fields <= MEANING_NOT_FORM, f"a documented request refused: {body}"


@OPENAPI.parametrize()
@pytest.mark.parametrize("caller", ["customer", "anonymous"])
def test_openapi(case: Case, target: Target, caller: str) -> None:
    target.cases[f"openapi, {caller}"][case.operation.label] += 1
    case.call_and_validate(
        base_url=target.base_url,
        headers=target.headers(caller, signing_out=case.path == "/auth/logout"),
        additional_checks=[valid_requests_pass_validation],
    )


# --- GraphQL ------------------------------------------------------------------------------


def no_server_error(ctx: CheckContext, response: Response, case: Case) -> None:
    """No 5xx and no masked failure: whatever was sent, the service knew what it meant."""
    assert response.status_code < 500, response.text
    for error in (json_body(response) or {}).get("errors") or []:
        assert error.get("message") != "Unexpected error.", error
        assert (error.get("extensions") or {}).get("code") != "INTERNAL_ERROR", error


def every_error_has_a_code(ctx: CheckContext, response: Response, case: Case) -> None:
    for error in (json_body(response) or {}).get("errors") or []:
        assert (error.get("extensions") or {}).get("code"), error


@GRAPHQL.parametrize()
def test_graphql(case: Case, target: Target) -> None:
    """As a manager: most mutations are managers', and the others are any customer's."""
    target.cases["graphql, manager"][case.operation.label] += 1
    case.call_and_validate(
        base_url=f"{target.base_url}/graphql",
        headers=target.headers("manager", signing_out=case.operation.label == "Mutation.signOut"),
        additional_checks=[no_server_error, every_error_has_a_code],
    )
