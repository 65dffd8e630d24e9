"""``nnscratch exercise``: every stub fails its check, the library's own method passes it (against finite
differences, nnscratch and real Keras), a planted typical mistake gets its hint, the learner's work is
never overwritten, and a check without Keras says what it did not check."""
import sys
import textwrap

import pytest

from nnscratch import exercises
from nnscratch.__main__ import main

NAMES = ["dense_backward", "sigmoid_backward", "tanh_backward", "relu_backward", "softmax_backward",
         "softmax_crossentropy", "dropout", "sgd_momentum_step", "adam_step", "rmsprop_step", "conv2d_backward",
         "maxpool_backward", "my_layer"]
# every layer and optimizer of the package has its exercise (Flatten's backward is a reshape)
COVERS = {"Dense": "dense_backward", "Activation": "sigmoid_backward", "Softmax": "softmax_backward",
          "Dropout": "dropout", "Conv2D": "conv2d_backward", "MaxPooling2D": "maxpool_backward",
          "SGD": "sgd_momentum_step", "Adam": "adam_step", "RMSprop": "rmsprop_step"}

# The library's own methods, written as a learner's files: each must pass its check.
LIBRARY = {
    "dense_backward": """
        from nnscratch import backend
        from nnscratch.layers import Dense

        def dense_backward(dz, x, W):
            layer = Dense(W.shape[1])
            layer.build((W.shape[0],), "float64")
            layer.kernel[...] = W
            with backend.use("numpy"):
                layer.forward(x, training=True)
                dx = layer.backward(dz)
            return dx, layer.d_kernel, layer.d_bias
        """,
    "sigmoid_backward": "from nnscratch.activations import sigmoid_backward\n",
    "tanh_backward": "from nnscratch.activations import tanh_backward\n",
    "relu_backward": "from nnscratch.activations import relu_backward\n",
    "softmax_backward": "from nnscratch.activations import softmax_backward\n",
    "sgd_momentum_step": """
        from nnscratch.optimizers import SGD

        def sgd_momentum_step(w, g, v, learning_rate=0.01, momentum=0.9, nesterov=False):
            opt = SGD(learning_rate, momentum, nesterov)
            opt.build([w])
            opt.state["velocity"][0][...] = v
            opt.apply([w], [g])
            return w, opt.state["velocity"][0]
        """,
    "rmsprop_step": """
        from nnscratch.optimizers import RMSprop

        def rmsprop_step(w, g, v, learning_rate=0.001, rho=0.9, epsilon=1e-7):
            opt = RMSprop(learning_rate, rho, epsilon=epsilon)
            opt.build([w])
            opt.state["velocity"][0][...] = v
            opt.apply([w], [g])
            return w, opt.state["velocity"][0]
        """,
    "softmax_crossentropy": """
        from nnscratch.activations import softmax
        from nnscratch.losses import softmax_crossentropy_from_logits_gradient

        def softmax_crossentropy_gradient(z, y):
            return softmax_crossentropy_from_logits_gradient(y, softmax(z))
        """,
    "dropout": """
        from nnscratch.layers import Dropout

        def dropout_forward(x, keep, rate):
            layer = Dropout(rate)
            layer.mask_source = lambda shape, dtype: keep
            return layer.forward(x, training=True), layer

        def dropout_backward(da, layer):
            return layer.backward(da)
        """,
    "adam_step": """
        from nnscratch.optimizers import Adam

        def adam_step(w, g, m, v, t, learning_rate=0.001, beta_1=0.9, beta_2=0.999, epsilon=1e-7):
            opt = Adam(learning_rate, beta_1, beta_2, epsilon)
            opt.build([w])
            opt.state["m"][0][...], opt.state["v"][0][...], opt.iterations = m, v, t - 1
            opt.apply([w], [g])
            return w, opt.state["m"][0], opt.state["v"][0]
        """,
    "conv2d_backward": "from nnscratch.conv import conv_backward_naive as conv2d_backward\n",
    "maxpool_backward": """
        from nnscratch.conv import maxpool_backward_naive

        def maxpool_backward(da, x, pool=2):
            return maxpool_backward_naive(da, x, (pool, pool))
        """,
    "my_layer": """
        import numpy as np
        from nnscratch.layers import Layer

        class Scale(Layer):
            def build(self, input_shape, dtype="float32"):
                super().build(input_shape, dtype)
                self.gamma = np.ones(self.built_input_shape[-1], dtype=self.dtype)
                self.d_gamma = np.zeros_like(self.gamma)
                self.weights, self.grads = [self.gamma], [self.d_gamma]

            def forward(self, x, training=False):
                self.cache = x
                return x * self.gamma

            def backward(self, da, need_dx=True):
                self.d_gamma[...] = np.sum(self.cache * da, axis=0)
                return da * self.gamma
        """,
}

