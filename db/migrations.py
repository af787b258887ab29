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


@migrations(name="0002_dashboard")
def dashboard(db: Database) -> None:
    """Dashboard accounts, sign-in throttling, and what makes the counts fast.

    `participation_counts` keeps, per prompt, platform and source, how many
    deliveries went out and how many of each action came back. Triggers keep it
    exact in the same transaction as every change to `deliveries` and `actions`,
    so a report adds up a few hundred rows instead of millions.
    """
    statements = [
        """
        CREATE TABLE users (
            id INTEGER PRIMARY KEY,
            name TEXT NOT NULL UNIQUE COLLATE NOCASE,
            role TEXT NOT NULL CHECK (role IN ('staff', 'organiser')),
            password_hash TEXT NOT NULL,
            chat TEXT,
            session_version INTEGER NOT NULL DEFAULT 1,
            created_at TEXT NOT NULL,
            updated_at TEXT NOT NULL
        )
        """,
        # `scope` is 'account:<name>' or 'client:<address>'; rows go when a sign-in
        # succeeds or a day after the last failure.
        """
        CREATE TABLE sign_in_failures (
            scope TEXT PRIMARY KEY,
            failures INTEGER NOT NULL,
            last_at TEXT NOT NULL,
            blocked_until TEXT
        ) WITHOUT ROWID
        """,
        """
        CREATE TABLE participation_counts (
            prompt_id INTEGER NOT NULL,
            platform TEXT NOT NULL,
            source TEXT NOT NULL,
            delivered INTEGER NOT NULL DEFAULT 0,
            opened INTEGER NOT NULL DEFAULT 0,
            done INTEGER NOT NULL DEFAULT 0,
            skipped INTEGER NOT NULL DEFAULT 0,
            PRIMARY KEY (prompt_id, platform, source)
        ) WITHOUT ROWID
        """,
        # '' stands for "no source" in the key (a primary key column can't be NULL).
        """
        CREATE TRIGGER participation_delivery_insert AFTER INSERT ON deliveries
        WHEN NEW.state = 'sent'
        BEGIN
            INSERT INTO participation_counts (prompt_id, platform, source, delivered)
            VALUES (NEW.prompt_id, NEW.platform, COALESCE(NEW.source, ''), 1)
            ON CONFLICT DO UPDATE SET delivered = delivered + 1;
        END
        """,
        """
        CREATE TRIGGER participation_delivery_update
        AFTER UPDATE OF state, prompt_id, platform, source ON deliveries
        WHEN OLD.state = 'sent' OR NEW.state = 'sent'
        BEGIN
            UPDATE participation_counts SET delivered = delivered - 1
            WHERE OLD.state = 'sent' AND prompt_id = OLD.prompt_id
              AND platform = OLD.platform AND source = COALESCE(OLD.source, '');
            INSERT INTO participation_counts (prompt_id, platform, source, delivered)
            SELECT NEW.prompt_id, NEW.platform, COALESCE(NEW.source, ''), 1
            WHERE NEW.state = 'sent'
            ON CONFLICT DO UPDATE SET delivered = delivered + 1;
        END
        """,
        """
        CREATE TRIGGER participation_delivery_delete AFTER DELETE ON deliveries
        WHEN OLD.state = 'sent'
        BEGIN
            UPDATE participation_counts SET delivered = delivered - 1
            WHERE prompt_id = OLD.prompt_id AND platform = OLD.platform
              AND source = COALESCE(OLD.source, '');
        END
        """,
        """
        CREATE TRIGGER participation_action_insert AFTER INSERT ON actions
        BEGIN
            INSERT INTO participation_counts (prompt_id, platform, source, opened, done, skipped)
            VALUES (NEW.prompt_id, NEW.platform, COALESCE(NEW.source, ''),
                    NEW.kind = 'opened', NEW.kind = 'done', NEW.kind = 'skipped')
            ON CONFLICT DO UPDATE SET
                opened = opened + excluded.opened,
                done = done + excluded.done,
                skipped = skipped + excluded.skipped;
        END
        """,
        """
        CREATE TRIGGER participation_action_update
        AFTER UPDATE OF prompt_id, kind, platform, source ON actions
        BEGIN
            UPDATE participation_counts SET
                opened = opened - (OLD.kind = 'opened'),
                done = done - (OLD.kind = 'done'),
                skipped = skipped - (OLD.kind = 'skipped')
            WHERE prompt_id = OLD.prompt_id AND platform = OLD.platform
              AND source = COALESCE(OLD.source, '');
            INSERT INTO participation_counts (prompt_id, platform, source, opened, done, skipped)
            VALUES (NEW.prompt_id, NEW.platform, COALESCE(NEW.source, ''),
                    NEW.kind = 'opened', NEW.kind = 'done', NEW.kind = 'skipped')
            ON CONFLICT DO UPDATE SET
                opened = opened + excluded.opened,
                done = done + excluded.done,
                skipped = skipped + excluded.skipped;
        END
        """,
        """
        CREATE TRIGGER participation_action_delete AFTER DELETE ON actions
        BEGIN
            UPDATE participation_counts SET
                opened = opened - (OLD.kind = 'opened'),
                done = done - (OLD.kind = 'done'),
                skipped = skipped - (OLD.kind = 'skipped')
            WHERE prompt_id = OLD.prompt_id AND platform = OLD.platform
              AND source = COALESCE(OLD.source, '');
        END
        """,
        # What is already there when the migration runs.
        """
        INSERT INTO participation_counts (prompt_id, platform, source, delivered)
        SELECT prompt_id, platform, COALESCE(source, ''), count(*) FROM deliveries
        WHERE state = 'sent' GROUP BY prompt_id, platform, COALESCE(source, '')
        """,
        """
        INSERT INTO participation_counts (prompt_id, platform, source, opened, done, skipped)
        SELECT prompt_id, platform, COALESCE(source, '') AS key_source,
            sum(kind = 'opened'), sum(kind = 'done'), sum(kind = 'skipped')
        FROM actions WHERE true GROUP BY prompt_id, platform, key_source
        ON CONFLICT DO UPDATE SET
            opened = excluded.opened, done = excluded.done, skipped = excluded.skipped
        """,
        # Distinct supporters who did an ask, by platform and by source, read from
        # the index alone.
        "CREATE INDEX actions_done_by_platform"
        " ON actions (platform, supporter_key, prompt_id, source) WHERE kind = 'done'",
        "CREATE INDEX actions_done_by_source"
        " ON actions (source, supporter_key, prompt_id, platform) WHERE kind = 'done'",
        "CREATE INDEX supporters_by_platform_status ON supporters (platform, status, source)",
    ]
    for statement in statements:
        db.execute(statement)


