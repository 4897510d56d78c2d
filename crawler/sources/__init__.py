"""One module per image-search API; ``SOURCES`` maps a source name to its class."""

from __future__ import annotations

from crawler.sources.base import Candidate, Source, SourceError
from crawler.sources.flickr import FlickrSource
from crawler.sources.openverse import OpenverseSource
from crawler.sources.wikimedia import WikimediaSource

SOURCES: dict[str, type[Source]] = {
    OpenverseSource.name: OpenverseSource,
    WikimediaSource.name: WikimediaSource,
    FlickrSource.name: FlickrSource,
}

__all__ = ["SOURCES", "Candidate", "Source", "SourceError"]
