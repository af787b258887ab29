"""The deployment kit in deploy/, checked as far as this machine can.

- The entry point (`deploy/entrypoint.sh`, the image's ENTRYPOINT and the unit's
  ExecStart) runs the bot against the fake Telegram: it answers, serves /healthz and
  stops on SIGTERM; a folder it can't write is one line.
- There is no Docker here, so the image is never built. Its build stage's `uv sync`
  commands run instead, into a folder laid out like the image, and the entry point
  and the HEALTHCHECK command run from there.
- systemd's own tools check the unit (`systemd-analyze verify` and `security`), and
  the bot runs under the seccomp rule of the unit's MemoryDenyWriteExecute.
- compose.yaml, the Caddyfiles and docs/deploy.md are read for what they promise:
  no tokens, Caddy trusted and nobody else, /metrics kept in, real settings and
  commands.
"""

from __future__ import annotations

import asyncio
import contextlib
import ctypes
import fnmatch
import ipaddress
import json
import os
import platform
import pwd
import re
import shlex
import shutil
import signal
import stat
import struct
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path, PurePosixPath
from typing import Any

import httpx
import pytest
import typer
import yaml  # type: ignore[import-untyped]

from cli import app
from cli.logs import Redactor
from db.store import open_database
from settings import CONFIG_ENV, Settings
from tests.cli_run import RunningBot, assert_one_clean_line, base_env, telegram_env
from tests.fakes.telegram import FakeTelegram
from tests.web_support import PASSWORDS, add_users, sign_in

REPO = Path(__file__).resolve().parents[1]
DEPLOY = REPO / "deploy"
ENTRYPOINT = DEPLOY / "entrypoint.sh"
ADMIN = DEPLOY / "campaignbot-admin"
UNIT = DEPLOY / "campaignbot.service"
DOCKERFILE = DEPLOY / "Dockerfile"
COMPOSE = DEPLOY / "compose.yaml"
ENV_EXAMPLE = DEPLOY / "env.example"
GUIDE = REPO / "docs" / "deploy.md"
# Modules of the development group that must not be in a runtime install.
DEV_ONLY = ("pytest", "mypy", "ruff", "playwright", "datasette", "importlinter")
SAM = 4101


# --- reading the kit's files --------------------------------------------------------


def unit() -> dict[str, list[tuple[str, str]]]:
    """The unit's sections, each a list of (key, value) in order (keys repeat)."""
    sections: dict[str, list[tuple[str, str]]] = {}
    current: list[tuple[str, str]] = []
    for raw in UNIT.read_text().splitlines():
        line = raw.strip()
        if not line or line.startswith(("#", ";")):
            continue
        if line.startswith("["):
            current = sections.setdefault(line.strip("[]"), [])
            continue
        key, _, value = line.partition("=")
        current.append((key.strip(), value.strip()))
    return sections


def service(key: str) -> list[str]:
    return [value for name, value in unit()["Service"] if name == key]


def assignments(words: list[str]) -> dict[str, str]:
    """`KEY=value` words as a dict."""
    pairs = (word.partition("=") for word in words)
    return {key: value for key, _, value in pairs}


def unit_environment() -> dict[str, str]:
    return assignments(service("Environment"))


@dataclass(frozen=True)
class Instruction:
    keyword: str
    arguments: str


def dockerfile() -> list[list[Instruction]]:
    """The Dockerfile's stages, each a list of instructions (continuations joined)."""
    lines: list[str] = []
    pending = ""
    for raw in DOCKERFILE.read_text().splitlines():
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        if line.endswith("\\"):
            pending += line[:-1] + " "
            continue
        lines.append(pending + line)
        pending = ""
    stages: list[list[Instruction]] = []
    for line in lines:
        keyword, _, arguments = line.partition(" ")
        instruction = Instruction(keyword.upper(), arguments.strip())
        if instruction.keyword == "FROM":
            stages.append([])
        stages[-1].append(instruction)
    return stages


def of(stage: list[Instruction], keyword: str) -> list[str]:
    return [i.arguments for i in stage if i.keyword == keyword]


def env_of(stage: list[Instruction]) -> dict[str, str]:
    found: dict[str, str] = {}
    for arguments in of(stage, "ENV"):
        found |= assignments(shlex.split(arguments))
    return found


def uv_syncs(stage: list[Instruction]) -> list[list[str]]:
    """The stage's `uv sync` commands as argument lists (RUN's own --mount flags out)."""
    commands = []
    for arguments in of(stage, "RUN"):
        words = [w for w in shlex.split(arguments) if not w.startswith("--mount=")]
        if words[:2] == ["uv", "sync"]:
            commands.append(words)
    return commands


