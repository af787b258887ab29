"""The Discord adapter, on discord.py 2.7."""
