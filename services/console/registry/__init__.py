"""The registry's HTTP API, as the console calls it."""

from services.console.registry.client import (
    Credentials,
    RegistryClient,
    RegistryError,
    RegistryUnavailable,
    Unauthorized,
)
from services.console.registry.location import pull_host, registry_base_url

__all__ = ["Credentials", "RegistryClient", "RegistryError", "RegistryUnavailable",
           "Unauthorized", "pull_host", "registry_base_url"]
