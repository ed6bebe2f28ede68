"""The README's manager-and-customer walk, run word for word against a real server."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

from tests.server import cli_env, serving

README = Path(__file__).resolve().parents[1] / "README.md"
CI_SCRIPT = README.parent / ".ci" / "run"


def walk_script() -> str:
    text = README.read_text(encoding="utf-8")
    section = text.split("### Walk: a manager builds an event, a customer buys a seat", 1)[1]
    match = re.search(r"```sh\n(.*?)```", section, re.DOTALL)
    assert match is not None, "the walk's shell block is missing from the README"
    return match.group(1)


def run_walk(env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        ["bash", "-euo", "pipefail", "-c", walk_script()],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


def quick_start_commands() -> list[str]:
    section = README.read_text(encoding="utf-8").split("## Quick start", 1)[1].split("\n## ", 1)[0]
    return [block.strip() for block in re.findall(r"```sh\n(.*?)```", section, re.DOTALL)]


def test_quick_start_makes_its_venv_and_ci_runs_its_test_command() -> None:
    serve, test = quick_start_commands()
    # system Python on Debian and Ubuntu refuses `pip install` outside a venv
    assert serve.startswith("python3 -m venv .venv && . .venv/bin/activate && pip install")
    assert test.startswith("python3 -m venv .venv && . .venv/bin/activate && pip install")
    assert CI_SCRIPT.read_text(encoding="utf-8").rstrip().splitlines()[-1] == test


@pytest.mark.slow
async def test_readme_walk_runs_as_written(database_url: str) -> None:
    with serving(database_url, workers=1) as base_url:
        env = cli_env(database_url, API=base_url)
        # the console script of this interpreter's environment, as after `pip install .`
        env["PATH"] = f"{Path(sys.executable).parent}{os.pathsep}{env.get('PATH', '')}"
        result = run_walk(env)
    assert result.returncode == 0, result.stdout + result.stderr
    lines = result.stdout.splitlines()
    # the draft was invisible, the ticket is the Child price, the cart is the fan's alone
    assert lines.count("404") == 2, lines
    assert "('Child', '20.00')" in lines
    assert '"priceLevelName": "Child", "sold": 1, "revenue": {"amount": "20.00"}' in lines[-1]
