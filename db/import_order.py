"""Where a dashboard import put the asks it held for approval (`campaigns.placing`).

With `require_approval` on, an import publishes none of its new asks: each waits as
a version for a second organiser, and is published later, one by one, from the
editor. The order the pack gave them is kept in the import's audit entry (`order`,
beside `awaiting_approval`), the one record of that import there is; no column of
its own, no migration. Audit entries go after the retention period, and with them
the order: an ask held longer than that is published last, as one written in the
editor is.
"""

from __future__ import annotations

import json

from sqlite_utils import Database

IMPORT_ACTION = "import-pack"  # the audit action `campaigns.importing` records


def held_order(db: Database, campaign: str, ask_id: str) -> list[str]:
    """The ask ids in the order of the latest import of `campaign` that held `ask_id`
    for approval (empty if none did)."""
    cursor = db.execute(
        "SELECT detail FROM audit WHERE action = ? AND target = ? AND detail IS NOT NULL"
        " ORDER BY id DESC",
        [IMPORT_ACTION, campaign],
    )
    for (detail,) in cursor:
        found = json.loads(detail)
        order = found.get("order")
        if ask_id in found.get("awaiting_approval", []) and isinstance(order, list):
            return [str(one) for one in order]
    return []
