"""Crystal core: the compact representation, conversions, compositions and geometry."""

from genms.crystal.structure import Crystal, lattice_from_params, lattice_to_params

__all__ = ["Crystal", "lattice_from_params", "lattice_to_params"]
