"""The demo utility: the synthetic supply company of a fresh install, and all that only it needs.

Nothing outside this package knows the demo: the product reads whatever store it is given.
"""

from core.demo.generator import (
    ABNORMAL_KINDS,
    ARCHETYPES,
    DEFAULT_CUSTOMERS,
    DEFAULT_SEED,
    DEFAULT_YEARS,
    DemoSummary,
    generate,
    print_progress,
)

__all__ = [
    "ABNORMAL_KINDS",
    "ARCHETYPES",
    "DEFAULT_CUSTOMERS",
    "DEFAULT_SEED",
    "DEFAULT_YEARS",
    "DemoSummary",
    "generate",
    "print_progress",
]
