"""The Docker adapter: value types and parsers (facts/), build requests and their command
lines (requests.py), the one process runner (process.py), the engine's verbs as a Protocol
(verbs.py), the verbs that are docker commands (commands/) and the real engine (engine.py,
the only importer of python-on-whales)."""
