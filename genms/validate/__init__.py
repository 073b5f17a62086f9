"""The validation stage: CHGNet pre-relaxation and GPAW DFT formation energies.

``batch.run_validation`` validates a list of ``tasks.StructureTask`` into a resumable results
folder; ``inputs`` builds tasks from CIFs and run folders; ``commands`` holds the
``genms validate`` entry point (``genms eval dft`` is :mod:`genms.benchmarks.dft`). GPAW and
CHGNet (optional) are imported only when they are used.
"""
