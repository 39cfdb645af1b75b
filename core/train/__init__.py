"""Training in the app: backpropagation through time in numpy, in worker processes.

One module per concern: `cells` (each architecture's forward and backward through time), `loss` (softmax
cross-entropy, many-to-many or many-to-one), `optim` (Adam and global-norm clipping), `tasks` (recall and
your text, each batch a pure function of the step and the seed), `engine` (one training step and its
report), `jobs` (the worker pool a page submits to). The gate order and state names are core/contract.py's,
so a trained model runs where the shipped ones do.

No torch and no streamlit here; float32; BLAS pinned to one thread in the workers (core/train/worker.py).
"""
