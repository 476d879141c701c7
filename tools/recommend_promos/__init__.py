"""recommend_promos: markdowns for overstock risk, with the transfer alternative."""
