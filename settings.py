"""Configuration: environment variables, then an optional `campaignbot.toml`, then defaults.

Tokens and the secret are `SecretStr`, so they never show up in a log line or
a traceback. A bad setting fails at start with a message that names it.
"""

from __future__ import annotations

import contextlib
import ipaddress
import os
import secrets
import tomllib
from pathlib import Path
from typing import Annotated, Any, Literal

from pydantic import (
    AliasChoices,
    Field,
    SecretStr,
    ValidationError,
    field_validator,
    model_validator,
)
from pydantic_settings import (
    BaseSettings,
    NoDecode,
    PydanticBaseSettingsSource,
    SettingsConfigDict,
    TomlConfigSettingsSource,
)

from campaigns.model import CHAT
from campaigns.packs import BUNDLED_PACKS, iana_zone

CONFIG_ENV = "CAMPAIGNBOT_CONFIG"
DEFAULT_CONFIG = Path("campaignbot.toml")


def _alias(env: str, name: str) -> Any:
    return AliasChoices(env, name)


class Settings(BaseSettings):
    """Every setting, with the environment variable that sets it."""

    model_config = SettingsConfigDict(
        env_prefix="CAMPAIGNBOT_", extra="forbid", populate_by_name=True, frozen=True
    )

    db: Path = Field(Path("data/campaignbot.db"), description="SQLite file (CAMPAIGNBOT_DB).")
    packs: Path = Field(BUNDLED_PACKS, description="Folder of campaign packs (CAMPAIGNBOT_PACKS).")
    default_campaign: str | None = Field(
        None, description="Campaign that /ask talks about (CAMPAIGNBOT_DEFAULT_CAMPAIGN)."
    )
    timezone: str = Field(
        "Europe/London", description="Time zone for times you type (CAMPAIGNBOT_TIMEZONE)."
    )
    organisers: Annotated[list[str], NoDecode] = Field(
        default_factory=list,
        description="Organiser ids like telegram:12345, comma-separated (CAMPAIGNBOT_ORGANISERS).",
    )
    secret_key: SecretStr | None = Field(
        None, description="Signs button ids and links (CAMPAIGNBOT_SECRET_KEY); made if unset."
    )
    log_level: str = Field("INFO", description="Logging level (CAMPAIGNBOT_LOG_LEVEL).")
    log_format: Literal["plain", "json"] = Field(
        "plain",
        description="Log lines as plain text or one JSON object each (CAMPAIGNBOT_LOG_FORMAT).",
    )
    backup_dir: Path | None = Field(
        None,
        description="Folder for the daily backup that `run` makes; none if unset "
        "(CAMPAIGNBOT_BACKUP_DIR).",
    )
    backup_keep: int = Field(
        14, ge=1, le=3650, description="Backups kept in backup_dir (CAMPAIGNBOT_BACKUP_KEEP)."
    )
    web_host: str = Field("127.0.0.1", description="Dashboard address (CAMPAIGNBOT_WEB_HOST).")
    web_port: int = Field(
        8080, ge=0, le=65535, description="Dashboard port (CAMPAIGNBOT_WEB_PORT)."
    )
    public_base_url: str | None = Field(
        None,
        description="Public https address of the dashboard; turns on tracked links "
        "(CAMPAIGNBOT_PUBLIC_BASE_URL).",
    )
    telegram_bot_token: SecretStr | None = Field(
        None, validation_alias=_alias("TELEGRAM_BOT_TOKEN", "telegram_bot_token")
    )
    telegram_api_url: str = Field(
        "https://api.telegram.org/bot",
        validation_alias=_alias("TELEGRAM_API_URL", "telegram_api_url"),
    )
    telegram_webhook_url: str | None = Field(
        None,
        description="Public https address Telegram posts updates to, served by the dashboard's "
        "server; polling if unset (CAMPAIGNBOT_TELEGRAM_WEBHOOK_URL).",
    )
    telegram_max_rate: float = Field(
        29.4,
        ge=0,
        description="Telegram messages a second, evenly spaced; 0 turns pacing off "
        "(CAMPAIGNBOT_TELEGRAM_MAX_RATE).",
    )
    telegram_paid_broadcast: bool = Field(
        False,
        description="Send weekly asks, reminders and journey messages as Telegram paid "
        "broadcasts, up to telegram_paid_rate a second for 0.1 Stars each, from the bot's "
        "balance; replies stay free (CAMPAIGNBOT_TELEGRAM_PAID_BROADCAST).",
    )
    telegram_paid_rate: float = Field(
        1000,
        ge=30,
        le=1000,
        description="Telegram's limit for paid broadcasts, messages a second, 30 to 1000; "
        "sends keep 2% under it (CAMPAIGNBOT_TELEGRAM_PAID_RATE).",
    )
    discord_bot_token: SecretStr | None = Field(
        None, validation_alias=_alias("DISCORD_BOT_TOKEN", "discord_bot_token")
    )
    discord_api_url: str | None = Field(
        None, validation_alias=_alias("DISCORD_API_URL", "discord_api_url")
    )
    discord_gateway_url: str | None = Field(
        None, validation_alias=_alias("DISCORD_GATEWAY_URL", "discord_gateway_url")
    )
    discord_organiser_guild: int | None = Field(
        None,
        description="Id of the charity's own Discord server, where the organiser commands live "
        "(CAMPAIGNBOT_DISCORD_ORGANISER_GUILD).",
    )
    discord_organiser_role: int | None = Field(
        None,
        description="Id of the organiser role in that server (CAMPAIGNBOT_DISCORD_ORGANISER_ROLE).",
    )
    trusted_proxies: Annotated[list[str], NoDecode] = Field(
        default_factory=lambda: ["127.0.0.1", "::1"],
        description="Addresses or networks of reverse proxies whose X-Forwarded-For is believed, "
        "comma-separated (CAMPAIGNBOT_TRUSTED_PROXIES).",
    )
    web_https: bool | None = Field(
        None,
        description="The dashboard is served over https (behind a proxy): its cookies are Secure "
        "(CAMPAIGNBOT_WEB_HTTPS); by default, when public_base_url is https.",
    )
    web_session_idle_minutes: int = Field(
        120,
        ge=5,
        le=7 * 24 * 60,
        description="A dashboard session unused this long ends "
        "(CAMPAIGNBOT_WEB_SESSION_IDLE_MINUTES).",
    )
    web_session_hours: int = Field(
        12,
        ge=1,
        le=24 * 30,
        description="A dashboard session ends this long after sign-in, used or not "
        "(CAMPAIGNBOT_WEB_SESSION_HOURS).",
    )
    retention_months: int = Field(
        24,
        ge=1,
        le=120,
        description="Per-person records older than this are erased or made anonymous, daily "
        "(CAMPAIGNBOT_RETENTION_MONTHS).",
    )
    require_approval: bool = Field(
        False,
        description="A new or changed ask written in the dashboard is published only once a "
        "second organiser (another dashboard account) approved it "
        "(CAMPAIGNBOT_REQUIRE_APPROVAL).",
    )

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        config = config_file()
        return (
            init_settings,
            env_settings,
            TomlConfigSettingsSource(settings_cls, toml_file=config),
        )

    @field_validator("timezone")
    @classmethod
    def _timezone(cls, value: str) -> str:
        return iana_zone(value)

    @field_validator(
        "telegram_bot_token",
        "discord_bot_token",
        "secret_key",
        "telegram_webhook_url",
        "public_base_url",
        mode="before",
    )
    @classmethod
    def _empty_is_unset(cls, value: Any) -> Any:
        """`TELEGRAM_BOT_TOKEN=` (an env file's line left empty) means no token, not an
        empty one that Telegram would refuse at start."""
        if isinstance(value, str) and not value.strip():
            return None
        return value

    @field_validator("organisers", mode="before")
    @classmethod
    def _split_organisers(cls, value: Any) -> Any:
        if isinstance(value, str):
            return [part.strip() for part in value.split(",") if part.strip()]
        return value

    @field_validator("organisers")
    @classmethod
    def _organisers(cls, value: list[str]) -> list[str]:
        for item in value:
            if not CHAT.fullmatch(item):
                raise ValueError(
                    f"{item!r} is not an organiser id; use platform:id, such as telegram:12345"
                )
        return value

    @field_validator("discord_organiser_role", mode="before")
    @classmethod
    def _role_id(cls, value: Any) -> Any:
        return _discord_id(
            value,
            "a role id (a number such as 112233445566778899), not a role name: in Discord, "
            "turn on Developer Mode (User Settings, Advanced), then open Server Settings, "
            "Roles, right-click the role and choose Copy Role ID",
        )

    @field_validator("discord_organiser_guild", mode="before")
    @classmethod
    def _guild_id(cls, value: Any) -> Any:
        return _discord_id(
            value,
            "a server id (a number such as 112233445566778899): in Discord, turn on "
            "Developer Mode (User Settings, Advanced), then right-click the server and "
            "choose Copy Server ID",
        )

    @model_validator(mode="after")
    def _role_needs_guild(self) -> Settings:
        if self.discord_organiser_role is not None and self.discord_organiser_guild is None:
            raise ValueError(
                "discord_organiser_role (CAMPAIGNBOT_DISCORD_ORGANISER_ROLE) needs "
                "discord_organiser_guild (CAMPAIGNBOT_DISCORD_ORGANISER_GUILD): the id of the "
                "server the role belongs to"
            )
        return self

    @field_validator("trusted_proxies", mode="before")
    @classmethod
    def _split_proxies(cls, value: Any) -> Any:
        if isinstance(value, str):
            return [part.strip() for part in value.split(",") if part.strip()]
        return value

    @field_validator("trusted_proxies")
    @classmethod
    def _proxies(cls, value: list[str]) -> list[str]:
        for item in value:
            try:
                ipaddress.ip_network(item, strict=False)
            except ValueError:
                raise ValueError(
                    f"{item!r} is not an IP address or network (such as 127.0.0.1 or 10.0.0.0/8)"
                ) from None
        return value

    @property
    def dashboard_https(self) -> bool:
        """Is the dashboard reached over https (so its cookies must be Secure)?"""
        if self.web_https is not None:
            return self.web_https
        return (self.public_base_url or "").startswith("https://")

    @field_validator("public_base_url")
    @classmethod
    def _base_url(cls, value: str | None) -> str | None:
        if value is None or value == "":
            return None
        if not value.startswith(("https://", "http://")):
            raise ValueError("must start with https:// (or http:// for local testing)")
        return value.rstrip("/")

    @field_validator("telegram_webhook_url")
    @classmethod
    def _webhook_url(cls, value: str | None) -> str | None:
        if value is None or value == "":
            return None
        if not value.startswith("https://"):
            raise ValueError("must start with https:// (Telegram posts updates only over https)")
        return value.rstrip("/")

    @field_validator("log_level")
    @classmethod
    def _log_level(cls, value: str) -> str:
        value = value.upper()
        if value not in ("DEBUG", "INFO", "WARNING", "ERROR"):
            raise ValueError("must be DEBUG, INFO, WARNING or ERROR")
        return value

    def secret_values(self) -> list[str]:
        """Every secret this installation holds, as text, for masking in output.
        Reads the secret file if there is one; never makes it."""
        found = [
            secret.get_secret_value()
            for secret in (self.telegram_bot_token, self.discord_bot_token, self.secret_key)
            if secret is not None
        ]
        with contextlib.suppress(OSError, UnicodeDecodeError):
            found.append(self.db.with_suffix(".secret").read_text().strip())
        return found

    def button_secret(self) -> bytes:
        """The secret that signs button ids: from the settings, or kept beside the database."""
        if self.secret_key is not None:
            return self.secret_key.get_secret_value().encode()
        return load_or_create_secret(self.db.with_suffix(".secret"))


