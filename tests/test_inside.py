"""Pictures of what the networks learned (``nnscratch.plotting``, ``nnscratch.workshop.inside``), tested for
content: the numbers behind each picture say what its caption says, on real MNIST, and what a figure
draws is those numbers (read back from the matplotlib artists)."""
import numpy as np
import pytest

from nnscratch import conv, plotting, zoo
from nnscratch.utils import set_random_seed
from nnscratch.workshop import inside


@pytest.fixture(scope="module")
def trained(mnist_data):
    """A one-layer and a deep network trained briefly on 3,000 MNIST images, with the start of the first."""
    X, Y, Xt, _, y, yt = mnist_data
    X, Y, Xt = X[:3000], Y[:3000], Xt[:500]
    set_random_seed(0)
    one = zoo.mlp(0)
    initial = one.layers[0].kernel.copy()
    one.fit(X, Y, batch_size=128, epochs=2, verbose=0)
    deep = zoo.mlp(2, 64)
    deep.fit(X, Y, batch_size=128, epochs=1, verbose=0)
    return {"X": X, "Y": Y, "y": y[:3000], "Xt": Xt, "yt": yt[:500], "one": one, "initial": initial, "deep": deep}


def test_the_weight_templates_match_the_class_means(trained):
    """What training changed in column j of the 1-layer kernel looks like the mean image of class j (minus
    the mean of all): correlation well above 0, and its own class the best match, for every class."""
    change = inside.template_match(trained["one"].layers[0].kernel - trained["initial"], trained["X"], trained["y"])
    assert np.all(np.diag(change) > 0.5), np.diag(change)
    assert list(change.argmax(axis=1)) == list(range(10))
    weights = inside.template_match(trained["one"].layers[0].kernel, trained["X"], trained["y"])
    assert np.all(np.diag(weights) > 0.15) and (weights.argmax(axis=1) == np.arange(10)).sum() >= 9
    untrained = inside.template_match(trained["initial"], trained["X"], trained["y"])
    assert np.abs(np.diag(untrained)).max() < 0.15                       # a random start matches nothing


def test_the_weight_picture_draws_the_columns_and_greys_the_never_inked_pixels(trained):
    kernel = trained["one"].layers[0].kernel
    never = trained["X"].max(axis=0) == 0
    fig = plotting.plot_weight_templates(kernel, never_inked=never, initial=trained["initial"])
    images = [ax.images[0].get_array() for ax in fig.axes if ax.images]
    assert len(images) == 20                                             # weights, then the change
    for j in (0, 7):
        drawn = np.ma.filled(images[j].astype(float), np.nan).ravel()
        np.testing.assert_array_equal(np.isnan(drawn), never)
        np.testing.assert_allclose(drawn[~never], kernel[~never, j], rtol=1e-6)
        change = np.ma.filled(images[10 + j].astype(float), np.nan).ravel()
        np.testing.assert_allclose(change[~never], (kernel - trained["initial"])[~never, j], rtol=1e-5, atol=1e-7)
    assert never.sum() > 50                                               # MNIST's corners are never inked


def test_gradients_vanish_towards_the_input_of_a_sigmoid_network_not_a_relu_one(trained):
    """At initialisation the 6-layer sigmoid network's first layer gets orders of magnitude less gradient
    than its last; the ReLU network's layers stay within a factor of 10 of each other."""
    norms = inside.gradient_norms(trained["X"][:256], trained["Y"][:256], depths=(2, 6), units=64)
    sig, rel = norms["sigmoid, 6 layers"], norms["relu, 6 layers"]
    assert len(sig) == 6 and sig[0] / sig[-1] < 1e-2, sig
    assert all(a < b for a, b in zip(sig, sig[1:])), sig                 # shrinking at every layer
    assert max(rel) / min(rel) < 10, rel
    fig = plotting.plot_gradient_norms(norms)
    lines = {line.get_label(): line.get_ydata() for line in fig.axes[0].lines}
    np.testing.assert_allclose(lines["sigmoid, 6 layers"], sig)
    assert fig.axes[0].get_yscale() == "log"


def test_hidden_activation_histograms(trained):
    acts = inside.hidden_activations(trained["deep"], trained["Xt"])
    assert list(acts) == [f"{l.name} (sigmoid)" for l in trained["deep"].layers if getattr(l, "activation", None)
                          is not None and l.activation.name == "sigmoid"]
    for a in acts.values():
        assert a.shape == (500, 64) and 0 <= a.min() and a.max() <= 1
    first = next(iter(acts.values()))
    expected = 1 / (1 + np.exp(-(trained["Xt"] @ trained["deep"].layers[0].kernel + trained["deep"].layers[0].bias)))
    np.testing.assert_allclose(first, expected, rtol=1e-5, atol=1e-6)
    assert inside.saturated_fraction(np.array([0.01, 0.5, 0.99, 0.6])) == 0.5
    sat = {k: inside.saturated_fraction(v) for k, v in acts.items()}
    fig = plotting.plot_activation_histograms(acts, value_range=(0, 1), saturation=sat)
    for ax, (label, a) in zip(fig.axes, acts.items()):
        assert sum(p.get_height() for p in ax.patches) == a.size
        assert label in ax.get_title() and f"{100 * sat[label]:.1f}% saturated" in ax.get_title()


def test_misclassified_digits_show_their_probabilities(trained):
    p = trained["deep"].predict(trained["Xt"], verbose=0)
    wrong = np.nonzero(p.argmax(axis=1) != trained["yt"])[0]
    assert len(wrong) >= 3
    fig = plotting.plot_misclassified(trained["Xt"], p, trained["yt"], max_images=3)
    bars = [ax for ax in fig.axes if ax.patches]
    assert len(bars) == 3
    for ax, i in zip(bars, wrong[:3]):
        heights = [b.get_height() for b in ax.patches]
        np.testing.assert_allclose(heights, p[i], rtol=1e-6)
        colours = [b.get_facecolor() for b in ax.patches]
        assert colours[trained["yt"][i]] != colours[p[i].argmax()]       # true and predicted stand out
        assert f"true {trained['yt'][i]}" in ax.get_title()


def test_conv_filters_and_feature_maps():
    set_random_seed(1)
    cnn = zoo.simple_convnet(input_shape=(12, 12, 1), filters=(4, 4))
    image = np.random.default_rng(0).random((12, 12, 1)).astype("float32")
    maps = inside.feature_maps(cnn, image)
    layer = cnn.layers[0]
    expected = np.maximum(conv.conv_forward_naive(image[None], layer.kernel, layer.bias)[0], 0)
    np.testing.assert_allclose(maps, expected, rtol=1e-5, atol=1e-6)
    fig = plotting.plot_feature_maps(image, maps)
    drawn = [ax.images[0].get_array() for ax in fig.axes if ax.images]
    assert len(drawn) == 1 + 4
    np.testing.assert_allclose(drawn[0], image[:, :, 0])
    np.testing.assert_allclose(drawn[3], maps[:, :, 2])
    fig = plotting.plot_conv_filters(layer.kernel)
    filters = [ax.images[0].get_array() for ax in fig.axes if ax.images]
    assert len(filters) == 4
    np.testing.assert_allclose(filters[1], layer.kernel[:, :, 0, 1])
    with pytest.raises(ValueError, match="kh, kw, C, F"):
        plotting.plot_conv_filters(layer.kernel[0])