@migrations(name="0003_dashboard_sessions")
def dashboard_sessions(db: Database) -> None:
    """Dashboard accounts whose ids are never reused, and server-side sessions.

    SQLite can't add AUTOINCREMENT to a table, so `users` is rebuilt with it: a
    removed account's id never comes back for a new one. Its `session_version`
    goes, because a session is now a row of `dashboard_sessions` (ending one is
    deleting its row): a SHA-256 of the random token its cookie holds, never the
    token itself, the account, and when it started and was last used.
    """
    statements = [
        """
        CREATE TABLE users_new (
            id INTEGER PRIMARY KEY AUTOINCREMENT,
            name TEXT NOT NULL UNIQUE COLLATE NOCASE,
            role TEXT NOT NULL CHECK (role IN ('staff', 'organiser')),
            password_hash TEXT NOT NULL,
            chat TEXT,
            created_at TEXT NOT NULL,
            updated_at TEXT NOT NULL
        )
        """,
        """
        INSERT INTO users_new (id, name, role, password_hash, chat, created_at, updated_at)
        SELECT id, name, role, password_hash, chat, created_at, updated_at FROM users ORDER BY id
        """,
        "DROP TABLE users",
        "ALTER TABLE users_new RENAME TO users",
        """
        CREATE TABLE dashboard_sessions (
            token_hash TEXT PRIMARY KEY,
            user_id INTEGER NOT NULL REFERENCES users(id) ON DELETE CASCADE,
            created_at TEXT NOT NULL,
            last_seen_at TEXT NOT NULL
        ) WITHOUT ROWID
        """,
        "CREATE INDEX dashboard_sessions_by_user ON dashboard_sessions (user_id)",
        # Sign-ins are now throttled per account and client, and per client; an
        # account-wide count let anyone lock an account, so it is dropped.
        "DELETE FROM sign_in_failures WHERE scope LIKE 'account:%'",
    ]
    for statement in statements:
        db.execute(statement)