def makefile_uv_version() -> str:
    found = re.search(r"^UV_VERSION\s*:?=\s*(\S+)", (REPO / "Makefile").read_text(), re.M)
    assert found, "the Makefile names no UV_VERSION"
    return found.group(1)


def compose() -> dict[str, object]:
    loaded = yaml.safe_load(COMPOSE.read_text())
    assert isinstance(loaded, dict)
    return loaded


def caddy_directives(name: str) -> list[str]:
    """A Caddyfile's lines without comments or blanks, whitespace squeezed."""
    lines = []
    for raw in (DEPLOY / name).read_text().splitlines():
        line = " ".join(raw.split("#", 1)[0].split())
        if line:
            lines.append(line)
    return lines


# --- running the entry point -------------------------------------------------------


class EntryPoint(RunningBot):
    """`deploy/entrypoint.sh` (or another script, such as the image's copy) in the
    background, with `prefix` in front (a launcher) and `cwd` as its folder."""

    def __init__(
        self,
        env: dict[str, str],
        log: Path,
        *,
        script: Path = ENTRYPOINT,
        cwd: Path | None = None,
        prefix: Sequence[str] = (),
    ) -> None:
        super().__init__(env, log)
        self.script = script
        self.cwd = cwd
        self.prefix = list(prefix)

    async def __aenter__(self) -> EntryPoint:
        with self.log.open("wb") as out:
            self.process = await asyncio.create_subprocess_exec(
                *self.prefix,
                str(self.script),
                env=self.env,
                cwd=self.cwd,
                stdin=asyncio.subprocess.DEVNULL,
                stdout=out,
                stderr=asyncio.subprocess.STDOUT,
                start_new_session=True,
            )
        return self

    async def __aexit__(self, *_: object) -> None:
        """Kill whatever is left of its process group: a bot the script failed to exec
        would otherwise outlive the test."""
        if self.process is not None:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(self.process.pid, signal.SIGKILL)
            await self.process.wait()

    def argv(self) -> list[str]:
        """The command line the process runs now (after any exec)."""
        return Path(f"/proc/{self.pid}/cmdline").read_bytes().decode().split("\0")[:-1]


def command(argv: Sequence[str], **options: Any) -> subprocess.CompletedProcess[str]:
    """Run a program to its end (ten minutes at most), its output captured as text."""
    return subprocess.run(  # noqa: S603
        list(argv), capture_output=True, text=True, timeout=600, check=False, **options
    )


async def run_script(
    script: Path, env: dict[str, str], prefix: Sequence[str] = (), *args: str
) -> tuple[int, str]:
    process = await asyncio.create_subprocess_exec(
        *prefix,
        str(script),
        *args,
        env=env,
        stdin=asyncio.subprocess.DEVNULL,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.STDOUT,
    )
    output, _ = await asyncio.wait_for(process.communicate(), 60)
    assert process.returncode is not None
    return process.returncode, output.decode()


async def answers_start(telegram: FakeTelegram, bot: RunningBot) -> None:
    """The bot is on Telegram and answers a supporter's /start."""
    await bot.wait_for_output("telegram: polling as @")
    telegram.private_chat(SAM, "Sam")
    telegram.user_sends(SAM, SAM, "/start readme")
    messages = await telegram.wait_for(lambda: telegram.sent_to(SAM), timeout=30)
    assert "subscribed" in str(messages[0]["text"]), messages


async def stops_on_sigterm(bot: RunningBot) -> None:
    """SIGTERM ends the bot itself (the shell exec'd it) within seconds, with status 0."""
    started = time.monotonic()
    assert await bot.stop(within=20) == 0, bot.output()
    assert time.monotonic() - started < 15, bot.output()  # the README promises five
    assert "Traceback" not in bot.output(), bot.output()


# --- the entry point ------------------------------------------------------------------


@pytest.mark.timeout(120)
async def test_the_entry_point_runs_the_bot_which_answers_and_stops_on_sigterm(
    tmp_path: Path,
) -> None:
    data = tmp_path / "state"  # not there yet: the entry point makes it, private
    async with FakeTelegram() as telegram:
        env = (
            base_env(tmp_path)
            | telegram_env(telegram)
            | {
                "CAMPAIGNBOT_DB": str(data / "campaignbot.db"),
                "CAMPAIGNBOT_BACKUP_DIR": str(data / "backups"),
            }
        )
        async with EntryPoint(env, tmp_path / "bot.log", cwd=tmp_path) as bot:
            await answers_start(telegram, bot)
            argv = bot.argv()  # the same process is the bot now: SIGTERM reaches it
            assert Path(argv[1]).name == "campaignbot" and argv[-1] == "run", argv
            assert await bot.healthz() == 200
            await stops_on_sigterm(bot)
    assert stat.S_IMODE(data.stat().st_mode) == 0o700
    assert stat.S_IMODE((data / "backups").stat().st_mode) == 0o700
    assert not list(data.glob(".campaignbot-write-check*"))


