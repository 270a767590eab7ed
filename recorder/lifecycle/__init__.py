"""The record's life after archiving: retention expiry, erasure on request, legal holds."""
