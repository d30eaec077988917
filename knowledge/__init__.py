"""The knowledge base: entries (models, JSON Lines interchange), retrieval robust to telephone
speech recognition, emergency detection, and the ``KnowledgeBase`` facade the engine wires in."""
