"""I/O of list_locations and list_catalog; their JSON schema is what an LLM sees."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, Field


class ListLocationsInput(BaseModel):
    """Cities and regions (EN + 中文), or the stores and DCs of one city or region."""

    city: str | None = Field(default=None, description="City in English or Chinese, e.g. 上海.")
    region: str | None = Field(default=None, description="Region, e.g. East or 华东.")
    kind: Literal["store", "dc", "online"] | None = None


class CityView(BaseModel):
    city: str
    city_zh: str
    region: str
    region_zh: str
    stores: int
    dcs: int


class LocationView(BaseModel):
    code: str
    kind: str
    name_en: str
    name_zh: str
    city: str
    tier: str


class ListLocationsOutput(BaseModel):
    code_format: str = Field(description="How location codes are built, with pool examples.")
    cities: list[CityView] = Field(default_factory=list)
    locations: list[LocationView] = Field(default_factory=list)


class ListCatalogInput(BaseModel):
    """Categories (EN + 中文), or the styles of one category with their colours and sizes."""

    category: str | None = Field(default=None, description="e.g. rain_boots, rain boots, 雨靴.")


class CategoryView(BaseModel):
    category: str
    category_zh: str
    rain_sensitive: bool
    styles: int


class StyleView(BaseModel):
    code: str
    name_en: str
    name_zh: str
    price: float
    colours: list[str]
    sizes: list[str]
    example_sku: str


class ListCatalogOutput(BaseModel):
    code_format: str = Field(description="How SKU codes are built, with a pool example.")
    categories: list[CategoryView] = Field(default_factory=list)
    styles: list[StyleView] = Field(default_factory=list)
