"""Governance: every decision that admits or refuses an action is made here."""
