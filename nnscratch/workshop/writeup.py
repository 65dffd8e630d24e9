"""The workshop report's text: :data:`SECTIONS` and :data:`FIGURES` (what a run writes; the tests check
every one) and :func:`write_report`, which turns a run's results into a :class:`~.report.Report`.
One long function on purpose: it reads top to bottom as the report does, section by section.
"""
import json

from .report import Report, matrix_text
from .report import epochs as _epochs
from .report import seconds as _seconds

# The report's sections (``## `` headings, in order) and figures (files in the output folder).
# tests/test_workshop.py checks every one of them.
SECTIONS = [
    "Summary: nnscratch and Keras side by side",
    "Step 1. Data exploration",
    "Step 2. Data preparation",
    "Step 3. The one-layer network",
    "Step 4. Evaluation: correct and incorrect predictions",
    "Inside the one-layer network: ten templates",
    "Exercise 1. Epochs and batch size",
    "Exercise 2. The deep network (784-512-512-10)",
    "Exercise 2b. Hidden units and hidden layers",
    "Part II. Convolutional networks and altered digits",
    "Part III. k-nearest neighbours",
    "Second data set",
    "Settings and environment",
]
FIGURES = [
    "samples.png", "digit.png", "curves_1layer.png", "correct_1layer.png", "incorrect_1layer.png",
    "confusion_1layer.png", "misclassified_1layer.png", "weights_1layer.png",
    "sweep_epochs.png", "sweep_batch_size.png", "curves_deep.png", "correct_deep.png",
    "incorrect_deep.png", "confusion_deep.png", "misclassified_deep.png", "activations_deep.png",
    "sweep_hidden_units.png", "sweep_hidden_layers.png", "gradient_norms.png",
    "part2_variants.png", "part2_accuracy.png", "conv_filters.png", "feature_maps.png", "confusion_cnn.png",
    "knn_confusion.png",
    "second_samples.png", "second_curves.png", "second_knn_confusion.png",
]


def _acc(run, side):
    """A run's test accuracy on one side (``'nnscratch'`` or ``'keras'``), None if that side did not run."""
    return run[side]["test_accuracy"] if side in run else None


def _sec(run, side):
    """A run's training time on one side, as text, None if that side did not run."""
    return _seconds(run[side]["seconds"]) if side in run else None