@migrations(name="0004_privacy")
def privacy(db: Database) -> None:
    """Declared sources, one answer per supporter and prompt, and housekeeping marks.

    A supporter's source is one of the codes organisers declared (in a pack or with
    `campaignbot sources add`), never what a supporter typed: `sources` lists them.
    A code that is removed stays listed (with `removed_at`), so the history that
    counts it keeps its name.

    A supporter has one answer per prompt: "I did it" after "Not this week" replaces
    it. Where both were stored before this migration, the later one stays.
    """
    statements = [
        """
        CREATE TABLE sources (
            code TEXT PRIMARY KEY,
            declared_by TEXT NOT NULL,
            created_at TEXT NOT NULL,
            removed_at TEXT
        ) WITHOUT ROWID
        """,
        # What housekeeping has done, and when (one-off clean-ups, the daily retention).
        """
        CREATE TABLE housekeeping (
            task TEXT PRIMARY KEY,
            done_at TEXT NOT NULL
        ) WITHOUT ROWID
        """,
        """
        DELETE FROM actions WHERE kind IN ('done', 'skipped') AND EXISTS (
            SELECT 1 FROM actions later
            WHERE later.supporter_key = actions.supporter_key
              AND later.prompt_id = actions.prompt_id
              AND later.kind IN ('done', 'skipped') AND later.id > actions.id)
        """,
        "CREATE UNIQUE INDEX actions_one_answer ON actions (supporter_key, prompt_id)"
        " WHERE kind IN ('done', 'skipped')",
        # Retention pages through old rows by time.
        "CREATE INDEX deliveries_by_time ON deliveries (created_at)",
        "CREATE INDEX actions_by_time ON actions (created_at)",
    ]
    for statement in statements:
        db.execute(statement)


@migrations(name="0005_reliable_sends")
def reliable_sends(db: Database) -> None:
    """Deliveries that wait to be retried, and sends an organiser stopped.

    A delivery is 'sending' only while its request is out: one that failed in a way
    that is safe to retry goes back to 'pending' with `not_before`, the earliest time
    it may be tried again. An organiser can stop a running send: its pending
    deliveries become 'cancelled'.

    SQLite can't change a CHECK constraint in place, so the table is rebuilt (the
    documented twelve steps, in this migration's transaction) and its indexes and
    triggers are made again from their own stored SQL.
    """
    kept = [
        sql
        for (sql,) in db.execute(
            "SELECT sql FROM sqlite_master WHERE tbl_name = 'deliveries'"
            " AND type IN ('index', 'trigger') AND sql IS NOT NULL ORDER BY type, name"
        ).fetchall()
    ]
    db.execute(
        """
        CREATE TABLE deliveries_rebuilt (
            id INTEGER PRIMARY KEY,
            prompt_id INTEGER NOT NULL REFERENCES prompts(id),
            supporter_id INTEGER REFERENCES supporters(id) ON DELETE SET NULL,
            supporter_key TEXT NOT NULL,
            platform TEXT NOT NULL,
            source TEXT,
            state TEXT NOT NULL CHECK (state IN
                ('pending', 'sending', 'sent', 'gone', 'failed', 'unknown', 'cancelled')),
            attempts INTEGER NOT NULL DEFAULT 0,
            error TEXT,
            created_at TEXT NOT NULL,
            updated_at TEXT NOT NULL,
            sent_at TEXT,
            not_before TEXT,
            UNIQUE (prompt_id, supporter_key)
        )
        """
    )
    columns = (
        "id, prompt_id, supporter_id, supporter_key, platform, source, state, attempts,"
        " error, created_at, updated_at, sent_at"
    )
    db.execute(f"INSERT INTO deliveries_rebuilt ({columns}) SELECT {columns} FROM deliveries")
    db.execute("DROP TABLE deliveries")
    db.execute("ALTER TABLE deliveries_rebuilt RENAME TO deliveries")
    for sql in kept:
        db.execute(sql)
    # The engine looks for deliveries to try again without walking the whole send.
    db.execute(
        "CREATE INDEX deliveries_to_retry ON deliveries (prompt_id, platform, id)"
        " WHERE state = 'pending' AND not_before IS NOT NULL"
    )


