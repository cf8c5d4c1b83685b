"""acme-imagegen: Acme's image API as an imagegen backend, selected as ``acme``."""

from acme_imagegen.backend import AcmeBackend, AcmeSettings

__all__ = ["AcmeBackend", "AcmeSettings"]