def _discord_id(value: Any, needs: str) -> Any:
    """A Discord id as typed in a setting: digits only (empty means none)."""
    if isinstance(value, str):
        value = value.strip()
        if value == "":
            return None
        if not value.isascii() or not value.isdigit():
            raise ValueError(f"needs {needs}")
    return value


def load_or_create_secret(path: Path) -> bytes:
    """A random secret stored next to the database (outside git), readable only by us."""
    if path.exists():
        return path.read_text().strip().encode()
    path.parent.mkdir(parents=True, exist_ok=True)
    value = secrets.token_urlsafe(32)
    descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(descriptor, "w") as handle:
        handle.write(value + "\n")
    return value.encode()


class SettingsError(ValueError):
    """Settings that cannot be used; the message names each bad setting."""


_ENV_NAMES = {
    "telegram_bot_token": "TELEGRAM_BOT_TOKEN",
    "telegram_api_url": "TELEGRAM_API_URL",
    "discord_bot_token": "DISCORD_BOT_TOKEN",
    "discord_api_url": "DISCORD_API_URL",
    "discord_gateway_url": "DISCORD_GATEWAY_URL",
}


def config_file() -> Path:
    """The settings file: the one `CAMPAIGNBOT_CONFIG` names, else `campaignbot.toml` here."""
    return Path(os.environ.get(CONFIG_ENV) or DEFAULT_CONFIG)


