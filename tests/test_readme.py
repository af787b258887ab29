"""The README's tour is what the bot really prints, word for word."""

from __future__ import annotations

import re
import subprocess
from pathlib import Path

from tests.cli_run import BIN, base_env

README = Path(__file__).parent.parent / "README.md"
COMMAND = "$ printf '/start readme\\n2\\n' | .venv/bin/campaignbot chat"


def tour() -> str:
    """The block in the README that starts with the piped command."""
    found = re.search(re.escape(COMMAND) + r"\n(.*?)\n```", README.read_text(), re.DOTALL)
    assert found, f"the README's tour no longer starts with {COMMAND}"
    return found.group(1)


def test_the_readme_tour_matches_the_real_output(tmp_path: Path) -> None:
    env = base_env(tmp_path) | {"COLUMNS": "80"}
    result = subprocess.run(  # noqa: S603
        [str(BIN), "chat"],
        input="/start readme\n2\n",
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    )
    shown = "\n".join(line.rstrip() for line in result.stdout.rstrip("\n").splitlines())
    assert shown == tour()
