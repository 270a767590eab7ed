"""Finalized recordings: render from capture records, encrypt, sign, store, ledger."""
