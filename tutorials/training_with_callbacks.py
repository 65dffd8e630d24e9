# Training the way the Keras guides do: metrics and losses as objects, sample and class weights, your
# own callbacks, the built-in ones, checkpoints and learning-rate schedules, on MNIST.
#
# Written for nnscratch in the style of Keras's guides "Training & evaluation with the built-in
# methods" and "Writing your own callbacks" (the same calls, in the same order, with Sequential
# models).  It runs unchanged on TensorFlow: replace the first line by `import tensorflow as tf`
# (tests/test_tutorials.py runs both and compares what they print and their accuracy).
import nnscratch as tf
import os
import tempfile

import numpy as np

keras = tf.keras

# ---------------------------------------------------------------------------------------- the data
(x_train, y_train), (x_test, y_test) = keras.datasets.mnist.load_data()
x_train = x_train.reshape(-1, 784).astype("float32") / 255
x_test = x_test.reshape(-1, 784).astype("float32") / 255
y_train = y_train.astype("float32")
y_test = y_test.astype("float32")
x_val, y_val = x_train[-1000:], y_train[-1000:]
x_train, y_train = x_train[:-1000], y_train[:-1000]
keras.utils.set_random_seed(1)


def get_compiled_model(learning_rate=1e-3):
    model = keras.Sequential([
        keras.layers.Dense(64, activation="relu", input_shape=(784,), name="dense_1"),
        keras.layers.Dense(64, activation="relu", name="dense_2"),
        keras.layers.Dense(10, activation="softmax", name="predictions"),
    ])
    model.compile(
        optimizer=keras.optimizers.RMSprop(learning_rate=learning_rate),
        loss=keras.losses.SparseCategoricalCrossentropy(),
        metrics=[keras.metrics.SparseCategoricalAccuracy(), keras.metrics.SparseTopKCategoricalAccuracy(k=3)],
    )
    return model


# ------------------------------------------------------------------- fit, History, evaluate, predict
model = get_compiled_model()
history = model.fit(x_train, y_train, batch_size=64, epochs=2, validation_data=(x_val, y_val), verbose=2)
print("history keys:", sorted(history.history))
results = model.evaluate(x_test, y_test, batch_size=128, verbose=0)
print("test loss, test acc, test top-3 acc:", [round(float(r), 3) for r in results])
print("predictions shape:", model.predict(x_test[:3], verbose=0).shape)


# ---------------------------------------------------------------------- a metric of your own
class CategoricalTruePositives(keras.metrics.Metric):
    def __init__(self, name="categorical_true_positives", **kwargs):
        super().__init__(name=name, **kwargs)
        self.true_positives = self.add_weight(name="ctp", initializer="zeros")

    def update_state(self, y_true, y_pred, sample_weight=None):
        hits = np.equal(np.asarray(y_true).astype("int32"), np.argmax(y_pred, axis=1)).astype("float32")
        self.true_positives.assign_add(np.sum(hits))

    def result(self):
        return self.true_positives

    def reset_state(self):
        self.true_positives.assign(0.0)


model = get_compiled_model()
model.compile(optimizer="rmsprop", loss="sparse_categorical_crossentropy",
              metrics=["accuracy", CategoricalTruePositives()], run_eagerly=True)
history = model.fit(x_train, y_train, batch_size=64, epochs=1, verbose=0)
print("true positives in the last epoch:", int(history.history["categorical_true_positives"][-1]))

# ------------------------------------------------------------------------ class and sample weights
class_weight = {c: 1.0 for c in range(10)}
class_weight[5] = 2.0
model = get_compiled_model()
model.fit(x_train, y_train, class_weight=class_weight, batch_size=64, epochs=1, verbose=0)
sample_weight = np.ones(shape=(len(y_train),))
sample_weight[y_train == 5] = 2.0
model = get_compiled_model()
model.fit(x_train, y_train, sample_weight=sample_weight, batch_size=64, epochs=1, verbose=0)
print("weighted accuracy on 5s:", round(float(model.evaluate(x_test[y_test == 5], y_test[y_test == 5], verbose=0)[1]), 2))


# -------------------------------------------------------------------------- callbacks of your own
class CustomCallback(keras.callbacks.Callback):
    def on_train_begin(self, logs=None):
        print("Starting training; got log keys:", list(logs.keys()))

    def on_epoch_end(self, epoch, logs=None):
        print("End epoch {} of training; got log keys: {}".format(epoch, list(logs.keys())))

    def on_test_batch_end(self, batch, logs=None):
        if batch == 0:
            print("...Evaluating: end of batch {}; got log keys: {}".format(batch, list(logs.keys())))

    def on_predict_end(self, logs=None):
        print("Stop predicting; got log keys:", list(logs.keys()))