def load_settings(**overrides: Any) -> Settings:
    """Read the settings, or raise `SettingsError` naming every bad one."""
    config = config_file()
    if os.environ.get(CONFIG_ENV) and not config.is_file():
        raise SettingsError(f"{CONFIG_ENV} names {config}, which is not a file")
    try:
        return Settings(**overrides)
    except tomllib.TOMLDecodeError as exc:
        raise SettingsError(f"{config} is not valid TOML: {exc}") from None
    except (OSError, UnicodeDecodeError) as exc:
        reason = exc.strerror if isinstance(exc, OSError) and exc.strerror else "not UTF-8 text"
        raise SettingsError(f"{config} can't be read: {reason}") from None
    except ValidationError as exc:
        problems = []
        for error in exc.errors():
            message = str(error["msg"]).removeprefix("Value error, ")
            if not error["loc"]:  # a rule about several settings names them itself
                problems.append(message)
                continue
            field = str(error["loc"][0])
            env = _ENV_NAMES.get(field, f"CAMPAIGNBOT_{field.upper()}")
            if error["type"] == "extra_forbidden":
                message = f"is not a known setting (in {DEFAULT_CONFIG} or {CONFIG_ENV})"
                problems.append(f"{field}: {message}")
            else:
                problems.append(f"{field} ({env}): {message}")
        raise SettingsError("bad settings: " + "; ".join(problems)) from None
