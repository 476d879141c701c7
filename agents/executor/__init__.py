"""The executor: order lifecycle, the outbox, and the dispatcher that sends it (DESIGN §4)."""
