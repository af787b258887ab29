"""Where a newly published ask goes in its campaign's order.

An ask written in the editor is published last, as ever. One that a dashboard import
held for approval (`campaigns.importing`) goes where the pack put it: the pack's order
is kept with the version held (`ask_versions.pack_order`, not in the import's audit
entry, which retention deletes while the ask may still wait), and by the time the ask
is approved an organiser may have moved other asks, published others of the same
import, or retired some. So the rule is, with none of the asks already running moved:

    the ask goes into the gap where the fewest running asks are on the wrong side of
    it by the pack's order (asks the pack doesn't name don't count); of gaps equally
    good, the last.

With nothing moved this is exactly the pack's place; the asks of one import land in
the pack's order whichever is published first; and an ask whose pack neighbour an
organiser moved follows the order the most asks still agree with, rather than that
one neighbour.
"""

from __future__ import annotations

from db.versions import VersionRow


def slot(running: list[str], ask_id: str, order: list[str]) -> int:
    """The index in `running` (ask ids in order) to put `ask_id` at, by `order`, the
    pack's (not naming it: last)."""
    rank = {one: index for index, one in enumerate(order)}
    if ask_id not in rank:
        return len(running)
    mine = rank[ask_id]
    after = [one in rank and rank[one] > mine for one in running]  # wrong if before it
    before = [one in rank and rank[one] < mine for one in running]  # wrong if after it
    wrong = sum(before)  # the gap before every running ask
    best, found = wrong, 0
    for index in range(len(running)):
        wrong += after[index] - before[index]  # running[index] is now before the gap
        if wrong <= best:
            best, found = wrong, index + 1
    return found


def place(running: list[str], opened: VersionRow) -> int:
    """Where the ask of `opened`, a version about to be published for the first time
    (or back from retired), goes among the campaign's running asks."""
    return slot(running, opened.ask_id, opened.held_order)
