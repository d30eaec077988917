"""Agent routing (issue 6): which queue a caller joins, with what priority, and what is offered
when no agent can answer; live queue state from Asterisk's manager interface; call-backs.

Domain layer: imports callers, workcal and core only. Nothing here speaks to a channel; the
flow asks (``routing.router.Router``) and the dialplan acts on the answer.
"""