@migrations(name="0006_journeys")
def journeys(db: Database) -> None:
    """Campaigns as choices, journey steps, invite links and outcome polls.

    - `subscriptions`: the campaigns each supporter chose. Until now every supporter
      got every campaign, so each existing supporter (group members aside) is
      subscribed to every campaign there is.
    - `prompts.kind` takes three journey steps: 'next', 'welcome' and 'poll'. Each
      step is one prompt, so the deliveries' unique key gives each supporter a step at
      most once; `step` numbers a campaign's welcome messages. The CHECK constraint
      is widened in place, by SQLite's documented procedure for loosening a
      constraint (sqlite.org/lang_altertable.html, section 7: every stored row
      already satisfies the wider CHECK, and nothing on disk changes). Rebuilding
      `prompts` instead would break the foreign keys of deliveries and actions.
    - Asks gain an optional next step and poll; campaigns an optional welcome series
      and what follows their last ask (copied from packs, as the rest is).
    - `invites`: one random code per supporter pseudonym, removed by /forget.
      `referrals`: one row per supporter who joined through a code, with the
      inviter's pseudonym, the campaign and the day only (nothing says who joined).
    - `poll_answers`: one answer per supporter pseudonym and poll, changeable.
    """
    (version,) = db.execute("PRAGMA schema_version").fetchone()
    db.execute("PRAGMA writable_schema = ON")
    db.execute(
        """
        UPDATE sqlite_master SET sql = replace(sql,
            'CHECK (kind IN (''weekly'', ''manual'', ''standing'', ''reminder''))',
            'CHECK (kind IN (''weekly'', ''manual'', ''standing'', ''reminder'','
            || ' ''next'', ''welcome'', ''poll''))')
        WHERE type = 'table' AND name = 'prompts'
        """
    )
    db.execute(f"PRAGMA schema_version = {int(version) + 1}")
    db.execute("PRAGMA writable_schema = OFF")
    (widened,) = db.execute("SELECT sql FROM sqlite_master WHERE name = 'prompts'").fetchone()
    if "'poll'" not in widened:  # a schema this migration does not know: stop, change nothing
        raise RuntimeError("prompts.kind has an unexpected CHECK constraint; not migrated")
    statements = [
        "ALTER TABLE prompts ADD COLUMN step INTEGER",
        "CREATE UNIQUE INDEX prompts_journey_once ON prompts"
        " (campaign, kind, ask_id, COALESCE(step, 0)) WHERE kind IN ('next', 'welcome', 'poll')",
        """
        CREATE TABLE subscriptions (
            supporter_id INTEGER NOT NULL REFERENCES supporters(id) ON DELETE CASCADE,
            campaign TEXT NOT NULL REFERENCES campaigns(slug),
            created_at TEXT NOT NULL,
            PRIMARY KEY (supporter_id, campaign)
        ) WITHOUT ROWID
        """,
        "CREATE INDEX subscriptions_by_campaign ON subscriptions (campaign, created_at)",
        """
        INSERT INTO subscriptions (supporter_id, campaign, created_at)
        SELECT s.id, c.slug, s.created_at FROM supporters s, campaigns c
        WHERE s.status != 'member'
        """,
        "ALTER TABLE asks ADD COLUMN next_text TEXT",
        "ALTER TABLE asks ADD COLUMN next_link_label TEXT",
        "ALTER TABLE asks ADD COLUMN next_link_url TEXT",
        "ALTER TABLE asks ADD COLUMN next_invite INTEGER NOT NULL DEFAULT 0",
        "ALTER TABLE asks ADD COLUMN poll_question TEXT",
        "ALTER TABLE asks ADD COLUMN poll_answers TEXT",  # a JSON list of 2 to 5 labels
        "ALTER TABLE asks ADD COLUMN poll_after_days INTEGER",
        # a JSON list of {"after_days": n, "text": ..., "link_label": ..., "link_url": ...}
        "ALTER TABLE campaigns ADD COLUMN welcome TEXT NOT NULL DEFAULT '[]'",
        "ALTER TABLE campaigns ADD COLUMN after_last TEXT NOT NULL DEFAULT 'repeat'"
        " CHECK (after_last IN ('repeat', 'stop'))",
        """
        CREATE TABLE invites (
            code TEXT PRIMARY KEY,
            supporter_key TEXT NOT NULL UNIQUE,
            created_at TEXT NOT NULL
        ) WITHOUT ROWID
        """,
        """
        CREATE TABLE referrals (
            id INTEGER PRIMARY KEY,
            inviter_key TEXT NOT NULL,
            campaign TEXT NOT NULL,
            platform TEXT NOT NULL,
            joined_on TEXT NOT NULL
        )
        """,
        "CREATE INDEX referrals_by_inviter ON referrals (inviter_key)",
        "CREATE INDEX referrals_by_campaign ON referrals (campaign, joined_on)",
        """
        CREATE TABLE poll_answers (
            prompt_id INTEGER NOT NULL REFERENCES prompts(id),
            supporter_key TEXT NOT NULL,
            answer INTEGER NOT NULL CHECK (answer BETWEEN 0 AND 4),
            platform TEXT NOT NULL,
            source TEXT,
            created_at TEXT NOT NULL,
            updated_at TEXT NOT NULL,
            PRIMARY KEY (prompt_id, supporter_key)
        ) WITHOUT ROWID
        """,
        "CREATE INDEX poll_answers_by_supporter ON poll_answers (supporter_key)",
    ]
    for statement in statements:
        db.execute(statement)


