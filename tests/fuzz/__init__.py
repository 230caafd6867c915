"""The fuzz targets of ``fuzz/`` as hypothesis properties, short enough for every run."""
