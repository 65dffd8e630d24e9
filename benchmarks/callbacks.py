"""What the callbacks of a typical run cost: an epoch at batch 128 with EarlyStopping + ModelCheckpoint
+ a learning-rate schedule, against the same epoch without them (issue 28's target: within 3%).

    NNSCRATCH_DATA=<folder with MNIST> python benchmarks/callbacks.py            # full: 60,000 images
    python benchmarks/callbacks.py --samples 2048 --rounds 2 --epochs 2          # a quick check that it runs

Each measurement is a fresh process (``--worker``) that builds the workshop's 784-512-512-10 model
(``zoo.mlp``), runs one warm-up epoch, then times ``--epochs`` epochs of ``fit(batch_size=128)``, each
epoch on an :class:`~speedbench.clock.EpochClock` (wall, process CPU, steal, load).  The two sides run
interleaved (A B A B ...) for ``--rounds`` rounds; the summary gives each side's best and median
epoch and their ratios, and the JSON keeps every epoch and the machine.

The sides:

* ``plain``:     ``fit(x, y, batch_size=128, validation_split=0.1)``, the optimizer ``Adam(1e-3)``
* ``callbacks``: the same, with ``Adam(ExponentialDecay(1e-3, 1000, 0.9))``,
  ``EarlyStopping(monitor='val_loss', patience=5, restore_best_weights=True)`` and
  ``ModelCheckpoint('<tmp>/best.npz', monitor='val_loss', save_best_only=True)``

Both validate every epoch (EarlyStopping and the checkpoint watch ``val_loss``), so the difference is
what the callbacks and the schedule add: a learning rate computed each step, the epoch-end logs,
``get_weights()`` on improvement, and a model file written on improvement.
"""
import os
import sys
import tempfile

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
from speedbench import ab  # noqa: E402
from speedbench.env import user_machine_env  # noqa: E402

SIDES = ("plain", "callbacks")


def worker(side, samples, epochs, seed):
    """One fresh process: build, warm up one epoch, time ``epochs`` epochs; print the records as JSON."""
    import json

    import nnscratch
    from nnscratch import monitors, optimizers, schedules, zoo
    from speedbench.clock import EpochClock
    from speedbench.env import blas_kernel

    x, y = ab.mnist_rows(samples)
    nnscratch.set_random_seed(seed)
    model = zoo.mlp(2, 512, 0.2, compile=False)
    lr = 1e-3 if side == "plain" else schedules.ExponentialDecay(1e-3, decay_steps=1000, decay_rate=0.9)
    model.compile(optimizer=optimizers.Adam(lr), loss="sparse_categorical_crossentropy", metrics=["accuracy"])
    clock = EpochClock()
    with tempfile.TemporaryDirectory() as folder:
        extra = [] if side == "plain" else [
            monitors.EarlyStopping(monitor="val_loss", patience=5, restore_best_weights=True),
            monitors.ModelCheckpoint(os.path.join(folder, "best.npz"), monitor="val_loss", save_best_only=True)]
        model.fit(x, y, batch_size=128, epochs=epochs + 1, verbose=0, validation_split=0.1,
                  callbacks=[ab.epoch_timer(clock)] + extra)
    print(json.dumps({"side": side, "warmup": clock.records[:1], "epochs": clock.records[1:],
                      "blas_kernel": blas_kernel(), "iterations": int(model.optimizer.iterations)}))


def main(argv=None):
    return ab.main(__file__, __doc__, SIDES, worker, target=0.03, argv=argv)


if __name__ == "__main__":
    user_machine_env()
    main()
