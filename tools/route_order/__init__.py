"""route_order: choose the node(s) that ship an online order, by a documented score."""
