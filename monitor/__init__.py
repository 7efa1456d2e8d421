"""monitor: a media-monitoring alert pipeline.

Polls news feeds, extracts each new article's text, matches boolean rules written in YAML, stores articles and
matches, and alerts by email or chat. See README.md and docs/.
"""

__all__ = ["__version__"]

__version__ = "0.1.0"
