"""The retailer's own promotion plan: what it will discount, where, on which days.

A plan is known from ``planned_at`` on, so a forecast at a clock reads the plans made before it
(the horizon's promos are the retailer's decision, not a leak of the future); a plan made after
the clock is not seen. Sales rows keep saying what really happened on a day.
"""

import datetime as dt

from sqlmodel import Field, SQLModel


class PromoPlan(SQLModel, table=True):
    __tablename__ = "promo_plan"

    id: int | None = Field(default=None, primary_key=True)
    style_code: str = Field(foreign_key="style.code", index=True)
    location_code: str | None = Field(
        default=None, foreign_key="location.code", description="None: every location."
    )
    start: dt.date = Field(index=True)
    end: dt.date = Field(description="Last promo day, inclusive.")
    depth: float = Field(description="Discount as a fraction of the regular price, e.g. 0.3.")
    planned_at: dt.datetime = Field(description="When the plan was made (known from then on).")
