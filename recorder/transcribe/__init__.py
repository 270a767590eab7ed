"""The nightly transcription job: jobs, merge, per-recording work."""
