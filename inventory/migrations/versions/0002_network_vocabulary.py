"""network vocabulary: regions, cities and categories as rows

Revision ID: 0002_network_vocabulary
Revises: 0001
Create Date: 2026-12-02 05:45:00

Pools made before this revision only ever held the demo world's five cities and eleven
categories (they were code constants), so the backfill writes those terms for the cities and
categories such a pool actually uses; an empty pool gets no rows.
"""

from collections.abc import Sequence

import sqlalchemy as sa
import sqlmodel
from alembic import op

revision: str = "0002_network_vocabulary"
down_revision: str | None = "0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# The constants of inventory/vocabulary.py at revision 0001, copied so this file never changes.
_REGIONS = {
    "North": "华北",
    "Northeast": "东北",
    "East": "华东",
    "South": "华南",
    "Southwest": "西南",
}
_CITIES = {  # code: (name_zh, region, lat, lon)
    "Beijing": ("北京", "North", 39.9042, 116.4074),
    "Shenyang": ("沈阳", "Northeast", 41.8057, 123.4315),
    "Shanghai": ("上海", "East", 31.2304, 121.4737),
    "Guangzhou": ("广州", "South", 23.1291, 113.2644),
    "Chengdu": ("成都", "Southwest", 30.5728, 104.0668),
}
_RAIN = {"rain_boots", "waterproof_shoes", "shoe_covers", "umbrellas", "rain_jackets"}
_CATEGORIES = {
    "rain_boots": "雨靴",
    "waterproof_shoes": "防水鞋",
    "shoe_covers": "鞋套",
    "umbrellas": "雨伞",
    "rain_jackets": "雨衣",
    "sneakers": "运动鞋",
    "tshirts": "T恤",
    "jeans": "牛仔裤",
    "dresses": "连衣裙",
    "sandals": "凉鞋",
    "hoodies": "卫衣",
}


def upgrade() -> None:
    region = op.create_table(
        "region",
        sa.Column("code", sqlmodel.sql.sqltypes.AutoString(length=32), nullable=False),
        sa.Column("name_en", sqlmodel.sql.sqltypes.AutoString(), nullable=False),
        sa.Column("name_zh", sqlmodel.sql.sqltypes.AutoString(), nullable=False),
        sa.PrimaryKeyConstraint("code"),
    )
    city = op.create_table(
        "city",
        sa.Column("code", sqlmodel.sql.sqltypes.AutoString(length=64), nullable=False),
        sa.Column("name_en", sqlmodel.sql.sqltypes.AutoString(), nullable=False),
        sa.Column("name_zh", sqlmodel.sql.sqltypes.AutoString(), nullable=False),
        sa.Column("region", sqlmodel.sql.sqltypes.AutoString(), nullable=False),
        sa.Column("lat", sa.Float(), nullable=False),
        sa.Column("lon", sa.Float(), nullable=False),
        sa.Column("weather_key", sqlmodel.sql.sqltypes.AutoString(), nullable=True),
        sa.ForeignKeyConstraint(["region"], ["region.code"]),
        sa.PrimaryKeyConstraint("code"),
    )
    with op.batch_alter_table("city", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_city_region"), ["region"], unique=False)
    category = op.create_table(
        "category",
        sa.Column("code", sqlmodel.sql.sqltypes.AutoString(length=48), nullable=False),
        sa.Column("name_en", sqlmodel.sql.sqltypes.AutoString(), nullable=False),
        sa.Column("name_zh", sqlmodel.sql.sqltypes.AutoString(), nullable=False),
        sa.Column("synonyms", sa.JSON(), nullable=False),
        sa.Column("rain_sensitive", sa.Boolean(), nullable=False),
        sa.PrimaryKeyConstraint("code"),
    )
    _backfill(region, city, category)


def _backfill(region: sa.Table, city: sa.Table, category: sa.Table) -> None:
    bind = op.get_bind()
    used_cities = {
        c for (c,) in bind.execute(sa.text("SELECT DISTINCT city FROM location")) if c in _CITIES
    }
    used_categories = {
        c
        for (c,) in bind.execute(sa.text("SELECT DISTINCT category FROM style"))
        if c in _CATEGORIES
    }
    regions = sorted({_CITIES[c][1] for c in used_cities})
    if regions:
        op.bulk_insert(region, [{"code": r, "name_en": r, "name_zh": _REGIONS[r]} for r in regions])
    if used_cities:
        op.bulk_insert(
            city,
            [
                {
                    "code": c,
                    "name_en": c,
                    "name_zh": _CITIES[c][0],
                    "region": _CITIES[c][1],
                    "lat": _CITIES[c][2],
                    "lon": _CITIES[c][3],
                    "weather_key": c,
                }
                for c in sorted(used_cities)
            ],
        )
    if used_categories:
        op.bulk_insert(
            category,
            [
                {
                    "code": c,
                    "name_en": c.replace("_", " "),
                    "name_zh": _CATEGORIES[c],
                    "synonyms": [],
                    "rain_sensitive": c in _RAIN,
                }
                for c in sorted(used_categories)
            ],
        )


def downgrade() -> None:
    op.drop_table("category")
    with op.batch_alter_table("city", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_city_region"))
    op.drop_table("city")
    op.drop_table("region")
