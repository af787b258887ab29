"""What it takes to run the bot: install size, memory for charts and dashboard, CLI start.

    .venv/bin/python -m bench.footprint                 # this checkout
    .venv/bin/python -m bench.footprint --before HEAD   # and a git revision, side by side

Each source tree (this checkout; with --before, also `git archive REV` unpacked in a
temp folder) gets a virtual environment of runtime dependencies only, as `make run`
makes it (`uv sync --locked --no-dev`), and one with the development group too, as
`make test` makes it. Measured in the runtime one, each in fresh processes:

- install: disk use of each environment (every file counted, hard links too: uv links
  files from its cache, but a new machine has to download and unpack them all);
- charts: peak RSS of a process that loads the dashboard (`web.app`) and draws its
  four charts, against one that only loads it, and how long the drawing takes;
- dashboard: `campaignbot web` over bench.web's database (100,000 supporters; seeded
  once into bench/out), signed in, each participation page requested ten times: the
  server's peak RSS (VmHWM) and the pages' times (over HTTP, on this machine);
- start: wall and CPU time of `campaignbot --help`, a group's and a command's help,
  `--version` and light commands, median of --runs, the trees taking turns so that the
  machine's moods fall on both; and, for the floor, the help of a bare typer app of
  the same shape (the same commands, importing nothing else). Each twice: with the
  modules' bytecode compiled, as an installed bot has it (the Dockerfile installs
  with UV_COMPILE_BYTECODE=1; elsewhere Python writes it on the first run), and
  compiled from source at every start, as with PYTHONDONTWRITEBYTECODE=1 (set in some
  sandboxes and containers; `uv sync` compiles nothing by default).

It prints the figures as JSON and keeps them in bench/out/footprint.json (with
--start-only, only the start-up times, in bench/out/footprint-start.json).
"""

from __future__ import annotations

import argparse
import json
import os
import re
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx

from bench.web import OUT, PASSWORD, SECRET, machine, seeded
from web.server import listen

ROOT = Path(__file__).resolve().parents[1]
COMMANDS = (
    ["--help"],
    ["users", "--help"],
    ["schedule", "add", "--help"],
    ["--version"],
    ["campaigns", "list"],
    ["users", "list"],
    ["stats"],
)
# Where Python finds bytecode: "compiled" reads it from a cache a first run wrote (a
# folder of the bench's, so neither tree's own folders are written to); "source" has
# none for the project and its packages (the bench's environments are fresh) and
# writes none, so every start compiles them again. The standard library keeps its own.
MODES = ("compiled", "source")

# A typer app of the same shape as `campaignbot` (its commands, groups and top-level
# options), importing nothing else: how quickly typer and rich alone draw the help.
FLOOR = r"""
from typing import Annotated
import typer
app = typer.Typer(name="campaignbot", help="The supporter campaign bot: one ask a week on "
    "Telegram, Discord and the terminal.", no_args_is_help=True, pretty_exceptions_enable=False)
@app.callback()
def options(version: Annotated[bool, typer.Option("--version", is_eager=True,
        help="Show the version and exit.")] = False) -> None:
    "The supporter campaign bot."
def command(owner: typer.Typer, name: str) -> None:
    owner.command(name)(lambda: None)
    owner.registered_commands[-1].help = f"What {name} does, in a line of about this length."
for name in ("backup", "chat", "run", "preview", "status", "stats", "web"):
    command(app, name)
for name in ("campaigns", "schedule", "send", "sources", "users"):
    group = typer.Typer(help=f"The {name} commands, in a line of about this length.")
    app.add_typer(group, name=name)
    for sub in ("add", "list", "remove"):
        command(group, sub)
app()
"""
PAGES = ("/", "/participation", "/participation?platform=telegram&source=leaflet", "/sources")

