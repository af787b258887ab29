"""The schema, as ordered and named sqlite-utils migrations applied at start-up.

Never edit a migration that has shipped; add a new one. Each runs in its own
transaction, together with the record that it ran.
"""

from __future__ import annotations

from sqlite_utils import Database
from sqlite_utils.migrations import Migrations

migrations = Migrations("campaignbot")


@migrations(name="0001_initial")
def initial(db: Database) -> None:
    """Campaigns and asks (from packs), supporters, prompts, deliveries, actions, audit."""
    statements = [
        """
        CREATE TABLE campaigns (
            slug TEXT PRIMARY KEY,
            title TEXT NOT NULL,
            description TEXT NOT NULL,
            weekday TEXT NOT NULL,
            time TEXT NOT NULL,
            timezone TEXT NOT NULL,
            grace_hours REAL NOT NULL,
            reminder_days INTEGER,
            pack_file TEXT NOT NULL,
            created_at TEXT NOT NULL,
            updated_at TEXT NOT NULL
        )
        """,
        """
        CREATE TABLE asks (
            campaign TEXT NOT NULL REFERENCES campaigns(slug),
            id TEXT NOT NULL,
            position INTEGER NOT NULL,
            title TEXT NOT NULL,
            topic TEXT NOT NULL,
            ask TEXT NOT NULL,
            stat_figure TEXT NOT NULL,
            stat_sentence TEXT NOT NULL,
            stat_source TEXT NOT NULL,
            stat_url TEXT NOT NULL,
            stat_year INTEGER NOT NULL,
            link_label TEXT NOT NULL,
            link_url TEXT NOT NULL,
            reminder TEXT,
            retired INTEGER NOT NULL DEFAULT 0,
            updated_at TEXT NOT NULL,
            PRIMARY KEY (campaign, id)
        )
        """,
        # `key` is a random pseudonym. Deliveries and actions carry it instead of
        # the supporter's id, so erasing the supporter row leaves counts intact
        # with nothing that leads back to a person.
        """
        CREATE TABLE supporters (
            id INTEGER PRIMARY KEY,
            key TEXT NOT NULL UNIQUE,
            platform TEXT NOT NULL,
            address TEXT NOT NULL,
            kind TEXT NOT NULL CHECK (kind IN ('private', 'group')),
            status TEXT NOT NULL
                CHECK (status IN ('active', 'paused', 'stopped', 'gone', 'member')),
            source TEXT,
            consent_version TEXT,
            consented_at TEXT,
            paused_until TEXT,
            created_at TEXT NOT NULL,
            updated_at TEXT NOT NULL,
            UNIQUE (platform, address)
        )
        """,
        """
        CREATE TABLE supporter_topics (
            supporter_id INTEGER NOT NULL REFERENCES supporters(id) ON DELETE CASCADE,
            topic TEXT NOT NULL,
            PRIMARY KEY (supporter_id, topic)
        )
        """,
        """
        CREATE TABLE prompts (
            id INTEGER PRIMARY KEY,
            campaign TEXT NOT NULL REFERENCES campaigns(slug),
            ask_id TEXT NOT NULL,
            kind TEXT NOT NULL CHECK (kind IN ('weekly', 'manual', 'standing', 'reminder')),
            parent_id INTEGER REFERENCES prompts(id),
            scheduled_at TEXT NOT NULL,
            timezone TEXT NOT NULL,
            platform TEXT,
            source TEXT,
            state TEXT NOT NULL
                CHECK (state IN ('scheduled', 'sending', 'sent', 'cancelled', 'missed')),
            created_by TEXT NOT NULL,
            created_at TEXT NOT NULL,
            started_at TEXT,
            finished_at TEXT,
            FOREIGN KEY (campaign, ask_id) REFERENCES asks(campaign, id)
        )
        """,
        "CREATE INDEX prompts_by_state ON prompts (state, scheduled_at)",
        "CREATE INDEX prompts_by_campaign ON prompts (campaign, scheduled_at)",
        # A weekly run happens once; an ask gets at most one reminder.
        "CREATE UNIQUE INDEX prompts_weekly_once ON prompts (campaign, scheduled_at)"
        " WHERE kind = 'weekly'",
        "CREATE UNIQUE INDEX prompts_one_reminder ON prompts (parent_id) WHERE kind = 'reminder'",
        """
        CREATE TABLE deliveries (
            id INTEGER PRIMARY KEY,
            prompt_id INTEGER NOT NULL REFERENCES prompts(id),
            supporter_id INTEGER REFERENCES supporters(id) ON DELETE SET NULL,
            supporter_key TEXT NOT NULL,
            platform TEXT NOT NULL,
            source TEXT,
            state TEXT NOT NULL
                CHECK (state IN ('pending', 'sending', 'sent', 'gone', 'failed', 'unknown')),
            attempts INTEGER NOT NULL DEFAULT 0,
            error TEXT,
            created_at TEXT NOT NULL,
            updated_at TEXT NOT NULL,
            sent_at TEXT,
            UNIQUE (prompt_id, supporter_key)
        )
        """,
        "CREATE INDEX deliveries_to_send ON deliveries (prompt_id, platform, state, id)",
        "CREATE INDEX deliveries_by_supporter ON deliveries (supporter_id)",
        """
        CREATE TABLE actions (
            id INTEGER PRIMARY KEY,
            prompt_id INTEGER NOT NULL REFERENCES prompts(id),
            supporter_key TEXT NOT NULL,
            kind TEXT NOT NULL CHECK (kind IN ('done', 'skipped', 'opened')),
            platform TEXT NOT NULL,
            source TEXT,
            via TEXT NOT NULL CHECK (via IN ('button', 'command', 'link')),
            created_at TEXT NOT NULL,
            UNIQUE (supporter_key, prompt_id, kind)
        )
        """,
        "CREATE INDEX actions_by_prompt ON actions (prompt_id, kind)",
        """
        CREATE TABLE audit (
            id INTEGER PRIMARY KEY,
            at TEXT NOT NULL,
            actor TEXT NOT NULL,
            action TEXT NOT NULL,
            target TEXT,
            detail TEXT
        )
        """,
    ]
    for statement in statements:
        db.execute(statement)


def apply(db: Database) -> list[str]:
    """Apply pending migrations; return the names of those applied."""
    pending = [migration.name for migration in migrations.pending(db)]
    migrations.apply(db)
    return pending
