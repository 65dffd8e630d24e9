"""``import nnscratch`` reaches every public module, lazily, and stays light."""
import subprocess
import sys


def test_plain_import_reaches_everything_lazily():
    code = ("import sys, nnscratch\n"
            "heavy = [m for m in ('numba', 'sklearn', 'matplotlib') if m in sys.modules]\n"
            "assert heavy == [], heavy\n"
            "assert nnscratch.neighbors.KNeighborsClassifier and nnscratch.plotting.plot_confusion_matrix\n"
            "assert nnscratch.datasets.mnist.load_data and nnscratch.datasets.fashion_mnist.load_data\n"
            "assert nnscratch.zoo.mlp and nnscratch.saving.load_model is nnscratch.load_model\n"
            "assert 'neighbors' in dir(nnscratch)\n"
            "try:\n    nnscratch.no_such_module\nexcept AttributeError as e:\n    assert 'no_such_module' in str(e)\n"
            "else:\n    raise SystemExit('no AttributeError')\n")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert out.returncode == 0, out.stderr
