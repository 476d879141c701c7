"""stock_lookup: positions with ATP, in-transit and days of cover."""
