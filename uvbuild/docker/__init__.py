"""The Docker adapter: value types and parsers (facts.py), build requests and their command
lines (requests.py), the one process runner (process.py), the engine's verbs as a Protocol
(verbs.py) and the real engine (engine.py, the only importer of python-on-whales)."""