class EarlyStoppingAtMinLoss(keras.callbacks.Callback):
    def __init__(self, patience=0):
        super().__init__()
        self.patience = patience
        self.best_weights = None

    def on_train_begin(self, logs=None):
        self.wait, self.stopped_epoch, self.best = 0, 0, np.inf

    def on_epoch_end(self, epoch, logs=None):
        current = logs.get("loss")
        if np.less(current, self.best):
            self.best, self.wait = current, 0
            self.best_weights = self.model.get_weights()
        else:
            self.wait += 1
            if self.wait >= self.patience:
                self.stopped_epoch = epoch
                self.model.stop_training = True
                self.model.set_weights(self.best_weights)

    def on_train_end(self, logs=None):
        print("Epoch %05d: early stopping" % (self.stopped_epoch + 1) if self.stopped_epoch else "no early stop")


class CustomLearningRateScheduler(keras.callbacks.Callback):
    def __init__(self, schedule):
        super().__init__()
        self.schedule = schedule

    def on_epoch_begin(self, epoch, logs=None):
        lr = float(np.array(self.model.optimizer.learning_rate))
        scheduled_lr = self.schedule(epoch, lr)
        self.model.optimizer.learning_rate = scheduled_lr
        print("Epoch {}: learning rate is {:.4f}.".format(epoch, scheduled_lr))


model = get_compiled_model(learning_rate=0.01)
model.fit(x_train[:2048], y_train[:2048], batch_size=256, epochs=1, verbose=0, validation_split=0.5,
          callbacks=[CustomCallback()])
model.evaluate(x_test, y_test, batch_size=512, verbose=0, callbacks=[CustomCallback()])
model.predict(x_test[:100], batch_size=64, verbose=0, callbacks=[CustomCallback()])
model.fit(x_train[:2048], y_train[:2048], batch_size=256, epochs=6, verbose=0,
          callbacks=[EarlyStoppingAtMinLoss(patience=1),
                     CustomLearningRateScheduler(lambda epoch, lr: lr * 3 if epoch == 2 else lr)])

# ------------------------------------------------- built-in callbacks: stopping, checkpoints, logs
folder = tempfile.mkdtemp()
model = get_compiled_model()
history = model.fit(
    x_train, y_train, epochs=8, batch_size=64, verbose=0, validation_split=0.2,
    callbacks=[
        keras.callbacks.EarlyStopping(monitor="val_loss", min_delta=1e-2, patience=2, verbose=1,
                                      restore_best_weights=True),
        keras.callbacks.ModelCheckpoint(os.path.join(folder, "mymodel_{epoch}.keras"), save_best_only=True,
                                        monitor="val_loss"),
        keras.callbacks.ModelCheckpoint(os.path.join(folder, "ckpt-loss={loss:.2f}.keras"), save_freq=100),
        keras.callbacks.ReduceLROnPlateau(monitor="val_loss", factor=0.5, patience=1),
        keras.callbacks.CSVLogger(os.path.join(folder, "training.csv")),
    ],
)
print("epochs run:", len(history.history["loss"]))
print("best checkpoints:", sorted(f for f in os.listdir(folder) if f.startswith("mymodel")))
restored = keras.models.load_model(os.path.join(folder, sorted(
    (f for f in os.listdir(folder) if f.startswith("mymodel")), key=lambda f: int(f[8:-6]))[-1]))
print("restored model's test accuracy:", round(float(restored.evaluate(x_test, y_test, verbose=0)[1]), 2))

# ------------------------------------------------------------------------- a learning-rate schedule
lr_schedule = keras.optimizers.schedules.ExponentialDecay(0.001, decay_steps=200, decay_rate=0.5, staircase=True)
model = get_compiled_model()
model.compile(optimizer=keras.optimizers.RMSprop(learning_rate=lr_schedule),
              loss="sparse_categorical_crossentropy", metrics=["accuracy"])
model.fit(x_train, y_train, batch_size=64, epochs=2, verbose=0)
print("learning rate after {} steps: {:.6f}".format(int(model.optimizer.iterations),
                                                   float(np.array(model.optimizer.learning_rate))))
score = model.evaluate(x_test, y_test, verbose=0)
print("Test accuracy:", score[1])
