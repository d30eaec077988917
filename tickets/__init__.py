"""Tickets (工单): numbers, lifecycle, closure checks, refusals, dispatch, and the phone-facing desk."""
