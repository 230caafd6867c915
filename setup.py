"""Builds the optional C accelerator; everything else is in pyproject.toml."""

from setuptools import Extension, setup

setup(
    ext_modules=[
        Extension(
            "aiosocketio.ws._speedups",
            ["src/aiosocketio/ws/_speedups.c"],
            optional=True,  # without a C compiler the pure-Python code is used
        )
    ]
)