@migrations(name="0007_campaigns_in_the_database")
def campaigns_in_the_database(db: Database) -> None:
    """The database, not the packs folder, holds the campaigns the bot runs.

    - `campaigns.origin`: what wrote the stored copy last: its pack file ('pack'), an
      imported pack ('import') or the dashboard ('dashboard').
    - `campaigns.pack_hash`: the SHA-256 of the pack file as last copied in. At start a
      pack file replaces the stored copy only when the file changed since, so imports
      and dashboard edits outlive restarts. NULL here, so the first start after this
      migration copies each file in once more, filling the two columns below.
    - `campaigns.retired`: left out of the running bot (its prompts and counts stay).
    - `campaigns.sources`: the campaign's own source codes, in its order (a JSON list;
      the `sources` table says which codes are declared, and by whom first).
    - `asks.stat_period`: the time a statistic covers, which packs had and the store
      did not.
    - `campaigns.extra`, `asks.extra`: a pack's other fields, those with no column of
      their own (a JSON object), so a field added to packs is kept without a migration.
    - `catalog_version`: one row whose number moves on with every change to a campaign
      or an ask (triggers), so a running bot can see a change with one read.
    """
    statements = [
        "ALTER TABLE campaigns ADD COLUMN origin TEXT NOT NULL DEFAULT 'pack'"
        " CHECK (origin IN ('pack', 'import', 'dashboard'))",
        "ALTER TABLE campaigns ADD COLUMN pack_hash TEXT",
        "ALTER TABLE campaigns ADD COLUMN retired INTEGER NOT NULL DEFAULT 0",
        "ALTER TABLE campaigns ADD COLUMN sources TEXT NOT NULL DEFAULT '[]'",
        """
        UPDATE campaigns SET sources = COALESCE((
            SELECT json_group_array(code) FROM (
                SELECT code FROM sources
                WHERE declared_by = 'pack:' || campaigns.slug AND removed_at IS NULL
                ORDER BY code)), '[]')
        """,
        "ALTER TABLE asks ADD COLUMN stat_period TEXT",
        "ALTER TABLE campaigns ADD COLUMN extra TEXT NOT NULL DEFAULT '{}'",
        "ALTER TABLE asks ADD COLUMN extra TEXT NOT NULL DEFAULT '{}'",
        """
        CREATE TABLE catalog_version (
            id INTEGER PRIMARY KEY CHECK (id = 1),
            version INTEGER NOT NULL,
            changed_at TEXT NOT NULL
        )
        """,
        "INSERT INTO catalog_version (id, version, changed_at)"
        " VALUES (1, 1, strftime('%Y-%m-%dT%H:%M:%SZ', 'now'))",
    ]
    # What the bot runs: not which file a campaign was compared with, nor who wrote it.
    run = (
        "title, description, weekday, time, timezone, grace_hours, reminder_days,"
        " after_last, welcome, sources, extra, retired"
    )
    for table in ("campaigns", "asks"):
        for event in ("INSERT", "UPDATE", "DELETE"):
            change = f"UPDATE OF {run}" if (table, event) == ("campaigns", "UPDATE") else event
            statements.append(
                f"""
                CREATE TRIGGER catalog_version_{table}_{event.lower()} AFTER {change} ON {table}
                BEGIN
                    UPDATE catalog_version SET version = version + 1,
                        changed_at = strftime('%Y-%m-%dT%H:%M:%SZ', 'now');
                END
                """
            )
    for statement in statements:
        db.execute(statement)


