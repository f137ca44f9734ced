"""The build flow: decide what to reuse, build and push (decide.py, pure), then carry it
out with an engine (build.py), write it as a bake file (bake.py), or run it per platform
(platforms.py)."""
