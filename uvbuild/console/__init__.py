"""The terminal side of uvbuild: ``terminal`` (the one wrapper around rich: messages on
stderr, results on stdout, the live line), ``plan_table`` (the plan as ``uvbuild plan``
prints it), ``summary`` (the closing summary of a build) and ``markup`` (plain text and
rich markup)."""
