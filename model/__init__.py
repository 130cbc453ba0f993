"""The system under study: opencode v1.15.4's message store, runner and prompt loop as state machines."""