@contextlib.contextmanager
def shared_folder() -> Iterator[Path]:
    """A folder another user can reach (pytest's tmp_path is private to us)."""
    folder = Path(tempfile.mkdtemp(prefix="campaignbot-deploy-"))
    folder.chmod(0o755)
    try:
        yield folder
    finally:
        for path in (folder, *folder.rglob("*")):
            if path.is_dir() and not path.is_symlink():
                path.chmod(0o755)
        shutil.rmtree(folder)


def as_someone_else() -> tuple[list[str], int]:
    """How to run a command as a user who owns nothing here: root may write anywhere,
    so as root the entry point runs as nobody (setpriv, from util-linux)."""
    if os.geteuid() != 0:
        return [], os.geteuid()
    setpriv = shutil.which("setpriv")
    if setpriv is None:
        pytest.fail("setpriv is missing: install util-linux (apt-get install -y util-linux)")
    return [setpriv, "--reuid=65534", "--regid=65534", "--clear-groups"], 65534


@pytest.mark.parametrize("setting", ["CAMPAIGNBOT_DB", "CAMPAIGNBOT_BACKUP_DIR"])
@pytest.mark.parametrize("problem", ["not writable", "can't be made"])
async def test_the_entry_point_refuses_a_folder_it_cannot_write_in_one_line(
    setting: str, problem: str
) -> None:
    prefix, uid = as_someone_else()
    with shared_folder() as shared:
        good = shared / "data"
        good.mkdir(mode=0o700)
        os.chown(good, uid, -1)
        if problem == "not writable":
            bad = shared / "locked"
            bad.mkdir(mode=0o555)  # owned by us, not by the user the script runs as
        else:
            (shared / "a-file").write_text("not a folder")
            bad = shared / "a-file" / "data"
        folders = {"CAMPAIGNBOT_DB": good, "CAMPAIGNBOT_BACKUP_DIR": good / "backups"}
        folders[setting] = bad
        env = base_env(shared) | {
            "CAMPAIGNBOT_DB": str(folders["CAMPAIGNBOT_DB"] / "campaignbot.db"),
            "CAMPAIGNBOT_BACKUP_DIR": str(folders["CAMPAIGNBOT_BACKUP_DIR"]),
        }
        # A copy the other user can read: the checkout may sit in a private folder
        # (a CI clone in `mktemp -d`, mode 0700). It stops before it needs the bot.
        script = shared / "entrypoint.sh"
        shutil.copy2(ENTRYPOINT, script)
        script.chmod(0o755)
        code, output = await run_script(script, env, prefix)
        assert code == 2, output
        assert_one_clean_line(output, setting, str(bad))
        assert len(output.strip().splitlines()) == 1, output
        assert not (good / "campaignbot.db").exists()  # the bot never started


# --- the image, without Docker --------------------------------------------------------


def test_the_image_installs_the_lock_without_dev_tools_and_runs_unprivileged() -> None:
    stages = dockerfile()
    assert stages[0][0].arguments == f"ghcr.io/astral-sh/uv:{makefile_uv_version()} AS uv"
    build = next(s for s in stages if s[0].arguments.endswith(" AS build"))
    syncs = uv_syncs(build)
    assert syncs, "the build stage runs no uv sync"
    for command in syncs:
        assert "--locked" in command and "--no-dev" in command and "--no-editable" in command
    # uv rebuilds a local package only when pyproject.toml changes, unless told to
    assert "--reinstall-package campaignbot" in " ".join(syncs[-1])

    final = stages[-1]
    assert re.fullmatch(r"python:3\.1[12]-slim(-\w+)?", final[0].arguments), final[0]
    copies = of(final, "COPY")
    assert "--from=build /app/.venv /app/.venv" in copies
    assert not any("--from=uv" in c for c in copies), "uv stays out of the final image"
    user = of(final, "USER")[-1]
    assert user not in ("root", "0") and not user.startswith("0:")
    assert of(final, "VOLUME") in (["/data"], ['["/data"]'])
    assert str(8080) in of(final, "EXPOSE")
    env = env_of(final)
    assert env["CAMPAIGNBOT_DB"] == "/data/campaignbot.db"
    assert env["CAMPAIGNBOT_BACKUP_DIR"] == "/data/backups"
    assert env["CAMPAIGNBOT_WEB_HOST"] == "0.0.0.0"  # noqa: S104 - inside the container
    assert env["CAMPAIGNBOT_WEB_PORT"] == "8080"
    assert env["PATH"].startswith("/app/.venv/bin:")

    healthcheck = of(final, "HEALTHCHECK")[0]
    assert "curl" not in healthcheck and "wget" not in healthcheck  # slim has neither
    command = json.loads(healthcheck.split(" CMD ", 1)[1])
    assert command[:2] == ["python", "-c"] and "/healthz" in command[2]

    entrypoint = json.loads(of(final, "ENTRYPOINT")[0])
    assert entrypoint == ["/app/deploy/entrypoint.sh"]
    assert f"--chmod=0755 deploy/entrypoint.sh {entrypoint[0]}" in copies
    # the script finds the bot in ../.venv beside its own folder: the copied venv
    assert PurePosixPath(entrypoint[0]).parent.parent / ".venv" == PurePosixPath("/app/.venv")