@migrations(name="0008_ask_versions")
def ask_versions(db: Database) -> None:
    """Asks written in the dashboard: drafts, approval and versions.

    - `ask_versions`: every version of every ask, its content the ask's pack fields
      as JSON (as `campaigns.pack_io.ask_content` writes them). 'draft' and
      'awaiting_approval' are open (at most one per ask, never sent to supporters);
      'published' is what the bot sends (at most one per ask); 'superseded' were
      published once. A published version's text never changes: an edit is a new
      version.
    - `asks.version`: the published version the `asks` row holds (the row stays "what
      the bot sends now", so everything that reads asks keeps working).
    - `prompts.ask_version`: the version a prompt sent, set when it starts sending,
      so its counts stay with the text supporters received. NULL for a prompt still
      to start, and for journey steps (they follow the ask as it is now).

    Every existing ask becomes version 1, published, with its row as content, and
    every prompt of an ask that went out sent version 1.
    """
    statements = [
        """
        CREATE TABLE ask_versions (
            campaign TEXT NOT NULL REFERENCES campaigns(slug),
            ask_id TEXT NOT NULL,
            version INTEGER NOT NULL CHECK (version >= 1),
            content TEXT NOT NULL,
            state TEXT NOT NULL
                CHECK (state IN ('draft', 'awaiting_approval', 'published', 'superseded')),
            created_by TEXT NOT NULL,
            created_at TEXT NOT NULL,
            approved_by TEXT,
            approved_at TEXT,
            published_by TEXT,
            published_at TEXT,
            PRIMARY KEY (campaign, ask_id, version)
        )
        """,
        "CREATE UNIQUE INDEX ask_versions_one_published ON ask_versions (campaign, ask_id)"
        " WHERE state = 'published'",
        "CREATE UNIQUE INDEX ask_versions_one_open ON ask_versions (campaign, ask_id)"
        " WHERE state IN ('draft', 'awaiting_approval')",
        "ALTER TABLE asks ADD COLUMN version INTEGER NOT NULL DEFAULT 1",
        "ALTER TABLE prompts ADD COLUMN ask_version INTEGER",
        "UPDATE prompts SET ask_version = 1"
        " WHERE kind IN ('weekly', 'manual', 'standing', 'reminder')"
        " AND state IN ('sending', 'sent')",
        # The row as an ask of a pack: the shape `Ask.model_dump(mode="json")` has.
        """
        INSERT INTO ask_versions
            (campaign, ask_id, version, content, state, created_by, created_at,
             published_by, published_at)
        SELECT campaign, id, 1, json_patch(json_object(
                'id', id, 'title', title, 'ask', ask, 'topic', topic,
                'statistic', json_object(
                    'figure', stat_figure, 'sentence', stat_sentence,
                    'source', stat_source, 'url', stat_url,
                    'year', CASE WHEN stat_year = 0 THEN NULL ELSE stat_year END,
                    'period', stat_period),
                'link', json_object('label', link_label, 'url', link_url),
                'reminder', reminder,
                'next', json(CASE WHEN next_text IS NOT NULL THEN json_object(
                    'text', next_text,
                    'link', json(CASE WHEN next_link_label IS NOT NULL
                                       AND next_link_url IS NOT NULL
                                 THEN json_object('label', next_link_label,
                                                  'url', next_link_url) END),
                    'invite', json(CASE WHEN next_invite THEN 'true' ELSE 'false' END))
                    END),
                'poll', json(CASE WHEN poll_question IS NOT NULL THEN json_object(
                    'question', poll_question, 'answers', json(poll_answers),
                    'after_days', poll_after_days) END)
            ), extra),
            'published', 'migration', strftime('%Y-%m-%dT%H:%M:%SZ', 'now'),
            'migration', strftime('%Y-%m-%dT%H:%M:%SZ', 'now')
        FROM asks
        """,
    ]
    for statement in statements:
        db.execute(statement)


