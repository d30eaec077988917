"""The composition root: configuration, wiring, the ``hotline`` command line and the server."""
