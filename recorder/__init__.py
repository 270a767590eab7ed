"""recorder: compliance recording middleware for realtime voice agents on Hydra."""

__version__ = "0.1.0"