# Typical mistakes, planted: (exercise, the learner's file, a phrase of the hint it must get)
MISTAKES = [
    ("dense_backward", "def dense_backward(dz, x, W):\n    return dz @ W.T, dz.T @ x, dz.sum(axis=0)\n", "transposed"),
    ("dense_backward", "def dense_backward(dz, x, W):\n    return -(dz @ W.T), x.T @ dz, dz.sum(axis=0)\n", "a sign"),
    ("dense_backward", "def dense_backward(dz, x, W):\n    return dz @ W.T, x.T @ dz, dz.mean(axis=0)\n",
     "an extra 1/N"),
    ("sigmoid_backward", "def sigmoid_backward(z, a, da):\n    return da * a\n", "a factor is missing"),
    ("sigmoid_backward", "def sigmoid_backward(z, a, da):\n    return da * z * (1 - z)\n", "you used z"),
    ("tanh_backward", "def tanh_backward(z, a, da):\n    return da * (1 - a)\n", "the square is missing"),
    ("relu_backward", "def relu_backward(z, a, da):\n    return da * a\n", "not the output a itself"),
    ("softmax_backward", "def softmax_backward(z, a, da):\n    return da * a * (1 - a)\n", "not diagonal"),
    ("sgd_momentum_step", """
        def sgd_momentum_step(w, g, v, learning_rate=0.01, momentum=0.9, nesterov=False):
            v = momentum * v - learning_rate * g
            return w + v, v
        """, "Nesterov moves the weights by"),
    ("sgd_momentum_step", """
        def sgd_momentum_step(w, g, v, learning_rate=0.01, momentum=0.9, nesterov=False):
            v = momentum * v + learning_rate * g
            return w - (momentum * v + learning_rate * g if nesterov else v), v
        """, "a sign"),
    ("rmsprop_step", """
        import numpy as np

        def rmsprop_step(w, g, v, learning_rate=0.001, rho=0.9, epsilon=1e-7):
            step = learning_rate * g / np.sqrt(v + epsilon)
            return w - step, rho * v + (1 - rho) * g * g
        """, "update v with this step's gradient first"),
    ("softmax_crossentropy", LIBRARY["softmax_crossentropy"].replace("return softmax_crossentropy_from_logits_gradient(y, softmax(z))",
                                                                     "return softmax(z) - y"), "a missing 1/N"),
    ("dropout", "def dropout_forward(x, keep, rate):\n    return x * keep, keep\n\n"
                "def dropout_backward(da, mask):\n    return da * mask\n", "scaled by 1/(1 - rate)"),
    ("dropout", "def dropout_forward(x, keep, rate):\n    return x * keep / rate, keep / rate\n\n"
                "def dropout_backward(da, mask):\n    return da * mask\n", "not 1/rate"),
    ("adam_step", """
        import numpy as np

        def adam_step(w, g, m, v, t, learning_rate=0.001, beta_1=0.9, beta_2=0.999, epsilon=1e-7):
            m = beta_1 * m + (1 - beta_1) * g
            v = beta_2 * v + (1 - beta_2) * g * g
            return w - learning_rate * m / (np.sqrt(v) + epsilon), m, v
        """, "no bias correction"),
    ("conv2d_backward", """
        import numpy as np
        from nnscratch.conv import conv_backward_naive

        def conv2d_backward(dz, x, W):
            kh, kw = W.shape[:2]
            dzp = np.pad(dz, ((0, 0), (kh - 1, kh - 1), (kw - 1, kw - 1), (0, 0)))
            dx = np.zeros_like(x)
            for n, h, w, ch in np.ndindex(*x.shape):
                dx[n, h, w, ch] = np.sum(dzp[n, h:h + kh, w:w + kw, :] * W[:, :, ch, :])   # the kernel not flipped
            _, dW, db = conv_backward_naive(dz, x, W)
            return dx, dW, db
        """, "FLIPPED"),
    ("maxpool_backward", """
        import numpy as np

        def maxpool_backward(da, x, pool=2):
            return np.repeat(np.repeat(da, pool, axis=1), pool, axis=2)
        """, "maximum of each window only"),
    ("my_layer", LIBRARY["my_layer"].replace("self.d_gamma[...] = np.sum", "self.d_gamma = np.sum"), "all zeros"),
    ("my_layer", LIBRARY["my_layer"].replace("return da * self.gamma", "return da * self.cache"),
     "scaled by gamma, not by x"),
]


def _write(folder, name, text):
    path = exercises.stub_path(name, folder)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(textwrap.dedent(text))
    return path


def test_the_exercises_of_the_issue_in_the_order_of_the_derivations():
    assert list(exercises.EXERCISES) == NAMES
    import nnscratch.conv
    import nnscratch.layers
    import nnscratch.optimizers
    layers = {n for m in (nnscratch.layers, nnscratch.conv) for n, c in vars(m).items()
              if isinstance(c, type) and issubclass(c, nnscratch.layers.Layer) and c is not nnscratch.layers.Layer}
    optimizers = set(nnscratch.optimizers.OPTIMIZERS[k].__name__ for k in nnscratch.optimizers.OPTIMIZERS)
    assert layers - {"Flatten"} | optimizers == set(COVERS), "a layer or optimizer without its exercise"
    assert set(COVERS.values()) <= set(NAMES)


