"""AGI over a socket (FastAGI) or stdin/stdout (AGI scripts): protocol, pyst2 wrapper, flow driver."""
