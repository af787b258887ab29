"""The Discord adapter, on discord.py 2.7."""

import logging

# At DEBUG, discord.py logs gateway payloads (what members chose and typed into
# command options): never below INFO.
logging.getLogger("discord").setLevel(logging.INFO)