def dockerignored(patterns: list[str]) -> Callable[[str, list[str]], set[str]]:
    """A `shutil.copytree` ignore function for .dockerignore's patterns (enough of them
    for ours: names and paths from the top, `**/` for any depth, `*` within a name)."""

    def ignore(folder: str, names: list[str]) -> set[str]:
        relative = Path(folder).relative_to(REPO)
        ignored = set()
        for name in names:
            path = str(relative / name) if str(relative) != "." else name
            for pattern in patterns:
                bare = pattern.removeprefix("**/")
                if fnmatch.fnmatchcase(path, pattern) or fnmatch.fnmatchcase(name, bare):
                    ignored.add(name)
        return ignored

    return ignore


def build_like_the_image(root: Path) -> tuple[Path, list[str], dict[str, str]]:
    """The build stage, here: its COPYs from the build context (the repository as
    .dockerignore leaves it) and its `uv sync` commands, in order, with /app/.venv made
    under `root`. Returns the context, the last uv command and its environment."""
    uv = REPO / ".tools" / "bin" / "uv"
    if not uv.exists():
        found = shutil.which("uv")
        if found is None:
            pytest.fail("uv is missing: `make sync` installs it into .tools/")
        uv = Path(found)
    patterns = [
        line.strip()
        for line in (REPO / ".dockerignore").read_text().splitlines()
        if line.strip() and not line.startswith("#")
    ]
    context = root / "src"  # WORKDIR /src
    context.mkdir()
    build = next(s for s in dockerfile() if s[0].arguments.endswith(" AS build"))
    env = {k: v for k, v in os.environ.items() if not k.startswith(("UV_", "VIRTUAL_ENV"))}
    env |= env_of(build) | {
        # the image's paths, moved under `root`; this machine's Python (3.11, as the image)
        "UV_PROJECT_ENVIRONMENT": str(root / "app" / ".venv"),
        "UV_PYTHON": sys.executable,
    }
    syncs = uv_syncs(build)
    last: list[str] = []
    for instruction in build:
        words = shlex.split(instruction.arguments)
        if instruction.keyword == "COPY" and not words[0].startswith("--from="):
            *sources, destination = words
            assert destination in (".", "./"), instruction
            for source in sources:
                if source == ".":
                    ignore = dockerignored(patterns)
                    shutil.copytree(REPO, context, ignore=ignore, dirs_exist_ok=True)
                else:
                    shutil.copy(REPO / source, context / source)
        elif instruction.keyword == "RUN" and "uv sync" in instruction.arguments:
            sync = syncs.pop(0)
            done = command([str(uv), *sync[1:]], cwd=context, env=env)
            assert done.returncode == 0, done.stderr
            last = [str(uv), *sync[1:]]
    return context, last, env


