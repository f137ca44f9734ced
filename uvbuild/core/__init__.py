"""The pure core: uv.lock and [tool.uvbuild] in, plans and Dockerfiles out.

Nothing here opens a file, reads the environment or the clock, prints, or talks to Docker.
"""
