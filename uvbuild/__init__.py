"""uvbuild: Docker images for uv projects, with the heavy packages in a content-keyed base."""

__version__ = "0.1.0"
