"""What the workshop report runs (:class:`Settings`) and how it reports progress (:class:`Progress`)."""
import dataclasses
import sys
import time


@dataclasses.dataclass
class Settings:
    """What the report runs.  ``Settings()`` is the full workshop; :meth:`quick` finishes in under a minute."""
    dataset: str = "mnist"               # the main data set; the "second data set" section uses the other
    second_dataset: bool = True          # run the other data set (Fashion-MNIST for MNIST) too
    epochs: int = 10                     # main models: epochs (training curves, accuracy per epoch)
    batch_size: int = 128                # main models and every sweep that does not vary it
    batch_sizes: tuple = (32, 64, 128, 256, 512, 1024)       # exercise 1: the 1-layer model
    sweep_epochs: int = 5                # epochs for the batch-size, hidden-unit and hidden-layer sweeps
    hidden_units: tuple = (10, 32, 64, 128, 256, 512)        # exercise 2b: 2 hidden layers of n units
    hidden_layers: tuple = (1, 2, 3, 4)  # exercise 2b: n hidden layers of `depth_units` units
    depth_units: int = 512
    train_rows: int = 0                  # first rows of the training set to use (0 = all 60,000)
    test_rows: int = 0                   # first rows of the test set (0 = all 10,000)
    part2: bool = True                   # part II: dense network and CNN on altered digits
    part2_epochs: int = 3                # epochs of each part II network (ordinary and augmented data)
    part2_train_rows: int = 0            # part II's training rows (0 = as train_rows)
    part2_test_rows: int = 2000          # part II's test rows per variant (0 = as test_rows)
    knn_neighbors: int = 3
    knn_train_rows: int = 0              # 0 = all training rows
    knn_test_rows: int = 0               # 0 = all test rows
    keras: str = "auto"                  # 'auto' (if TensorFlow imports), 'on' (required), 'off'
    sklearn: bool = True                 # scikit-learn's kNN beside nnscratch's
    seed: int = 0
    out: str = "workshop-report"
    verbose: int = 1                     # 0 silent, 1 one line per step, 2 also each epoch
    quick_mode: bool = False

    @classmethod
    def quick(cls, **overrides):
        """Every section and figure, on small subsets: under a minute on a 2-core machine."""
        base = dict(epochs=2, batch_size=128, batch_sizes=(32, 256), sweep_epochs=1,
                    hidden_units=(10, 128), hidden_layers=(1, 2), depth_units=64,
                    train_rows=3000, test_rows=1000, knn_train_rows=10000, knn_test_rows=1000,
                    part2_epochs=2, part2_train_rows=1000, part2_test_rows=200,
                    quick_mode=True)
        base.update(overrides)
        return cls(**base)

    def check(self):
        """Raise a ``ValueError`` naming the first bad setting; return ``self`` (lists made tuples)."""
        from .. import datasets
        if self.dataset not in datasets.__all__ or self.dataset == "DownloadError":
            raise ValueError(f"unknown dataset {self.dataset!r}: choose 'mnist' or 'fashion_mnist'")
        if self.keras not in ("auto", "on", "off"):
            raise ValueError(f"keras must be 'auto', 'on' or 'off', got {self.keras!r}")
        for name in ("epochs", "batch_size", "sweep_epochs", "depth_units", "knn_neighbors", "part2_epochs"):
            if int(getattr(self, name)) < 1:
                raise ValueError(f"{name} must be a positive integer, got {getattr(self, name)!r}")
        for name in ("batch_sizes", "hidden_units", "hidden_layers"):
            values = tuple(int(v) for v in getattr(self, name))
            if not values or min(values) < 1:
                raise ValueError(f"{name} must be a non-empty list of positive integers, got {values!r}")
            setattr(self, name, values)
        for name in ("train_rows", "test_rows", "knn_train_rows", "knn_test_rows", "part2_train_rows",
                     "part2_test_rows"):
            if int(getattr(self, name)) < 0:
                raise ValueError(f"{name} must be >= 0 (0 = all rows), got {getattr(self, name)!r}")
        return self


class Progress:
    """One line per step, with the elapsed time: ``[  3.1 s] 1-layer model, 2 epochs ... done``."""

    def __init__(self, verbose=1, stream=None):
        self.verbose = verbose
        self.stream = stream or sys.stdout
        self.start = time.perf_counter()

    def __call__(self, text):
        if self.verbose:
            print(f"[{time.perf_counter() - self.start:6.1f} s] {text}", file=self.stream, flush=True)

    @property
    def elapsed(self):
        return time.perf_counter() - self.start
