"""What a graph model costs: the workshop's 3-layer chain built with the functional API
(``keras.Input`` ... ``keras.Model(inputs, outputs)``) against the same chain as a ``Sequential``
(issue 29's target: within 5%).

    NNSCRATCH_DATA=<folder with MNIST> python benchmarks/functional.py         # full: 60,000 images
    python benchmarks/functional.py --samples 2048 --rounds 2 --epochs 2       # a quick check that it runs

Each measurement is a fresh process (``--worker``) that builds the workshop's 784-512-512-10 model
(sigmoid, dropout 0.2, softmax; ``zoo.mlp``'s layers, the same seeds, so the same initial weights on
both sides), runs one warm-up epoch, then times ``--epochs`` epochs of ``fit(batch_size=128)``, each
epoch on an :class:`~speedbench.clock.EpochClock` (wall, process CPU, steal, load).  The two sides
run interleaved (A B, B A, ...) for ``--rounds`` rounds; the summary gives each side's best and
median epoch and their ratios, and the JSON keeps every epoch and the machine.

The sides:

* ``sequential``: ``zoo.mlp(2, 512, 0.2)``, a ``Sequential``; its step is ``models.py``'s.
* ``functional``: the same layers (new objects, same seeds) called on ``keras.Input((784,))`` and made
  into ``keras.Model(inputs, outputs)``; its step is ``functional.py``'s (a dict of the tensors'
  arrays, the nodes in graph order, the same layer methods).

Both compile ``Adam()`` with ``sparse_categorical_crossentropy`` and ``accuracy``, so the difference is
what walking the graph adds per batch: the dict of values, one lookup per node and per gradient.
Both sides must also end with the same weights: the worker prints a checksum of them.
"""
import os
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
from speedbench import ab  # noqa: E402
from speedbench.env import user_machine_env  # noqa: E402

SIDES = ("sequential", "functional")


def build(side, seed):
    """The workshop's deep network as a Sequential or as a graph of the same layers."""
    import nnscratch
    from nnscratch import zoo
    stack = zoo.mlp(2, 512, 0.2, seed=seed, compile=False)
    if side == "sequential":
        return stack
    layers = [type(layer)(**{k: v for k, v in layer.get_config().items() if k not in ("name", "input_shape",
                                                                                        "trainable")})
              for layer in stack.layers]
    for new, old in zip(layers, stack.layers):
        if hasattr(old, "seed"):
            new.seed = old.seed
    inputs = nnscratch.keras.Input((784,))
    x = inputs
    for layer in layers:
        x = layer(x)
    model = nnscratch.keras.Model(inputs, x, name="functional_mlp")
    model.set_weights(stack.get_weights())
    for new, old in zip(layers, stack.layers):
        if hasattr(old, "rng"):
            new.rng = old.rng                      # the same dropout masks as the Sequential draws
    return model


def worker(side, samples, epochs, seed):
    """One fresh process: build, warm up one epoch, time ``epochs`` epochs; print the records as JSON."""
    import json

    import numpy as np

    import nnscratch
    from nnscratch import optimizers
    from speedbench.clock import EpochClock
    from speedbench.env import blas_kernel

    x, y = ab.mnist_rows(samples)
    nnscratch.set_random_seed(seed)
    model = build(side, seed)
    model.compile(optimizer=optimizers.Adam(), loss="sparse_categorical_crossentropy", metrics=["accuracy"])
    clock = EpochClock()
    model.fit(x, y, batch_size=128, epochs=epochs + 1, verbose=0, shuffle=False, callbacks=[ab.epoch_timer(clock)])
    checksum = float(sum(np.sum(w, dtype=np.float64) for w in model.get_weights()))
    print(json.dumps({"side": side, "warmup": clock.records[:1], "epochs": clock.records[1:],
                      "blas_kernel": blas_kernel(), "iterations": int(model.optimizer.iterations),
                      "weights_checksum": checksum}))


def same_weights(runs):
    """Both sides must end with the same weights (the same layers, seeds and batches)."""
    checksums = {side: sorted({p["weights_checksum"] for p in runs[side]}) for side in SIDES}
    same = checksums["sequential"] == checksums["functional"]
    return "same_weights", same, f"the same weights after training on both sides: {same} ({checksums})"


def main(argv=None):
    return ab.main(__file__, __doc__, SIDES, worker, target=0.05, argv=argv, check=same_weights)


if __name__ == "__main__":
    user_machine_env()
    main()
