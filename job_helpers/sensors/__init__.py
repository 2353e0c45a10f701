"""Sensor time series: raw readings to a gap-free, one-row-per-second lake table partitioned by hour."""
