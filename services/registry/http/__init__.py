"""The HTTP layer: the OCI Distribution API on Falcon. Resources parse, call the domain,
and shape the response; everything else lives below."""

from services.registry.http.app import create_app

__all__ = ["create_app"]
