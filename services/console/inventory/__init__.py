"""What the pages show of the registry: repositories, tags, images by platform, layers,
configs and referrers, built from the registry's API answers."""

from services.console.inventory.catalog import RepositoryPage, RepositorySummary, search
from services.console.inventory.images import (
    Image,
    ImageConfig,
    Layer,
    Referrer,
    TagView,
    describe_tags,
)
from services.console.inventory.store import ContentCache

__all__ = ["ContentCache", "Image", "ImageConfig", "Layer", "Referrer", "RepositoryPage",
           "RepositorySummary", "TagView", "describe_tags", "search"]