# Run inside a tree's runtime environment: load the dashboard, maybe draw the four
# charts (with about the numbers the pages show), and report peak RSS and times.
CHART_PROBE = r"""
import json, re, sys, time
from datetime import date, timedelta
from pathlib import Path
def peak_kb():  # VmHWM: ru_maxrss would start from the parent's peak at the fork
    return int(re.search(r"VmHWM:\s+(\d+)", Path("/proc/self/status").read_text())[1])
import web.app
from web import charts
loaded = peak_kb()
year = [((date(2026, 1, 5) + timedelta(weeks=n)).isoformat(), 400 + 37 * n) for n in range(52)]
drawn = []
for _ in range(2 if sys.argv[1] == "draw" else 0):
    started = time.perf_counter()
    board = charts.Charts()
    board.draw(charts.trend(year[-12:]))
    board.draw(charts.funnel([("delivered", 2627622), ("link opened", 473000), ("done", 500000)]))
    board.draw(charts.weekly([(week, done, done // 3) for week, done in year]))
    board.draw(charts.shares([(f"source-{n}", n / 20) for n in range(13)]))
    drawn.append(time.perf_counter() - started)
print(json.dumps({"loaded_kb": loaded, "peak_kb": peak_kb(), "drawn_s": drawn}))
"""


def log(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


def uv() -> str:
    found = ROOT / ".tools" / "bin" / "uv"
    if found.exists():
        return str(found)
    on_path = shutil.which("uv")
    if on_path is None:
        raise SystemExit("uv not found: run `make sync` first (it installs .tools/bin/uv)")
    return on_path


@dataclass
class Tree:
    """A source tree and its two environments."""

    name: str
    path: Path
    runtime: Path
    full: Path

    def bin(self, name: str) -> str:
        return str(self.runtime / "bin" / name)


def prepare(name: str, source: Path, work: Path) -> Tree:
    tree = Tree(name, source, work / f"{name}-runtime", work / f"{name}-full")
    base = getattr(sys, "_base_executable", sys.executable)
    for venv, extra in ((tree.runtime, ["--no-dev"]), (tree.full, [])):
        log(f"  {name}: uv sync --locked {' '.join(extra)} into {venv}")
        env = {**os.environ, "UV_PROJECT_ENVIRONMENT": str(venv), "UV_PYTHON_DOWNLOADS": "never"}
        subprocess.run(  # noqa: S603
            [uv(), "sync", "--locked", "--quiet", *extra, "--python", base],
            cwd=source,
            env=env,
            check=True,
        )
    return tree


def unpack(revision: str, into: Path) -> Path:
    """`git archive` of a revision (no git state changes), unpacked."""
    into.mkdir()
    git = ["git", "archive", revision]
    archive = subprocess.run(git, cwd=ROOT, check=True, capture_output=True).stdout  # noqa: S603
    subprocess.run(["tar", "-x", "-C", str(into)], input=archive, check=True)  # noqa: S603, S607
    return into


# ---------------------------------------------------------------- install size


def disk_mb(path: Path) -> float:
    """Disk use of every file under `path`, hard-linked ones counted each time."""
    total = 0
    for folder, _, files in os.walk(path):
        for name in files:
            total += os.lstat(os.path.join(folder, name)).st_blocks * 512
    return round(total / 2**20, 1)


def install(tree: Tree) -> dict[str, Any]:
    site = next(tree.runtime.glob("lib/python*/site-packages"))
    packages = {entry.name: disk_mb(entry) for entry in site.iterdir() if entry.is_dir()}
    largest = sorted(packages.items(), key=lambda item: -item[1])[:5]
    return {
        "runtime_mb": disk_mb(tree.runtime),
        "full_mb": disk_mb(tree.full),
        "largest_runtime_packages_mb": dict(largest),
    }


# ---------------------------------------------------------------- charts


def charts(tree: Tree, rounds: int) -> dict[str, Any]:
    results: dict[str, list[dict[str, Any]]] = {"load": [], "draw": []}
    for _ in range(rounds):
        for mode in results:
            found = subprocess.run(  # noqa: S603
                [tree.bin("python"), "-c", CHART_PROBE, mode],
                cwd=tree.path,
                check=True,
                capture_output=True,
                text=True,
            )
            results[mode].append(json.loads(found.stdout))
    loaded = statistics.median(r["loaded_kb"] for r in results["load"]) / 1024
    drawn = statistics.median(r["peak_kb"] for r in results["draw"]) / 1024
    return {
        "dashboard_loaded_mb": round(loaded, 1),
        "after_four_charts_mb": round(drawn, 1),
        "charts_add_mb": round(drawn - loaded, 1),
        "first_four_ms": round(
            statistics.median(r["drawn_s"][0] for r in results["draw"]) * 1e3, 1
        ),
        "next_four_ms": round(statistics.median(r["drawn_s"][1] for r in results["draw"]) * 1e3, 1),
    }


# ---------------------------------------------------------------- dashboard


def environment(db: Path, port: int = 0) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("CAMPAIGNBOT_")}
    env.update(
        CAMPAIGNBOT_DB=str(db),
        CAMPAIGNBOT_SECRET_KEY=SECRET,
        CAMPAIGNBOT_LOG_LEVEL="WARNING",
    )
    if port:
        env["CAMPAIGNBOT_PUBLIC_BASE_URL"] = f"http://127.0.0.1:{port}"
    return env