@migrations(name="0009_ask_variants")
def ask_variants(db: Database) -> None:
    """Wording experiments: which wording of an ask each supporter got.

    - `deliveries.variant`: the name of the wording this delivery carried ('original'
      or one of the ask's `[[asks.variants]]`); NULL when the ask was not under test
      (no variants, a winner chosen, a group chat, a journey step). /forget clears it.
    - `variant_counts`: per prompt and wording, deliveries that went out and the
      actions that came back, kept exact by triggers as `participation_counts` is, so
      the experiment's numbers survive /forget (which clears the delivery's variant)
      and retention's re-keying (neither changes a delivery's state or an action's kind).
      An action counts for the wording of the delivery of its prompt to the same key.
    - `variant_key`: a random key, made here once, that picks each supporter's wording
      (a keyed hash of prompt and supporter, so a retry picks the same, and nobody
      outside can tell in advance who gets which).
    """
    counts = """
        INSERT INTO variant_counts (prompt_id, variant, opened, done, skipped)
        SELECT d.prompt_id, d.variant, {sign}({row}.kind = 'opened'), {sign}({row}.kind = 'done'),
            {sign}({row}.kind = 'skipped')
        FROM deliveries d
        WHERE d.prompt_id = {row}.prompt_id AND d.supporter_key = {row}.supporter_key
          AND d.variant IS NOT NULL
        ON CONFLICT DO UPDATE SET opened = opened + excluded.opened,
            done = done + excluded.done, skipped = skipped + excluded.skipped;
    """
    delivered = """
        INSERT INTO variant_counts (prompt_id, variant, delivered)
        SELECT {row}.prompt_id, {row}.variant, {sign}1
        WHERE {row}.variant IS NOT NULL AND {row}.state = 'sent'
        ON CONFLICT DO UPDATE SET delivered = delivered + excluded.delivered;
    """
    statements = [
        "ALTER TABLE deliveries ADD COLUMN variant TEXT",
        """
        CREATE TABLE variant_counts (
            prompt_id INTEGER NOT NULL,
            variant TEXT NOT NULL,
            delivered INTEGER NOT NULL DEFAULT 0,
            opened INTEGER NOT NULL DEFAULT 0,
            done INTEGER NOT NULL DEFAULT 0,
            skipped INTEGER NOT NULL DEFAULT 0,
            PRIMARY KEY (prompt_id, variant)
        ) WITHOUT ROWID
        """,
        """
        CREATE TABLE variant_key (
            id INTEGER PRIMARY KEY CHECK (id = 1),
            key TEXT NOT NULL
        )
        """,
        "INSERT INTO variant_key (id, key) VALUES (1, lower(hex(randomblob(32))))",
        f"""
        CREATE TRIGGER variant_delivery_insert AFTER INSERT ON deliveries
        WHEN NEW.state = 'sent' AND NEW.variant IS NOT NULL
        BEGIN {delivered.format(row="NEW", sign="")} END
        """,
        # Only a change of state moves the counts: clearing the variant (/forget) doesn't.
        f"""
        CREATE TRIGGER variant_delivery_update AFTER UPDATE OF state ON deliveries
        WHEN OLD.state IS NOT NEW.state AND (OLD.state = 'sent' OR NEW.state = 'sent')
        BEGIN
            {delivered.format(row="OLD", sign="-")}
            {delivered.format(row="NEW", sign="")}
        END
        """,
        f"""
        CREATE TRIGGER variant_delivery_delete AFTER DELETE ON deliveries
        WHEN OLD.state = 'sent' AND OLD.variant IS NOT NULL
        BEGIN {delivered.format(row="OLD", sign="-")} END
        """,
        f"""
        CREATE TRIGGER variant_action_insert AFTER INSERT ON actions
        BEGIN {counts.format(row="NEW", sign="")} END
        """,
        f"""
        CREATE TRIGGER variant_action_update AFTER UPDATE OF kind ON actions
        WHEN OLD.kind IS NOT NEW.kind
        BEGIN
            {counts.format(row="OLD", sign="-")}
            {counts.format(row="NEW", sign="")}
        END
        """,
        f"""
        CREATE TRIGGER variant_action_delete AFTER DELETE ON actions
        BEGIN {counts.format(row="OLD", sign="-")} END
        """,
    ]
    for statement in statements:
        db.execute(statement)