@pytest.mark.timeout(900)
async def test_the_images_build_steps_make_a_runtime_only_bot_that_the_image_runs(
    tmp_path: Path,
) -> None:
    context, last_sync, uv_env = await asyncio.to_thread(build_like_the_image, tmp_path)
    app_folder = tmp_path / "app"
    venv = app_folder / ".venv"
    python = str(venv / "bin" / "python")
    find = "import importlib.util as u, sys; print(*[m for m in sys.argv[1:] if u.find_spec(m)])"
    present = await asyncio.to_thread(command, [python, "-c", find, *DEV_ONLY])
    assert present.returncode == 0, present.stderr
    assert present.stdout.split() == [], "development tools in the runtime install"

    final = dockerfile()[-1]
    image_entrypoint = json.loads(of(final, "ENTRYPOINT")[0])[0]
    script = app_folder / PurePosixPath(image_entrypoint).relative_to("/app")
    script.parent.mkdir(parents=True)
    shutil.copy(ENTRYPOINT, script)
    script.chmod(0o755)  # COPY --chmod=0755
    data = tmp_path / "data"  # WORKDIR /data, made in the image
    data.mkdir(mode=0o700)
    image_env = {
        key: value.replace("/app/.venv", str(venv)).replace("/data", str(data))
        for key, value in env_of(final).items()
    }
    image_env["PATH"] = image_env["PATH"].replace("$PATH", os.environ["PATH"])
    healthcheck = json.loads(of(final, "HEALTHCHECK")[0].split(" CMD ", 1)[1])

    async with FakeTelegram() as telegram:
        env = (
            base_env(tmp_path)
            | image_env
            | telegram_env(telegram)
            # here, not on every address and a fixed port, as in the container
            | {"CAMPAIGNBOT_WEB_HOST": "127.0.0.1", "CAMPAIGNBOT_WEB_PORT": "0"}
        )
        async with EntryPoint(env, tmp_path / "bot.log", script=script, cwd=data) as bot:
            await answers_start(telegram, bot)
            # the venv beside the script's folder, as in the image: /app/.venv
            assert script.parent.parent / ".venv" == venv
            assert bot.argv()[1] == f"{script.parent}/../.venv/bin/campaignbot", bot.argv()
            port = (await bot.dashboard()).rsplit(":", 1)[1]
            check_env = env | {"CAMPAIGNBOT_WEB_PORT": port}
            check = await asyncio.to_thread(command, [python, *healthcheck[1:]], env=check_env)
            assert check.returncode == 0, check.stderr
            await stops_on_sigterm(bot)
        stopped = await asyncio.to_thread(command, [python, *healthcheck[1:]], env=check_env)
        assert stopped.returncode != 0  # nothing answers: unhealthy
    assert (data / "campaignbot.db").exists()

    # A rebuild after a change to the code only (pyproject.toml untouched) holds the change.
    marker = f"# rebuilt {time.time_ns()}"
    with (context / "cli" / "__init__.py").open("a") as source:
        source.write(f"\n{marker}\n")
    rebuilt = await asyncio.to_thread(command, last_sync, cwd=context, env=uv_env)
    assert rebuilt.returncode == 0, rebuilt.stderr
    installed = next(venv.glob("lib/python3*/site-packages/cli/__init__.py"))
    assert marker in installed.read_text(), "the rebuilt image would hold the old code"


# --- the systemd unit -----------------------------------------------------------------


def systemd_analyze() -> str:
    found = shutil.which("systemd-analyze")
    if found is None:
        pytest.fail(
            "systemd-analyze is missing: install Debian's systemd package "
            "(apt-get install -y systemd); `make test` should install it"
        )
    return found


def unit_root(root: Path) -> Path:
    """A file-system root for systemd-analyze --root: the system's own units, ours, and
    the script its ExecStart names, at that path."""
    system = next(p for p in (Path("/usr/lib/systemd/system"), Path("/lib/systemd/system")))
    shutil.copytree(system, root / "usr" / "lib" / "systemd" / "system", symlinks=True)
    ours = root / "etc" / "systemd" / "system" / UNIT.name
    ours.parent.mkdir(parents=True)
    shutil.copy(UNIT, ours)
    start = root / service("ExecStart")[0].lstrip("/")
    start.parent.mkdir(parents=True)
    shutil.copy(ENTRYPOINT, start)
    start.chmod(0o755)
    return Path("/etc/systemd/system") / UNIT.name


def test_systemd_verifies_the_unit_and_rates_it_well_protected(tmp_path: Path) -> None:
    analyze = systemd_analyze()
    inside = unit_root(tmp_path)
    root = f"--root={tmp_path}"
    verify = command([analyze, "verify", root, str(inside)])
    # An unknown key or a bad value is only a warning: any output at all fails here.
    assert (verify.returncode, verify.stdout + verify.stderr) == (0, ""), verify.stderr
    security = command([analyze, "security", "--offline=true", root, "--threshold=20", str(inside)])
    # --threshold is in tenths: 20 is an overall exposure of 2.0 ("OK" goes up to 3.9)
    overall = [line for line in security.stdout.splitlines() if "Overall exposure" in line]
    assert security.returncode == 0, overall or security.stderr


def test_the_unit_runs_the_entry_point_hardened_with_its_data_in_the_state_directory() -> None:
    assert service("ExecStart") == ["/opt/campaignbot/deploy/entrypoint.sh"]
    assert service("User") == ["campaignbot"] or service("DynamicUser") == ["yes"]
    assert service("StateDirectory") == ["campaignbot"]
    env = unit_environment()
    assert env["CAMPAIGNBOT_DB"] == "/var/lib/campaignbot/campaignbot.db"
    # ProtectSystem=strict: the state directory is the only place it may write
    assert env["CAMPAIGNBOT_BACKUP_DIR"].startswith("/var/lib/campaignbot/")
    assert service("EnvironmentFile") == ["/etc/campaignbot/env"]
    assert service("Restart") == ["on-failure"]
    assert service("TimeoutStopSec")
    hardening = {
        "ProtectSystem": "strict",
        "ProtectHome": "yes",
        "PrivateTmp": "yes",
        "NoNewPrivileges": "yes",
        "RestrictAddressFamilies": "AF_INET AF_INET6 AF_UNIX",
        "SystemCallFilter": "@system-service",
        "CapabilityBoundingSet": "",
        "LockPersonality": "yes",
        "MemoryDenyWriteExecute": "yes",
        "ProtectKernelTunables": "yes",
        "ProtectKernelModules": "yes",
        "ProtectKernelLogs": "yes",
        "ProtectControlGroups": "yes",
    }
    for key, value in hardening.items():
        assert service(key) == [value], key


