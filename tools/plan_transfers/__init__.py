"""plan_transfers: size-level moves that maximise expected sales recovered minus cost."""
