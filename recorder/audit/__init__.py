"""Auditor-facing reads of the database and the archive."""
