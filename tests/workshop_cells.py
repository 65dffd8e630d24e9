"""The workshop's code cells, verbatim, and the program that runs them on nnscratch.

``SEED_CELLS`` is a copy of every code cell of the workshop notebook
(``../shared/seed/000_8c9ff11122bd93e3.txt``, "Introductie Neurale Netwerken met Keras en TensorFlow"),
in order, named by what they do.  ``tests/test_workshop.py`` checks that each one still appears word
for word in the seed text when that file is present, so this copy cannot drift.

The seed notebook leaves the exercises (cells tagged ``student``) empty; ``STUDENT`` holds our answers,
which are the workshop's instructions written out (e.g. "Dense(y, input_shape=(x,))" with x=784, y=10).

:func:`program` assembles one Python script: the seed cells with ``import tensorflow as tf`` swapped
for ``import nnscratch as tf`` and nothing else changed, the student answers in their places, and a
few clearly marked harness cells.  Every other change is an explicit :data:`EDITS` entry with its
reason, applied only if its text matches exactly once (so a changed seed fails loudly):

* the two kNN cells use pandas and seaborn, which nnscratch does not depend on: their import lines
  are dropped and the seaborn heat map is drawn with ``nnscratch.plotting.plot_confusion_matrix``;
* ``quick=True`` (the test) trains the deep model on the first 20,000 training images instead of all
  60,000 and classifies the first 2,000 test images with kNN, for speed on CI.
"""

