"""Shared test setup. One torch thread per test process: `make test` runs two processes on two cores,
and torch's default of one thread per core would oversubscribe them (measured: a tiny VGGish forward
took 0.7 s with 2 threads under load and 0.003 s with 1)."""

import torch

torch.set_num_threads(1)
