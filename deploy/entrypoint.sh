#!/bin/sh
# Start campaignbot under a supervisor: the container's ENTRYPOINT and the systemd
# unit's ExecStart, so both start the bot the same way (tests/test_deploy.py runs it).
#
# It checks that the folders the bot writes to (the database's, and backup_dir's when
# set) exist and can be written, and says so in one line if not; then it becomes
# `campaignbot run` (exec: the bot is this process, so SIGTERM reaches it directly).
# With arguments it runs those instead: `entrypoint.sh users list`.
set -eu

fail() {
	echo "error: $*" >&2
	exit 2
}

name=$(id -un 2>/dev/null) && who="user $name (uid $(id -u))" || who="uid $(id -u)"

# The folder must exist (made if missing, private as the bot makes it) and take a
# new file: a real write, because root passes every permission test.
writable() {
	folder=$1
	setting=$2
	(umask 077 && mkdir -p -- "$folder") 2>/dev/null ||
		fail "$setting: $who can't create the folder $folder; create it and give it to $who"
	probe=$(mktemp -p "$folder" .campaignbot-write-check.XXXXXX 2>/dev/null) ||
		fail "$setting: $who can't write to the folder $folder; give it to $who (chown) or mount a writable volume there"
	rm -f -- "$probe"
}

db=${CAMPAIGNBOT_DB:-data/campaignbot.db}
writable "$(dirname -- "$db")" "db (CAMPAIGNBOT_DB)"
if [ -n "${CAMPAIGNBOT_BACKUP_DIR:-}" ]; then
	writable "$CAMPAIGNBOT_BACKUP_DIR" "backup_dir (CAMPAIGNBOT_BACKUP_DIR)"
fi

# The campaignbot of the virtual environment beside this folder (a checkout with
# .venv, or the image's /app/.venv), else the one on PATH.
here=$(dirname -- "$0")
bin=$here/../.venv/bin/campaignbot
[ -x "$bin" ] || bin=campaignbot

[ "$#" -gt 0 ] || set -- run
exec "$bin" "$@"
