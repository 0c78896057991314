"""Reading the plant's time series: the introspected catalog, the access layer, text context, health."""
