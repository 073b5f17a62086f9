"""GenMS: Generative Hierarchical Materials Search in JAX/Flax.

Importing the package has no side effects; subpackages are imported on use.
"""

__version__ = "0.1.0"
