"""forecast_demand: daily mean and quantiles per SKU × location (or style × location)."""