SEED_CELLS = [
    ('imports', r'''
import random  
import time

import numpy as np
import matplotlib.pyplot as plt

import tensorflow as tf

print("Keras/Tensorflow version", tf.keras.__version__)
'''),
    ('load_data', r'''
# Inladen van de dataset, deze is al gesplitst in een train- en testset
(x_train, y_train), (x_test, y_test) = tf.keras.datasets.mnist.load_data()

print("x_train shape", x_train.shape)
print("y_train shape", y_train.shape)
print("x_test shape", x_test.shape)
print("y_test shape", y_test.shape)
'''),
    ('sample_grid', r'''
plt.figure(figsize=(9,9))

for i in range(9):
    plt.subplot(3,3,i+1)
    mnist_number = random.randint(0, len(x_train))
    plt.imshow(x_train[mnist_number], cmap='gray', interpolation='none')
    plt.title("Class {}".format(y_train[mnist_number]))
    
plt.tight_layout()
'''),
    ('matprint', r'''
# just a little function for pretty printing a matrix
def matprint(mat, fmt="g"):
    col_maxes = [max([len(("{:"+fmt+"}").format(x)) for x in col]) for col in mat.T]
    for x in mat:
        for i, y in enumerate(x):
            print(("{:"+str(col_maxes[i])+fmt+"}").format(y), end="  ")
        print("")

# now print!        
matprint(x_train[mnist_number])
'''),
    ('flatten_normalise', r'''
# Let op: we schakelen hier over van een kleine letter naar een hoofdletter, zodat de originele
# trainingsdata in `x_train` beschikbaar blijft!

X_train = x_train.reshape(60000, 784) # reshape de 60.000 plaatjes van 28 x 28 matrices naar 60.000 784-lengte vectoren.
X_test = x_test.reshape(10000, 784)

X_train = X_train.astype('float32')   # verander datatype van integers naar 32-bit floats
X_test = X_test.astype('float32') 

X_train /= 255                        # normaliseer de pixels door de waarde te delen door de maximale waarde (= 255)
X_test /= 255

print("Training matrix shape", X_train.shape)
print("Testing matrix shape", X_test.shape)
'''),
    ('show_one', r'''
plt.figure(figsize=(2,2))
plt.imshow(X_train[mnist_number].reshape(28,28), cmap='gray', interpolation='none')
print("Dit is een:", y_train[mnist_number])
'''),
    ('one_hot', r'''
## One-hot encoding
nb_classes = 10 # aantal klassen

Y_train = tf.keras.utils.to_categorical(y_train, nb_classes)
Y_test = tf.keras.utils.to_categorical(y_test, nb_classes)

print("De", y_train[mnist_number], "is na one-hot encoding:", Y_train[mnist_number])
'''),
    ('model1_new', r'''
model = tf.keras.Sequential()
'''),
    ('model1_activation', r'''
model.add(tf.keras.layers.Activation('sigmoid'))
'''),
    ('model1_dropout', r'''
model.add(tf.keras.layers.Dropout(0.2))
'''),
    ('model1_summary', r'''
model.summary()

# We slaan de parameters van het model op, zodat je ze eventueel
# later kunt gebruiken
weights_init = model.get_weights()  
'''),
    ('model1_compile', r'''
model.compile(loss='categorical_crossentropy', optimizer='adam', metrics=['accuracy'])
'''),
    ('model1_fit', r'''
model.fit(X_train, Y_train,
          batch_size=512, epochs=1,
          verbose=1) # verbose zorgt voor een animatie van de voortgang
'''),
    ('model1_evaluate', r'''
score = model.evaluate(X_test, Y_test)
print('Test loss:', score[0])
print('Test accuracy:', score[1])
'''),
    ('model1_predict', r'''
# The predict_classes function outputs the highest probability class
# according to the trained classifier for each input example.
# predicted_classes = model.predict_classes(X_test)  # deprecated
predicted_classes = np.argmax(model.predict(X_test), axis=-1)

# Check which items we got right / wrong
correct_indices = np.nonzero(predicted_classes == y_test)[0]
incorrect_indices = np.nonzero(predicted_classes != y_test)[0]
'''),
    ('model1_correct_grid', r'''
plt.figure(figsize=(9,9))
for i, correct in enumerate(correct_indices[:9]):
    plt.subplot(3,3,i+1)
    plt.imshow(X_test[correct].reshape(28,28), cmap='gray', interpolation='none')
    plt.title("Predicted {}, Class {}".format(predicted_classes[correct], y_test[correct]))
    
plt.tight_layout()
'''),
    ('model1_incorrect_grid', r'''
plt.figure(figsize=(9,9))
for i, incorrect in enumerate(incorrect_indices[:9]):
    plt.subplot(3,3,i+1)
    plt.imshow(X_test[incorrect].reshape(28,28), cmap='gray', interpolation='none')
    plt.title("Predicted {}, Class {}".format(predicted_classes[incorrect], y_test[incorrect]))
    
plt.tight_layout()
'''),
    ('model2_new', r'''
# We starten weer met het initialiseren van het model
model = tf.keras.Sequential()
'''),
    ('model2_summary', r'''
# Laten we even kijken hoe dat eruit ziet
model.summary()
'''),
    ('model2_compile', r'''
model.compile(loss='categorical_crossentropy', optimizer='adam', metrics=['accuracy'])
'''),
    ('model2_fit', r'''
model.fit(X_train, Y_train,
          batch_size=512, epochs=1,
          verbose=1)
'''),
    ('model2_evaluate', r'''
score = model.evaluate(X_test, Y_test)
print('Test loss:', score[0])
print('Test accuracy:', score[1])
'''),
    ('knn_imports', r'''
import pandas as pd
import seaborn as sns

from sklearn.model_selection import train_test_split   
from sklearn.neighbors import KNeighborsClassifier    # kNN from sklearn
from sklearn.metrics import confusion_matrix
from sklearn.metrics import accuracy_score
'''),
    ('knn_heatmap', r'''
fig, ax = plt.subplots(figsize=(9, 5), dpi=100)

ax = sns.heatmap(pd.DataFrame(cm), annot=True, cmap='Greens', fmt='d')
bottom, top = ax.get_ylim()
ax.set_ylim(bottom + 0.5, top - 0.5)

ax.set_xlabel('voorspelde waarde')
ax.set_ylabel('echte waarde')

plt.show()
'''),
]

STUDENT = {
    # Stap 3: "model.add(Dense(y, input_shape=(x,)))" with 784 inputs and 10 outputs.
    "model1_new": """
model.add(tf.keras.layers.Dense(10, input_shape=(784,)))
""",
    # Opdracht 2.a: 512 sigmoid units + dropout 0.2, twice, then 10 softmax units.
    "model2_new": """
model.add(tf.keras.layers.Dense(512, input_shape=(784,)))
model.add(tf.keras.layers.Activation('sigmoid'))
model.add(tf.keras.layers.Dropout(0.2))

model.add(tf.keras.layers.Dense(512))
model.add(tf.keras.layers.Activation('sigmoid'))
model.add(tf.keras.layers.Dropout(0.2))

model.add(tf.keras.layers.Dense(10))
model.add(tf.keras.layers.Activation('softmax'))
""",
    # Opdracht 3.a: fit kNN on X_train/y_train, predict X_test into y_pred, accuracy, confusion matrix.
    # With nnscratch's from-scratch kNN (same interface as scikit-learn's), and scikit-learn's beside it.
    "knn_imports": """
from nnscratch.neighbors import KNeighborsClassifier as ScratchKNeighborsClassifier

n_test = KNN_TEST_ROWS
knn = ScratchKNeighborsClassifier(n_neighbors=3)
knn.fit(X_train, y_train)
y_pred = knn.predict(X_test[:n_test])
print("kNN (nnscratch) accuracy:", accuracy_score(y_test[:n_test], y_pred))

sk_knn = KNeighborsClassifier(n_neighbors=3)
sk_knn.fit(X_train, y_train)
y_pred_sklearn = sk_knn.predict(X_test[:n_test])
print("kNN (scikit-learn) accuracy:", accuracy_score(y_test[:n_test], y_pred_sklearn))

cm = confusion_matrix(y_test[:n_test], y_pred)
""",
}