def write_report(s, r, full, one, one_hot, summary1, summary2, names, keras_side):
    """The report of a run: settings ``s``, results ``r``, the full data ``full``, the example image's index
    ``one`` and one-hot label, the two models' summaries, the class ``names`` and the Keras side."""
    rep = Report(f"The workshop on nnscratch: {s.dataset}" + (" (quick mode)" if s.quick_mode else ""))
    ks = keras_side.available
    m1, m2, knn = r["one_layer"], r["deep"], r["knn"]
    rows_note = (f"Neural networks trained on the first {len(full['X']) if not s.train_rows else s.train_rows:,} "
                 f"training images and tested on the first {s.test_rows or len(full['Xt']):,} test images."
                 if (s.train_rows or s.test_rows) else "All 60,000 training and 10,000 test images.")
    rep.p("The workshop *Introductie Neurale Netwerken met Keras en TensorFlow* run end to end with "
          "nnscratch - a neural network written from scratch in NumPy - "
          + ("with Keras beside it: the same architecture, the same initial weights and the same "
             "settings for every run." if ks else f"without Keras: {keras_side.reason}.")
          + f" {rows_note} Accuracies are on the test set, as in the workshop's exercises."
          + (" **Quick mode**: small subsets, few epochs and tiny sweeps, to show every step fast; the "
             "accuracies are far below the workshop's. Run `nnscratch workshop` without `--quick` for "
             "the real numbers." if s.quick_mode else ""))

    # -------------------------------------------------------------- summary
    rep.h(2, SECTIONS[0])
    header = ["step", "setting", "nnscratch accuracy", "nnscratch time (s)"]
    header += ["Keras (kNN: scikit-learn) accuracy", "Keras (kNN: scikit-learn) time (s)"] \
        if ks or "sklearn" in knn else []
    rows = []

    def add(step, setting, run):
        row = [step, setting, _acc(run, "nnscratch"), _sec(run, "nnscratch")]
        rows.append(row + ([_acc(run, "keras"), _sec(run, "keras")] if len(header) > 4 else []))

    def add_knn(step, k):
        row = [step, f"k={k['n_neighbors']}, {k['train_rows']:,} train / {k['test_rows']:,} test images",
               k["nnscratch"]["accuracy"], _seconds(k["nnscratch"]["seconds"])]
        if len(header) > 4:
            row += [k["sklearn"]["accuracy"], _seconds(k["sklearn"]["seconds"])] if "sklearn" in k else ["-", "-"]
        rows.append(row)

    add("Step 3: one-layer network", f"{_epochs(s.epochs)}, batch {s.batch_size}", m1)
    for b in r["batch_size_sweep"]:
        add("Exercise 1: batch size", f"batch {b['batch_size']}, {_epochs(b['epochs'])}", b)
    add("Exercise 2: deep network", f"784-512-512-10, {_epochs(s.epochs)}, batch {s.batch_size}", m2)
    for u in r["hidden_units_sweep"]:
        add("Exercise 2b: hidden units", f"{u['architecture']}, {_epochs(u['epochs'])}", u)
    for u in r["hidden_layers_sweep"]:
        add("Exercise 2b: hidden layers", f"{u['architecture']}, {_epochs(u['epochs'])}", u)
    add_knn("Part III: kNN", knn)
    if r["second"]:
        sd = r["second"]
        add(f"{sd['dataset']}: one-layer network", f"{_epochs(s.epochs)}, batch {s.batch_size}", sd["one_layer"])
        add(f"{sd['dataset']}: deep network", f"784-512-512-10, {_epochs(s.epochs)}, batch {s.batch_size}",
            sd["deep"])
        add_knn(f"{sd['dataset']}: kNN", sd["knn"])
    rep.table(header, rows)
    rep.p("Times are wall-clock seconds of `model.fit` alone (Keras's include tracing its training "
          "function once per new model, about a second). Same initial weights does not mean the same "
          "numbers after training: each library shuffles the data and draws dropout masks with its own "
          "random generator, so the two runs are two different random samples of the same training "
          "procedure. (`python -m keras_reference.compare` shows that with the masks and order replayed "
          "the numbers agree to float rounding.)")

    # -------------------------------------------------------------- step 1
    rep.h(2, SECTIONS[1])
    d = r["data"]
    rep.p(f"`tf.keras.datasets.{s.dataset}.load_data()` gives `x_train` of shape {tuple(d['x_train'])} and "
          f"`x_test` of shape {tuple(d['x_test'])}: uint8 grey values 0 (black) .. 255 (white), "
          "one 28 x 28 matrix per image.")
    rep.image("samples.png", "Nine random training images with their classes")
    rep.p(f"Training image {one} (class {names[full['y'][one]]}) as its 28 x 28 matrix of pixel values, "
          "printed as the workshop's `matprint` does:")
    rep.code(matrix_text(full["x"][one]))
    rep.image("digit.png", f"Training image {one}")

    # -------------------------------------------------------------- step 2
    rep.h(2, SECTIONS[2])
    rep.p(f"Features: each image is flattened to a vector of 784 pixels and scaled to [0, 1]: "
          f"`X_train = x_train.reshape(60000, 784).astype('float32') / 255` gives shape {tuple(d['X_train'])}. "
          "Target: each label becomes a one-hot row of 10 (`tf.keras.utils.to_categorical(y, 10)`, "
          "`nnscratch/utils.py`):")
    rep.code(f"{names[full['y'][one]]} -> {one_hot.astype(int).tolist()}")

    # -------------------------------------------------------------- step 3
    rep.h(2, SECTIONS[3])
    rep.p("`Dense(10, input_shape=(784,))` -> `Activation('sigmoid')` -> `Dropout(0.2)`, compiled with "
          "`loss='categorical_crossentropy', optimizer='adam', metrics=['accuracy']`:")
    rep.code(summary1)
    rep.p(f"Trained for {s.epochs} epochs at batch size {s.batch_size}; the last 10% of the training rows "
          f"are the validation data. Test accuracy: **{m1['nnscratch']['test_accuracy']:.4f}** (nnscratch)"
          + (f", **{m1['keras']['test_accuracy']:.4f}** (Keras)." if "keras" in m1 else "."))
    rep.image("curves_1layer.png", "One-layer network: loss and accuracy per epoch (solid: training, "
              "dashed: validation)")
    rep.p("Why is the training accuracy so much lower than the validation accuracy, and the training loss "
          "so much higher? The workshop puts `Dropout(0.2)` *after* the output layer: while training, each "
          "of the 10 outputs is zeroed with probability 0.2, so for about one image in five the true "
          "class's output is 0 - that image counts as wrong and costs -log(1e-7) = 16.1 in loss (the "
          "probability is clipped at 1e-7). At validation and test time dropout is off.")
    if "keras" in m1:
        rep.p("Keras's *validation* loss of this model is a different quantity from the other three loss "
              "curves: at inference Dropout passes the sigmoid's output straight to the loss, and Keras "
              "then silently computes the softmax cross-entropy of the pre-sigmoid values instead of "
              "the cross-entropy of the renormalised sigmoid outputs it trains on (and nnscratch uses "
              "throughout; see `nnscratch/losses.py` and `nnscratch compare --model 1layer`). "
              "The accuracies are the same quantity on both sides.")

    # -------------------------------------------------------------- step 4
    rep.h(2, SECTIONS[4])
    rep.p("`predicted_classes = np.argmax(model.predict(X_test), axis=-1)`; the first nine test images "
          "the one-layer network gets right, and the first nine it gets wrong:")
    rep.image("correct_1layer.png", "One-layer network: correctly predicted test images")
    rep.image("incorrect_1layer.png", "One-layer network: incorrectly predicted test images")
    rep.p("Which digits does it confuse, and how sure is it when it is wrong? The confusion matrix counts, "
          "for every true class (row), each predicted class (column); below it, wrong predictions with the "
          "ten outputs the network gave (green: the true class, red: the one it chose). This network's "
          "outputs are sigmoids, each between 0 and 1 but not summing to 1 (the loss renormalises them); "
          "the deep network's softmax outputs are probabilities.")
    rep.image("confusion_1layer.png", "One-layer network: confusion matrix on the test set")
    rep.image("misclassified_1layer.png", "One-layer network: misclassified test images and its outputs")

    # -------------------------------------------------------------- inside the one-layer network
    rep.h(2, SECTIONS[5])
    ins = r["inside"]
    corr = ins["template_correlation"]
    own = sum(k == j for j, k in enumerate(ins["template_best_match"]))
    rep.p("The one-layer network computes `z = x @ W + b`: output unit `j` adds up every pixel times its "
          "weight `W[p, j]`. So column `j` of the kernel, drawn as a 28 x 28 image, shows what unit `j` looks "
          "for: red pixels raise its output when they are inked, blue ones lower it. "
          f"The {ins['never_inked_pixels']} pixels that are black in every training image are grey: their "
          "gradient `dW = x.T @ dz` is always 0 there, so their weights never leave their random start. "
          "The weights are their random (Glorot) start plus what training added; the second row shows that "
          "change alone, `W - W_initial`.")
    rep.image("weights_1layer.png", "The ten columns of the one-layer network's kernel as images (top) and "
              "what training changed (bottom)")
    change = ins["change_correlation"]
    own_change = sum(k == j for j, k in enumerate(ins["change_best_match"]))
    rep.p(f"These are templates of the digits: the correlation of each unit's weights with the mean image of "
          f"its class (minus the mean of all images) is {min(corr):.2f} to {max(corr):.2f}, and for {own} of the "
          f"10 units the best-matching class mean is its own class; for what training changed, "
          f"{min(change):.2f} to {max(change):.2f} and {own_change} of 10 (`workshop/inside.py`, `template_match`). "
          "A one-layer network can only compare a digit with one template per class; the deep network's "
          "hidden layers build their own features first.")

    # -------------------------------------------------------------- exercise 1
    rep.h(2, SECTIONS[6])
    rep.p("The workshop asks: play with epochs and batch size; how does the accuracy change, and the "
          "training time? (Target: about 92%.) Accuracy after each epoch comes from the run above "
          "(one more epoch of `fit` continues training, exactly as a longer `fit` would); time is "
          "cumulative.")
    header = ["epochs", "nnscratch accuracy", "nnscratch time (s)"] + (["Keras accuracy", "Keras time (s)"] if ks else [])
    rows = []
    for e in range(s.epochs):
        rows.append(_epoch_row(m1, e))
    rep.table(header, rows)
    rep.image("sweep_epochs.png", "One-layer network: test accuracy and training time against epochs")
    rep.p(f"Batch size, each run from fresh weights for {_epochs(s.sweep_epochs)}:")
    rep.table(["batch size"] + header[1:], [[b["batch_size"], _acc(b, "nnscratch"), _sec(b, "nnscratch")]
                                            + ([_acc(b, "keras"), _sec(b, "keras")] if ks else [])
                                            for b in r["batch_size_sweep"]])
    rep.image("sweep_batch_size.png", "One-layer network: test accuracy and training time against batch size")

    # -------------------------------------------------------------- exercise 2
    rep.h(2, SECTIONS[7])
    rep.p("Two hidden layers of 512 sigmoid units, each followed by `Dropout(0.2)`, and a softmax output "
          "layer of 10 units; compiled and trained with the same settings. (Target: 95%, up to about 98%.)")
    rep.code(summary2)
    rep.p(f"Test accuracy: **{m2['nnscratch']['test_accuracy']:.4f}** (nnscratch)"
          + (f", **{m2['keras']['test_accuracy']:.4f}** (Keras)" if "keras" in m2 else "")
          + f" after {s.epochs} epochs at batch size {s.batch_size}.")
    rows = []
    for e in range(s.epochs):
        rows.append(_epoch_row(m2, e))
    rep.table(header, rows)
    rep.image("curves_deep.png", "Deep network: loss and accuracy per epoch (solid: training, dashed: validation)")
    rep.image("correct_deep.png", "Deep network: correctly predicted test images")
    rep.image("incorrect_deep.png", "Deep network: incorrectly predicted test images")
    rep.image("confusion_deep.png", "Deep network: confusion matrix on the test set")
    rep.image("misclassified_deep.png", "Deep network: misclassified test images and its outputs")
    sat = ins["saturated"]
    rep.p("Inside it: the sigmoid outputs of each hidden layer on test images. Where they pile up near 0 or "
          "1 the unit is *saturated*: `sigmoid'(z) = a(1 - a)` is almost 0 there, and the unit passes almost "
          "no gradient back (docs/derivations.md#sigmoid). Saturated (below 0.05 or above 0.95): "
          + ", ".join(f"{100 * v:.1f}% in {k}" for k, v in sat.items()) + ".")
    rep.image("activations_deep.png", "Deep network: histograms of each hidden layer's sigmoid outputs")

    # -------------------------------------------------------------- exercise 2b
    rep.h(2, SECTIONS[8])
    rep.p(f"\"What happens with 10 neurons instead of 512? Add hidden layers.\" Each run from fresh weights, "
          f"{_epochs(s.sweep_epochs)} at batch size {s.batch_size}.")
    sweep_header = ["network", "parameters"] + header[1:]
    for runs in (r["hidden_units_sweep"], r["hidden_layers_sweep"]):
        rep.table(sweep_header, [[u["architecture"], f"{u['params']:,}", _acc(u, "nnscratch"), _sec(u, "nnscratch")]
                                 + ([_acc(u, "keras"), _sec(u, "keras")] if ks else []) for u in runs])
    rep.image("sweep_hidden_units.png", "Test accuracy and training time against hidden units (2 hidden layers)")
    rep.image("sweep_hidden_layers.png", f"Test accuracy and training time against hidden layers "
              f"({s.depth_units} units each)")
    rep.p(_gradient_text(ins["gradient_norms"], s.depth_units))
    rep.image("gradient_norms.png", "Mean |dL/dW| of each layer before the first step: sigmoid (solid) "
              "against ReLU (dashed), at several depths")

    # -------------------------------------------------------------- part II
    rep.h(2, SECTIONS[9])
    p2 = r.get("part2")
    if p2:
        from .part2 import conclusions
        rep.p("Keras's *simple MNIST convnet* (Conv2D 32 3x3 relu, MaxPooling2D 2, Conv2D 64 3x3 relu, "
              "MaxPooling2D 2, Flatten, Dropout 0.5, Dense 10 softmax; 34,826 parameters, `zoo.simple_convnet`) "
              "beside the dense 784-512-512-10 network, both trained with nnscratch on the ordinary training "
              f"images ({p2['train_rows']:,} of them, {_epochs(p2['epochs'])}, batch {s.batch_size}), then "
              "tested on altered test digits: shifted, on a grey noisy background, rotated, shrunk and "
              f"inverted ({p2['test_rows']:,} test images per variant). Then both are trained again on "
              "augmented images (each training image replaced, with probability 1/2, by a random variant) "
              "and tested again.")
        rep.image("part2_variants.png", "One test digit in every variant")
        cols = p2["columns"]
        rep.table(["variant", "strength"] + cols,
                  [[row["kind"], row["strength"]] + [row[c] for c in cols] for row in p2["rows"]])
        rep.image("part2_accuracy.png", "Test accuracy per variant, both networks, ordinary and augmented training")
        rep.p("Inside the convnet (trained on ordinary images): its first layer's 32 filters, each a 3 x 3 "
              "pattern of weights that slides over the image, and the maps they make of one test digit: "
              "each map lights up where its filter's pattern (an edge of some direction, a stroke) occurs. "
              "The second layer combines these maps, not pixels.")
        rep.image("conv_filters.png", "The convnet's first-layer filters (red: responds to ink, blue: to its absence)")
        rep.image("feature_maps.png", "One test digit and 16 of the 32 maps the first layer makes of it")
        rep.image("confusion_cnn.png", "Simple convnet: confusion matrix on the original test images")
        rep.p("What the numbers say: " + "; ".join(conclusions(p2)) + ". A CNN's weight sharing makes its "
              "features move with the digit, but pooling only tolerates shifts of a few pixels, and nothing "
              "in the architecture knows that a white-on-black digit is the same digit: only data that "
              "contains such images (augmentation) teaches it.")
    else:
        rep.p("Skipped (`part2=False`).")

    # -------------------------------------------------------------- kNN
    rep.h(2, SECTIONS[10])
    rep.p(_knn_text(knn))
    rep.table(*_knn_table(knn))
    rep.image("knn_confusion.png", "kNN confusion matrix: rows are true classes, columns predicted classes")

    # -------------------------------------------------------------- second data set
    rep.h(2, SECTIONS[11])
    if r["second"]:
        sd = r["second"]
        rep.p(f"The same models on **{sd['dataset']}** (`tf.keras.datasets.{sd['dataset']}.load_data()`), "
              "same settings. The workshop expects kNN to drop towards 85% on Fashion-MNIST.")
        rep.image("second_samples.png", f"Nine random {sd['dataset']} training images")
        header2 = ["model", "nnscratch accuracy", "nnscratch time (s)"] + (["Keras accuracy", "Keras time (s)"] if ks else [])
        rows = [[name, _acc(x, "nnscratch"), _sec(x, "nnscratch")] + ([_acc(x, "keras"), _sec(x, "keras")] if ks else [])
                for name, x in (("one-layer network", sd["one_layer"]), ("deep network 784-512-512-10", sd["deep"]))]
        rep.table(header2, rows)
        rep.image("second_curves.png", f"{sd['dataset']}: loss and accuracy per epoch, both networks")
        rep.p(_knn_text(sd["knn"]))
        rep.table(*_knn_table(sd["knn"]))
        rep.image("second_knn_confusion.png", f"{sd['dataset']}: kNN confusion matrix")
    else:
        rep.p("Skipped (`--no-second-dataset`).")

    # -------------------------------------------------------------- settings
    rep.h(2, SECTIONS[12])
    rep.code(json.dumps(r["settings"], indent=1))
    rep.table(["", ""], [[k, v] for k, v in r["environment"].items()] + [["total time (s)", _seconds(r["seconds_total"])]])
    rep.p("Every number of this report is in `results.json` next to it. Reproduce with "
          f"`nnscratch workshop{' --quick' if s.quick_mode else ''} --dataset {s.dataset} --seed {s.seed}`.")
    return rep