# The rule systemd installs for MemoryDenyWriteExecute=yes (a seccomp filter): no
# mapping both writable and executable, and nothing made executable later.
PR_SET_NO_NEW_PRIVS, PR_SET_SECCOMP, SECCOMP_MODE_FILTER = 38, 22, 2
ALLOW, REFUSE = 0x7FFF0000, 0x00050000 | 1  # SECCOMP_RET_ERRNO | EPERM
LD, JEQ, AND, RET = 0x20, 0x15, 0x54, 0x06  # BPF: load word, jump if equal, and, return
PROT_WRITE, PROT_EXEC = 2, 4
# machine: (audit arch, mmap, mprotect, pkey_mprotect)
SYSCALLS = {"x86_64": (0xC000003E, 9, 10, 329), "aarch64": (0xC00000B7, 222, 226, 288)}


def exec_denying_write_execute() -> None:
    """Install that rule, then exec `sys.argv[1:]` under it (the rule is inherited)."""

    def op(code: int, k: int, jt: int = 0, jf: int = 0) -> bytes:
        return struct.pack("HBBI", code, jt, jf, k)

    arch, mmap, mprotect, pkey_mprotect = SYSCALLS[platform.machine()]
    program = b"".join(
        [
            op(LD, 4),  # seccomp_data.arch
            op(JEQ, arch, 1, 0),
            op(RET, ALLOW),
            op(LD, 0),  # .nr
            op(JEQ, mmap, 3, 0),
            op(JEQ, mprotect, 5, 0),
            op(JEQ, pkey_mprotect, 4, 0),
            op(RET, ALLOW),
            op(LD, 32),  # mmap: .args[2], the protection
            op(AND, PROT_WRITE | PROT_EXEC),
            op(JEQ, PROT_WRITE | PROT_EXEC, 3, 4),
            op(LD, 32),  # mprotect: .args[2]
            op(AND, PROT_EXEC),
            op(JEQ, PROT_EXEC, 0, 1),
            op(RET, REFUSE),
            op(RET, ALLOW),
        ]
    )

    class Program(ctypes.Structure):
        _fields_ = (("len", ctypes.c_ushort), ("filter", ctypes.c_char_p))

    libc = ctypes.CDLL(None, use_errno=True)
    filters = Program(len(program) // 8, program)
    if (
        libc.prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) != 0
        or libc.prctl(PR_SET_SECCOMP, SECCOMP_MODE_FILTER, ctypes.byref(filters), 0, 0) != 0
    ):
        sys.exit(f"can't install the seccomp filter: {os.strerror(ctypes.get_errno())}")
    env = dict(os.environ)
    env.pop("PYTHONPATH", None)
    os.execve(sys.argv[1], sys.argv[1:], env)  # noqa: S606


LAUNCH = [
    sys.executable,
    "-c",
    "from tests.test_deploy import exec_denying_write_execute; exec_denying_write_execute()",
]


@pytest.mark.timeout(180)
async def test_the_bot_works_under_the_units_memory_deny_write_execute(tmp_path: Path) -> None:
    assert service("MemoryDenyWriteExecute") == ["yes"]
    launch_env = {**os.environ, "PYTHONPATH": str(REPO)}
    # the rule holds: a mapping both writable and executable is refused
    wx = "import mmap; mmap.mmap(-1, 4096, prot=7)"  # read, write and execute
    refused = await asyncio.to_thread(command, [*LAUNCH, sys.executable, "-c", wx], env=launch_env)
    assert refused.returncode != 0 and "Operation not permitted" in refused.stderr
    data = tmp_path / "state"
    db = open_database(data / "campaignbot.db")
    add_users(db, ("olive",))
    db.close()
    async with FakeTelegram() as telegram:
        env = base_env(tmp_path) | telegram_env(telegram)
        env |= {"CAMPAIGNBOT_DB": str(data / "campaignbot.db"), "PYTHONPATH": str(REPO)}
        async with EntryPoint(env, tmp_path / "bot.log", prefix=LAUNCH) as bot:
            await answers_start(telegram, bot)
            base = await bot.dashboard()
            async with httpx.AsyncClient(base_url=base, timeout=30) as http:
                await sign_in(http, "olive", PASSWORDS["olive"])  # argon2
                for page in ("/", "/participation", "/sources"):  # the charts
                    response = await http.get(page)
                    assert response.status_code == 200, (page, bot.output())
            assert bot.running and await bot.healthz() == 200, bot.output()
            await stops_on_sigterm(bot)