# The "Fashion MNIST" paragraph gives two lines of code inline (not as a cell); we run them too.
FASHION_LINES = """
fashion_mnist = tf.keras.datasets.fashion_mnist
(X_train, y_train), (X_test, y_test) = fashion_mnist.load_data()
print("Fashion-MNIST", X_train.shape, y_train.shape, X_test.shape, y_test.shape)
"""

# (cell, old text, new text, reason, quick-only)
EDITS = [
    ("imports", "import tensorflow as tf", "import nnscratch as tf",
     "the one line the workshop changes", False),
    ("knn_imports", "import pandas as pd\nimport seaborn as sns\n", "",
     "nnscratch depends on matplotlib only, not pandas/seaborn (used only for the heat map)", False),
    ("knn_heatmap", "ax = sns.heatmap(pd.DataFrame(cm), annot=True, cmap='Greens', fmt='d')\n"
                    "bottom, top = ax.get_ylim()\nax.set_ylim(bottom + 0.5, top - 0.5)\n",
     "from nnscratch.plotting import plot_confusion_matrix\n"
     "plot_confusion_matrix(cm, ax=ax, title=None)\n",
     "seaborn's annotated heat map, drawn by nnscratch.plotting with matplotlib", False),
    ("model2_fit", "model.fit(X_train, Y_train,", "model.fit(X_train[:DEEP_TRAIN_ROWS], Y_train[:DEEP_TRAIN_ROWS],",
     "quick: the deep model trains on a subset of the training images", True),
]

# Harness cells (not workshop code), inserted after the named cell.
HARNESS_AFTER = {
    "model1_evaluate": "_results['model1_test_accuracy'] = float(score[1])\n",
    "model2_evaluate": "_results['model2_test_accuracy'] = float(score[1])\n",
    "knn_imports": ("_results['knn_accuracy'] = float(accuracy_score(y_test[:n_test], y_pred))\n"
                    "_results['knn_sklearn_accuracy'] = float(accuracy_score(y_test[:n_test], y_pred_sklearn))\n"
                    "_results['knn_cm_total'] = int(cm.sum())\n"),
}

PREAMBLE = """\
# ---- harness: a non-interactive matplotlib, repeatable randomness, a dict for the results ----
import matplotlib
matplotlib.use("Agg")
import random as _random
_random.seed(0)
from nnscratch.utils import set_random_seed as _set_random_seed
_set_random_seed(0)
_results = {}
"""

EPILOGUE = """\
# ---- harness: hand the numbers to the test ----
import json as _json, os as _os
if _os.environ.get("WORKSHOP_RESULTS"):
    with open(_os.environ["WORKSHOP_RESULTS"], "w") as _f:
        _json.dump(_results, _f)
"""


def _strip(text):
    return text.strip("\n") + "\n"


def _apply(cell_name, code, quick):
    for name, old, new, reason, quick_only in EDITS:
        if name != cell_name or (quick_only and not quick):
            continue
        if code.count(old) != 1:
            raise AssertionError(f"edit for cell {name!r} ({reason}): expected its text exactly once")
        code = code.replace(old, new)
    return code


def program(quick=True, deep_train_rows=20000, knn_test_rows=2000):
    """The whole workshop as one script (see the module docstring)."""
    parts = [PREAMBLE]
    for name, code in SEED_CELLS:
        parts.append(f"# ---- workshop cell: {name} ----\n" + _apply(name, _strip(code), quick))
        if name in STUDENT:
            parts.append(f"# ---- student answer after {name} ----\n" + _strip(STUDENT[name]))
        if name in HARNESS_AFTER:
            parts.append("# ---- harness ----\n" + HARNESS_AFTER[name])
    parts.append("# ---- workshop text: Fashion MNIST ----\n" + _strip(FASHION_LINES))
    parts.append(EPILOGUE)
    text = "\n".join(parts)
    text = text.replace("DEEP_TRAIN_ROWS", str(deep_train_rows))
    text = text.replace("KNN_TEST_ROWS", str(knn_test_rows if quick else 10000))
    return text
