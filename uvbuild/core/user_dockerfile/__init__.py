"""Your own Dockerfile: read as BuildKit's parser reads it (``dockerfile_text``), what each
instruction sees and copies (``dockerfile_stages``), the shell commands of a RUN
(``run_commands``), and its cut at the first ``uv sync`` (``seed``) into the system part
(``seed_system``), the sync's own settings (``seed_sync``) and what is refused
(``seed_refusal``)."""