@pytest.mark.parametrize("name", NAMES)
def test_every_stub_fails_its_check(tmp_path, name):
    path, written = exercises.start(name, tmp_path)
    text = path.read_text()
    assert written and "TODO" in text and f"nnscratch exercise check {name}" in text and "docs/" in text
    compile(text, str(path), "exec")                     # a stub is valid Python: it fails by its TODO
    report = exercises.check(name, tmp_path, keras="off")
    assert not report.passed
    assert "not implemented yet" in str(report) and "FAIL" in str(report)


@pytest.mark.parametrize("name", NAMES)
def test_the_librarys_own_method_passes_against_finite_differences_nnscratch_and_keras(tmp_path, name):
    _write(tmp_path, name, LIBRARY[name])
    report = exercises.check(name, tmp_path, keras="on")
    assert report.passed, str(report)
    checks = {r["check"].split(":")[0].split(" ")[0] for r in report.rows}
    assert "nnscratch" in checks and "Keras" in checks
    optimizer = name in ("sgd_momentum_step", "adam_step", "rmsprop_step")
    assert ("finite" in checks) != optimizer
    assert report.max_error < (1e-5 if optimizer else 1e-7), str(report)


@pytest.mark.parametrize("name,text,hint", MISTAKES, ids=[f"{m[0]}-{m[2]}" for m in MISTAKES])
def test_a_planted_mistake_gets_its_hint(tmp_path, name, text, hint):
    _write(tmp_path, name, text)
    report = exercises.check(name, tmp_path, keras="off")
    assert not report.passed
    assert any(hint in h for h in report.hints), str(report)


def test_start_never_overwrites_the_learners_work(tmp_path, capsys):
    path, written = exercises.start("dense_backward", tmp_path)
    path.write_text("# my work\n")
    again, written_again = exercises.start("dense_backward", tmp_path)
    assert written and not written_again and again == path and path.read_text() == "# my work\n"
    assert main(["exercise", "start", "dense_backward", "--dir", str(tmp_path)]) == 1
    assert "already exists" in capsys.readouterr().err and path.read_text() == "# my work\n"


def test_without_keras_the_report_says_what_was_checked(tmp_path, monkeypatch):
    monkeypatch.setitem(sys.modules, "keras_reference", None)          # as if TensorFlow were not installed
    _write(tmp_path, "sigmoid_backward", LIBRARY["sigmoid_backward"])
    report = exercises.check("sigmoid_backward", tmp_path)
    text = str(report)
    assert report.passed and "Keras: NOT CHECKED" in text and "finite differences and nnscratch only" in text
    assert all(not r["check"].startswith("Keras") for r in report.rows)
    with pytest.raises(RuntimeError, match="--keras on"):
        exercises.check("sigmoid_backward", tmp_path, keras="on")


def test_errors_in_the_learners_file_are_reported_with_their_line(tmp_path):
    _write(tmp_path, "sigmoid_backward", "def sigmoid_backward(z, a, da):\n    return da * a[:, 0:2] * (1 - a)\n")
    report = exercises.check("sigmoid_backward", tmp_path, keras="off")
    assert not report.passed and "ValueError" in str(report) and "line 2" in str(report)
    _write(tmp_path, "sigmoid_backward", "def sigmoid_backward(z, a, da)\n    return da\n")
    assert "does not import: SyntaxError" in str(exercises.check("sigmoid_backward", tmp_path, keras="off"))
    with pytest.raises(ValueError, match="nnscratch exercise start maxpool_backward"):
        exercises.check("maxpool_backward", tmp_path / "nowhere")
    with pytest.raises(ValueError, match="unknown exercise"):
        exercises.start("backprop", tmp_path)


def test_the_command_line(tmp_path, capsys):
    assert main(["exercise", "list"]) == 0
    out = capsys.readouterr().out
    assert all(name in out for name in NAMES) and "docs/derivations.md#conv2d" in out
    assert main(["exercise", "start", "softmax_crossentropy", "--dir", str(tmp_path)]) == 0
    assert "softmax_crossentropy.py" in capsys.readouterr().out
    assert main(["exercise", "check", "softmax_crossentropy", "--dir", str(tmp_path), "--keras", "off"]) == 1
    assert "FAIL" in capsys.readouterr().out
    _write(tmp_path, "softmax_crossentropy", LIBRARY["softmax_crossentropy"])
    assert main(["exercise", "check", "softmax_crossentropy", "--dir", str(tmp_path), "--keras", "off"]) == 0
    assert "-> PASS" in capsys.readouterr().out
    assert main(["exercise", "check", "--dir", str(tmp_path)]) == 2                 # no name
    assert "name an exercise" in capsys.readouterr().err
