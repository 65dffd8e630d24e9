# The MNIST example of Keras's guide "The Functional API" (keras.io/guides/functional_api, by
# fchollet, Keras 3 version): the model built as a graph of layers, its summary, training, evaluation,
# and saving and loading it again.  The guide's code is here verbatim, in its order, except:
# * the imports: the guide's `import keras` and `from keras import layers` are the three lines below,
#   so that the same file runs on real TensorFlow with its first import line changed to
#   `import tensorflow as tf` (tests/test_tutorials.py runs both and compares them);
# * the guide's two `keras.utils.plot_model(...)` calls are left out: drawing a graph needs pydot and
#   Graphviz, which are no part of nnscratch (model.summary() shows the same graph as a table).
import nnscratch as tf
import numpy as np  # noqa: F401  (the guide's setup imports it)

keras = tf.keras
layers = tf.keras.layers

inputs = keras.Input(shape=(784,))

# Just for demonstration purposes.
img_inputs = keras.Input(shape=(32, 32, 3))

inputs.shape

inputs.dtype

dense = layers.Dense(64, activation="relu")
x = dense(inputs)

x = layers.Dense(64, activation="relu")(x)
outputs = layers.Dense(10)(x)

model = keras.Model(inputs=inputs, outputs=outputs, name="mnist_model")

model.summary()

(x_train, y_train), (x_test, y_test) = keras.datasets.mnist.load_data()

x_train = x_train.reshape(60000, 784).astype("float32") / 255
x_test = x_test.reshape(10000, 784).astype("float32") / 255

model.compile(
    loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True),
    optimizer=keras.optimizers.RMSprop(),
    metrics=["accuracy"],
)

history = model.fit(x_train, y_train, batch_size=64, epochs=2, validation_split=0.2)

test_scores = model.evaluate(x_test, y_test, verbose=2)
print("Test loss:", test_scores[0])
print("Test accuracy:", test_scores[1])

model.save("my_model.keras")
del model
# Recreate the exact same model purely from the file:
model = keras.models.load_model("my_model.keras")
