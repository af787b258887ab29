"""The two commands: `make run` installs what the bot needs and nothing more;
`make test` adds the development tools (read from make's own dry run)."""

from __future__ import annotations

import subprocess
from pathlib import Path

REPO = Path(__file__).parent.parent


def planned(target: str) -> list[str]:
    """The uv commands `make <target>` would run after uv.lock changed."""
    result = subprocess.run(  # noqa: S603
        ["make", "-n", "-W", "uv.lock", target],  # noqa: S607
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    )
    return [line for line in result.stdout.splitlines() if " sync " in line]


def test_make_run_installs_the_runtime_dependencies_only() -> None:
    [sync] = planned("run")
    assert "--locked" in sync and "--no-dev" in sync


def test_make_test_adds_the_development_group() -> None:
    [sync] = planned("test")
    assert "--locked" in sync and "--no-dev" not in sync
