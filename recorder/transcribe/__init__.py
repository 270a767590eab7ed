"""The nightly transcription job (DESIGN.md "Transcription"): jobs, merge, per-recording work."""