@pytest.mark.timeout(120)
async def test_the_admin_command_runs_campaignbot_with_the_services_settings(
    tmp_path: Path,
) -> None:
    if os.geteuid() != 0:
        pytest.fail("campaignbot-admin runs as root (under sudo): run this test as root")
    # As the service's user, here the one running the tests: the venv's interpreter may
    # live where no other user can reach it.
    user = pwd.getpwuid(os.geteuid()).pw_name
    state = tmp_path / "state"  # systemd's StateDirectory
    state.mkdir(mode=0o700)
    env_file = tmp_path / "env"
    env_file.write_text(f"# as /etc/campaignbot/env\nCAMPAIGNBOT_SECRET_KEY={'k' * 40}\n")
    env_file.chmod(0o600)
    env = {k: v for k, v in base_env(tmp_path).items() if not k.startswith("CAMPAIGNBOT_")}
    env |= {
        "CAMPAIGNBOT_ADMIN_USER": user,
        "CAMPAIGNBOT_ADMIN_ENV_FILE": str(env_file),
        "CAMPAIGNBOT_ADMIN_STATE": str(state),
    }
    process = await asyncio.create_subprocess_exec(
        str(ADMIN),
        *("users", "add", "olive", "--role", "organiser"),
        env=env,
        stdin=asyncio.subprocess.PIPE,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.STDOUT,
    )
    output, _ = await asyncio.wait_for(process.communicate(b"olive-organiser-pass\n"), 60)
    assert process.returncode == 0, output.decode()
    assert (state / "campaignbot.db").exists()  # the unit's CAMPAIGNBOT_DB
    code, listed = await run_script(ADMIN, env, (), "users", "list")
    assert code == 0 and "olive" in listed, listed

    # the settings file is read: a bad setting in it is the bot's one line
    env_file.write_text("CAMPAIGNBOT_LOG_LEVEL=LOUD\n")
    code, output_text = await run_script(ADMIN, env, (), "users", "list")
    assert code == 2, output_text
    assert_one_clean_line(output_text, "CAMPAIGNBOT_LOG_LEVEL")
    # no settings file: one line, nothing run
    missing = tmp_path / "none"
    code, output_text = await run_script(
        ADMIN, env | {"CAMPAIGNBOT_ADMIN_ENV_FILE": str(missing)}, (), "status"
    )
    assert code == 2, output_text
    assert_one_clean_line(output_text, str(missing))


# --- compose and Caddy ----------------------------------------------------------------


def test_compose_keeps_the_tokens_in_the_env_file_and_trusts_only_caddy() -> None:
    spec = compose()
    services = spec["services"]
    assert isinstance(services, dict) and set(services) == {"campaignbot", "caddy"}
    bot, caddy = services["campaignbot"], services["caddy"]
    assert (COMPOSE.parent / bot["build"]["context"] / bot["build"]["dockerfile"]).resolve() == (
        DOCKERFILE
    )
    assert bot["env_file"] == ".env"
    assert bot["restart"] in ("unless-stopped", "always", "on-failure")
    assert bot["init"] is True  # a SIGTERM during start-up is passed on, not lost
    volume = next(v for v in bot["volumes"] if v.endswith(":/data"))
    assert volume.split(":")[0] in spec["volumes"]  # type: ignore[operator]
    assert "ports" not in bot  # reached through Caddy only

    assert "env_file" not in caddy  # Caddy never sees the tokens
    assert set(caddy["environment"]) == {"CAMPAIGNBOT_PUBLIC_BASE_URL"}
    assert {"80:80", "443:443"} <= set(caddy["ports"])
    assert "./Caddyfile:/etc/caddy/Caddyfile:ro" in caddy["volumes"]

    # X-Forwarded-For is believed from Caddy's fixed address, and from nobody else's
    caddy_address = caddy["networks"]["campaignbot"]["ipv4_address"]
    subnet = spec["networks"]["campaignbot"]["ipam"]["config"][0]["subnet"]  # type: ignore[index]
    assert ipaddress.ip_address(caddy_address) in ipaddress.ip_network(subnet)
    trusted = bot["environment"]["CAMPAIGNBOT_TRUSTED_PROXIES"]
    assert trusted == caddy_address
    assert Settings(trusted_proxies=trusted).trusted_proxies == [caddy_address]

    text = COMPOSE.read_text()
    assert Redactor()(text) == text, "something shaped like a token in compose.yaml"
    for service_ in services.values():
        for name in service_.get("environment", {}):
            assert not re.search("TOKEN|SECRET", name), name


