"""Data access: dataset sources and downloads, the compact ``.npz`` cache, the MP training
union, and the known compounds (:mod:`.known`) behind the reference formula set
(:mod:`.reference`) that R_hi's uniqueness check and the benchmarks use."""