def memory_mb(pid: int) -> dict[str, float]:
    status = Path(f"/proc/{pid}/status").read_text()
    found = {key: int(kb) / 1024 for key, kb in re.findall(r"(VmHWM|VmRSS):\s+(\d+) kB", status)}
    return {"peak_mb": round(found["VmHWM"], 1), "now_mb": round(found["VmRSS"], 1)}


def dashboard(tree: Tree, seeded_db: Path, work: Path, rounds: int) -> dict[str, Any]:
    db = work / f"{tree.name}-web.db"
    shutil.copyfile(seeded_db, db)  # a copy: a tree's own migrations stay out of the other's
    db.chmod(0o600)
    probe = listen("127.0.0.1", 0)
    port = probe.getsockname()[1]
    probe.close()
    server = subprocess.Popen(  # noqa: S603
        [tree.bin("campaignbot"), "web", "--port", str(port)],
        cwd=tree.path,
        env=environment(db, port),
    )
    base = f"http://127.0.0.1:{port}"
    try:
        with httpx.Client(base_url=base, timeout=60) as client:
            deadline = time.monotonic() + 60
            while True:
                try:
                    if client.get("/healthz").status_code == 200:
                        break
                except httpx.TransportError:
                    if time.monotonic() > deadline:
                        raise
                    time.sleep(0.1)
            started = memory_mb(server.pid)
            form = client.get("/sign-in")
            token = re.search(r'name="csrftoken" value="([^"]+)"', form.text)
            assert token is not None
            signed = client.post(
                "/sign-in",
                data={"name": "bench", "password": PASSWORD, "csrftoken": token.group(1)},
            )
            assert signed.status_code == 303, signed.status_code
            times: dict[str, list[float]] = {page: [] for page in PAGES}
            for _ in range(rounds):
                for page in PAGES:
                    begun = time.perf_counter()
                    response = client.get(page)
                    times[page].append(time.perf_counter() - begun)
                    assert response.status_code == 200, (page, response.status_code)
                    assert "data:image/svg+xml;base64," in response.text, page
            served = memory_mb(server.pid)
    finally:
        server.terminate()
        server.wait(30)
        for leftover in work.glob(db.name + "*"):
            leftover.unlink()
    return {
        "started_mb": started["now_mb"],
        "peak_mb": served["peak_mb"],
        # the first request of each page, then the median of the others
        "page_ms": {
            page: [round(values[0] * 1e3), round(statistics.median(values[1:]) * 1e3)]
            for page, values in times.items()
        },
    }


# ---------------------------------------------------------------- start