@pytest.mark.parametrize("name", ["Caddyfile", "Caddyfile.host"])
def test_caddy_passes_everything_but_metrics_to_the_bot_and_adds_no_headers(name: str) -> None:
    lines = caddy_directives(name)
    if name == "Caddyfile":  # compose: the bot's service, on the image's port
        upstream = f"campaignbot:{env_of(dockerfile()[-1])['CAMPAIGNBOT_WEB_PORT']}"
        assert lines[0] == "{$CAMPAIGNBOT_PUBLIC_BASE_URL} {"
    else:  # the host: where the unit has the bot listen, which trusted_proxies trusts
        env = unit_environment()
        upstream = f"{env['CAMPAIGNBOT_WEB_HOST']}:{env['CAMPAIGNBOT_WEB_PORT']}"
        trusted = Settings.model_fields["trusted_proxies"].get_default(call_default_factory=True)
        assert env["CAMPAIGNBOT_WEB_HOST"] in trusted
    proxy = f"reverse_proxy {upstream}"
    assert lines.count(proxy) == 1 and lines[-1] == "}", lines
    matcher = next(line for line in lines if line.startswith("@") and " path " in line)
    label, _, paths = matcher.partition(" path ")
    assert set(paths.split()) == {"/metrics", "/metrics/*"}
    refusal = f"respond {label} 404"
    assert lines.index(refusal) < lines.index(proxy)
    # security headers come from the bot; nothing else is rewritten on the way
    assert not [line for line in lines if line.split()[0] in ("header", "header_up", "uri")]


# --- the settings and commands the kit names ------------------------------------------


def setting_names() -> set[str]:
    """Every environment variable a setting has, and CAMPAIGNBOT_CONFIG."""
    names = {CONFIG_ENV}
    for field, info in Settings.model_fields.items():
        alias = info.validation_alias
        choices = getattr(alias, "choices", None)
        names.add(str(choices[0]) if choices else f"CAMPAIGNBOT_{field.upper()}")
    return names


def test_every_setting_the_kit_names_exists_and_the_example_holds_no_token() -> None:
    known = setting_names()
    files = [*DEPLOY.iterdir(), GUIDE]
    for path in files:
        for name in re.findall(r"\b(?:CAMPAIGNBOT|TELEGRAM|DISCORD)_[A-Z_]+\b", path.read_text()):
            if name.startswith("CAMPAIGNBOT_ADMIN_"):  # campaignbot-admin's own
                continue
            assert name in known, f"{path.name} names {name}, which is no setting"
    for line in ENV_EXAMPLE.read_text().splitlines():
        found = re.fullmatch(r"#?\s*([A-Z_]+)=(.*)", line.strip())
        if found and re.search("TOKEN|SECRET", found.group(1)):
            assert found.group(2) == "" and line.startswith("#"), line


def guide_commands() -> list[list[str]]:
    """Each `campaignbot ...` command in docs/deploy.md: in code blocks and inline code,
    after `sudo`, after the compose service's name, or as a path ending in bin/campaignbot."""
    text = GUIDE.read_text()
    snippets = re.findall(r"```sh\n(.*?)```", text, re.S)
    snippets += re.findall(r"`([^`\n]+)`", re.sub(r"```.*?```", "", text, flags=re.S))
    commands = []
    for snippet in snippets:
        for line in snippet.replace("\\\n", " ").splitlines():
            try:
                words = shlex.split(line, comments=True)
            except ValueError:
                continue
            for at, word in enumerate(words):
                before = words[at - 1] if at else ""
                invoked = word == "campaignbot" and before in ("", "sudo", "campaignbot")
                if invoked or word.endswith("bin/campaignbot"):
                    rest = []
                    for arg in words[at + 1 :]:
                        if arg in ("|", "&&", ";", ">", "||"):
                            break
                        rest.append(arg)
                    if rest:
                        commands.append(rest)
    return commands


def test_every_campaignbot_command_in_the_guide_exists() -> None:
    commands = guide_commands()
    assert len(commands) >= 8, commands
    root = typer.main.get_command(app)
    for args in commands:
        command = root
        subcommands = 0
        for arg in args:
            if arg.startswith("--"):
                option = arg.split("=", 1)[0]
                names = {n for p in command.params for n in (*p.opts, *p.secondary_opts)}
                assert option in names, f"{' '.join(args)}: no {option}"
            elif isinstance(command, typer.core.TyperGroup):
                found = command.commands.get(arg)
                assert found is not None, f"campaignbot {' '.join(args)}: no command {arg!r}"
                command = found
                subcommands += 1
        assert subcommands, args
        incomplete = f"campaignbot {' '.join(args)}: a group, not a command"
        assert not isinstance(command, typer.core.TyperGroup), incomplete