def _gradient_text(norms, units):
    """What the gradient-size figure shows, in numbers from the run."""
    deepest = max(len(v) for v in norms.values())
    sig, rel = norms[f"sigmoid, {deepest} layers"], norms[f"relu, {deepest} layers"]
    return (f"Why does a deeper sigmoid network do worse after the same number of epochs? Look at the gradients "
            f"before the first step. In the {deepest}-layer sigmoid network (hidden layers of {units} units), "
            f"the mean |dL/dW| is {sig[0]:.1e} in the first layer and {sig[-1]:.1e} in the last: the first "
            f"layer gets {sig[-1] / sig[0]:,.0f} times less. Each sigmoid layer multiplies the backward signal by "
            "`sigmoid'(z) = a(1 - a) <= 1/4` (`dz = da * a * (1 - a)`), so it shrinks layer by layer towards the "
            "input: the *vanishing gradient* (Glorot and Bengio, 2010). With plain gradient descent the first "
            "layers would learn that many times slower than the last; Adam scales each weight's step by the "
            "running size of its own gradient, which makes up for much of it, and still the deeper sigmoid "
            f"networks of the sweep above train slower. With ReLU (derivative 0 or 1) it stays between "
            f"{min(rel):.1e} and {max(rel):.1e}: the gradient vanishes because of the sigmoid, not because of "
            "depth alone (`workshop/inside.py`, `gradient_norms`).")


