"""The auditor's web console (``recorder console``): read-only pages over the database and archive."""
