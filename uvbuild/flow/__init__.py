"""The build flow: decide what to reuse, build and push (``decide``, pure), then carry it
out with an engine, write it as a bake file (``bake``), or run it per platform
(``platforms``).

``build`` holds the order of the steps; each step has its module: ``lookup`` (where the
base is, and whether its image is trusted), ``base`` (the base reused, or built under its
lock, tagged, pushed), ``light_stages`` (the light stages built beside the base), ``app``
(the app build on the base), ``dry_run`` (the commands a dry run prints). ``run`` holds
what every step reads, ``requests`` the build requests they send, ``options`` the docker
flags, ``result`` what a build reports, ``images`` the images' digests the keys cover and
``inputs`` the generated files a build reads."""
