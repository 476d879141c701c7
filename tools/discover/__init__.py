"""Read tools that let a model discover the pool's vocabulary: places and the catalogue."""
