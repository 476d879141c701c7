"""What both graphs share: proposals → policy gate → human approval → executor."""
