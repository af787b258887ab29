"""Configuration: environment variables, then an optional `campaignbot.toml`, then defaults.

Tokens and the secret are `SecretStr`, so they never show up in a log line or
a traceback. A bad setting fails at start with a message that names it.
"""

from __future__ import annotations

import os
import re
import secrets
from pathlib import Path
from typing import Annotated, Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import AliasChoices, Field, SecretStr, ValidationError, field_validator
from pydantic_settings import (
    BaseSettings,
    NoDecode,
    PydanticBaseSettingsSource,
    SettingsConfigDict,
    TomlConfigSettingsSource,
)

from campaigns.packs import BUNDLED_PACKS

CONFIG_ENV = "CAMPAIGNBOT_CONFIG"
DEFAULT_CONFIG = Path("campaignbot.toml")
_ORGANISER = re.compile(r"^(telegram|discord|console):[A-Za-z0-9_-]{1,64}$")


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
    telegram_max_rate: float = Field(
        29.4,
        ge=0,
        description="Telegram messages a second, evenly spaced; 0 turns pacing off "
        "(CAMPAIGNBOT_TELEGRAM_MAX_RATE).",
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
    discord_organiser_role: str = Field(
        "Campaign organiser",
        description="Discord role of organisers (CAMPAIGNBOT_DISCORD_ORGANISER_ROLE).",
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
        config = Path(os.environ.get(CONFIG_ENV) or DEFAULT_CONFIG)
        return (
            init_settings,
            env_settings,
            TomlConfigSettingsSource(settings_cls, toml_file=config),
        )

    @field_validator("timezone")
    @classmethod
    def _timezone(cls, value: str) -> str:
        try:
            ZoneInfo(value)
        except (ZoneInfoNotFoundError, ValueError):
            raise ValueError(f"{value!r} is not an IANA time zone (try 'Europe/London')") from None
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
            if not _ORGANISER.match(item):
                raise ValueError(
                    f"{item!r} is not an organiser id; use platform:id, such as telegram:12345"
                )
        return value

    @field_validator("public_base_url")
    @classmethod
    def _base_url(cls, value: str | None) -> str | None:
        if value is None or value == "":
            return None
        if not value.startswith(("https://", "http://")):
            raise ValueError("must start with https:// (or http:// for local testing)")
        return value.rstrip("/")

    @field_validator("log_level")
    @classmethod
    def _log_level(cls, value: str) -> str:
        value = value.upper()
        if value not in ("DEBUG", "INFO", "WARNING", "ERROR"):
            raise ValueError("must be DEBUG, INFO, WARNING or ERROR")
        return value

    def button_secret(self) -> bytes:
        """The secret that signs button ids: from the settings, or kept beside the database."""
        if self.secret_key is not None:
            return self.secret_key.get_secret_value().encode()
        return load_or_create_secret(self.db.with_suffix(".secret"))


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


def load_settings(**overrides: Any) -> Settings:
    """Read the settings, or raise `SettingsError` naming every bad one."""
    try:
        return Settings(**overrides)
    except ValidationError as exc:
        problems = []
        for error in exc.errors():
            field = str(error["loc"][0]) if error["loc"] else "?"
            env = _ENV_NAMES.get(field, f"CAMPAIGNBOT_{field.upper()}")
            message = str(error["msg"]).removeprefix("Value error, ")
            if error["type"] == "extra_forbidden":
                message = f"is not a known setting (in {DEFAULT_CONFIG} or {CONFIG_ENV})"
                problems.append(f"{field}: {message}")
            else:
                problems.append(f"{field} ({env}): {message}")
        raise SettingsError("bad settings: " + "; ".join(problems)) from None
