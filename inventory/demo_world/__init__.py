"""The seeded demo world: a retailer in five cities whose demand reacts to the real rain.

``build_world(engine, spec)`` writes one into a migrated, empty pool; ``world_template(spec)``
caches one as a SQLite file to copy. docs/demo-world.md describes the model and its parameters.
"""

from inventory.demo_world.build import WorldNotEmptyError, build_world
from inventory.demo_world.params import DEFAULT_PARAMETERS, DemandParameters
from inventory.demo_world.spec import DEFAULT_NOW, WorldSpec, WorldSummary
from inventory.demo_world.template import copy_world, world_template

__all__ = [
    "DEFAULT_NOW",
    "DEFAULT_PARAMETERS",
    "DemandParameters",
    "WorldNotEmptyError",
    "WorldSpec",
    "WorldSummary",
    "build_world",
    "copy_world",
    "world_template",
]