def _epoch_row(run, e):
    row = [e + 1]
    for side in ("nnscratch", "keras"):
        if side in run:
            row += [run[side]["epoch_test_accuracy"][e], _seconds(sum(run[side]["epoch_seconds"][:e + 1]))]
    return row


def _knn_text(knn):
    return (f"k-nearest neighbours (k={knn['n_neighbors']}, Euclidean distance, majority vote) on "
            f"{knn['train_rows']:,} training and {knn['test_rows']:,} test images, with nnscratch's "
            "from-scratch `KNeighborsClassifier` (`nnscratch/neighbors/`)"
            + (" and scikit-learn's beside it." if "sklearn" in knn else ".")
            + " kNN has no training phase: the time is spent predicting, comparing every test image "
            "with every training image.")


def _knn_table(knn):
    header = ["implementation", "accuracy", "time (s)", "same predictions as nnscratch"]
    rows = [["nnscratch", knn["nnscratch"]["accuracy"], _seconds(knn["nnscratch"]["seconds"]), "-"]]
    if "sklearn" in knn:
        rows.append(["scikit-learn", knn["sklearn"]["accuracy"], _seconds(knn["sklearn"]["seconds"]),
                     f"{100 * knn['sklearn']['same_predictions']:.2f}%"])
    return header, rows