@migrations(name="0010_languages")
def languages(db: Database) -> None:
    """The language a supporter reads the bot in.

    - `supporters.language`: one of the codes we have a catalogue for
      (`campaigns.languages.LANGUAGES`, such as 'en' or 'cy'), taken from what the
      platform says at first contact (Telegram's `language_code`, Discord's locale;
      anything we lack is stored as 'en') and changed with /language. NULL for a
      supporter from before: the platform's word is used, and stored, next time they
      write. Erased with the row (/forget).
    """
    db.execute("ALTER TABLE supporters ADD COLUMN language TEXT")


@migrations(name="0011_held_ask_order")
def held_ask_order(db: Database) -> None:
    """Where a new ask a dashboard import held for approval goes once it is published.

    - `ask_versions.pack_order`: on a version an import holds for approval, the ask ids
      of that import's pack in its order, as a JSON list (`campaigns.placing` puts the
      ask at the pack's place when it is published); the latest import holding the ask
      sets it. NULL on every other version: an ask written in the editor goes last.

    The order was read back from the import's audit entry until now, and retention
    deletes audit entries: each open version takes the order of the newest `import-pack`
    entry of its campaign that held it, where one is left.
    """
    db.execute("ALTER TABLE ask_versions ADD COLUMN pack_order TEXT")
    db.execute(
        """
        WITH imports AS (
            SELECT id, target, CASE WHEN json_valid(detail) THEN detail END AS detail
            FROM audit WHERE action = 'import-pack'
        )
        UPDATE ask_versions SET pack_order = (
            SELECT json_extract(i.detail, '$.order') FROM imports i
            WHERE i.target = ask_versions.campaign AND json_type(i.detail, '$.order') = 'array'
              AND EXISTS (SELECT 1 FROM json_each(i.detail, '$.awaiting_approval') AS held
                          WHERE held.value = ask_versions.ask_id)
            ORDER BY i.id DESC LIMIT 1
        )
        WHERE state IN ('draft', 'awaiting_approval')
        """
    )


def apply(db: Database) -> list[str]:
    """Apply pending migrations; return the names of those applied."""
    pending = [migration.name for migration in migrations.pending(db)]
    migrations.apply(db)
    return pending
