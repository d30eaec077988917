"""Shared foundations: configuration, clock, logging with privacy masking, database."""
