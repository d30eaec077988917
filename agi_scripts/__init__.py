"""Thin entries for Asterisk's ``AGI(script)`` (stdin/stdout): same driver and flow as FastAGI."""
