"""What the engine says, as plain values, and the parsers that read its output.

Nothing here imports python-on-whales or runs a process: ``values`` (the engine's answers
as types), ``answers`` (the output of its read-only commands), ``build_output`` (a build's
progress output), ``faults`` (a failed command's stderr, and the one fix for each fault),
``refs`` (image references).
"""