def timed(command: list[str], cwd: Path, env: dict[str, str]) -> tuple[float, float]:
    """Wall and CPU seconds of one run of a command."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    started = time.perf_counter()
    subprocess.run(command, cwd=cwd, env=env, check=True, stdout=subprocess.DEVNULL)  # noqa: S603
    wall = time.perf_counter() - started
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    return wall, cpu


def bytecode(env: dict[str, str], mode: str, cache: Path) -> dict[str, str]:
    """`env` with Python's bytecode as `mode` says (see MODES)."""
    env = {
        k: v for k, v in env.items() if k not in ("PYTHONDONTWRITEBYTECODE", "PYTHONPYCACHEPREFIX")
    }
    if mode == "compiled":
        return env | {"PYTHONPYCACHEPREFIX": str(cache)}
    return env | {"PYTHONDONTWRITEBYTECODE": "1"}


def start_times(trees: list[Tree], work: Path, runs: int) -> dict[str, dict[str, Any]]:
    envs = {}
    for tree in trees:
        db = work / f"{tree.name}-small.db"
        code = f"from db.store import open_database; open_database({str(db)!r}).close()"
        subprocess.run([tree.bin("python"), "-c", code], cwd=tree.path, check=True)  # noqa: S603
        envs[tree.name] = environment(db)
    floor = [trees[-1].bin("python"), "-c", FLOOR, "--help"]
    lines = [
        (tree, " ".join(args), [tree.bin("campaignbot"), *args])
        for tree in trees
        for args in COMMANDS
    ]
    lines.append((trees[-1], "floor: a bare typer app's --help", floor))
    for tree, line, command in list(lines):  # the first run writes the compiled mode's bytecode
        env = bytecode(envs[tree.name], "compiled", work / f"pyc-{tree.name}")
        if subprocess.run(command, cwd=tree.path, env=env, capture_output=True).returncode:  # noqa: S603
            log(f"  {tree.name}: `{line}` fails there; not timed")
            lines.remove((tree, line, command))
    samples: dict[tuple[str, str, str], list[tuple[float, float]]] = {}
    for _ in range(runs):
        for mode in MODES:
            for tree, line, command in lines:  # taking turns: all see the same moods
                env = bytecode(envs[tree.name], mode, work / f"pyc-{tree.name}")
                result = timed(command, tree.path, env)
                samples.setdefault((tree.name, mode, line), []).append(result)
    report: dict[str, dict[str, Any]] = {tree.name: {mode: {} for mode in MODES} for tree in trees}
    for (name, mode, line), values in samples.items():
        report[name][mode][line] = {
            "wall_s": round(statistics.median(wall for wall, _ in values), 3),
            "cpu_s": round(statistics.median(cpu for _, cpu in values), 3),
        }
    return report


# ---------------------------------------------------------------- report


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--before", metavar="REV", help="also measure this git revision")
    parser.add_argument("--runs", type=int, default=11, help="runs of each command (median)")
    parser.add_argument("--rounds", type=int, default=10, help="requests of each page")
    parser.add_argument(
        "--start-only",
        action="store_true",
        help="only the start-up times (no install size, charts or dashboard)",
    )
    args = parser.parse_args()
    OUT.mkdir(exist_ok=True)
    seeded_db = OUT / "web.db"
    if not args.start_only:
        seeded(seeded_db, fresh=False)
    with tempfile.TemporaryDirectory(prefix="footprint-") as folder:
        work = Path(folder)
        log("environments")
        trees = [prepare("after", ROOT, work)]
        if args.before:
            trees.insert(0, prepare("before", unpack(args.before, work / "before"), work))
        report: dict[str, Any] = {"machine": machine(), "before": args.before}
        for tree in trees:
            report[tree.name] = {}
            if args.start_only:
                continue
            log(f"{tree.name}: install size, charts, dashboard")
            report[tree.name] = {
                "install": install(tree),
                "charts": charts(tree, 3),
                "dashboard": dashboard(tree, seeded_db, work, args.rounds),
            }
            log(f"  {json.dumps(report[tree.name])}")
        log(f"start-up, {args.runs} runs of each command")
        for name, times in start_times(trees, work, args.runs).items():
            report[name]["start"] = times
    kept = OUT / ("footprint-start.json" if args.start_only else "footprint.json")
    kept.write_text(json.dumps(report, indent=2))
    print(json.dumps(report, indent=2))


if __name__ == "__main__":
    main()
