"""The ``nnscratch`` command refuses bad options before doing any work.

Every check runs the real command line (``nnscratch.__main__.main``): a bad value must stop argparse
with exit status 2 and a message naming the option, before data are loaded or a model is trained.
"""
import os

import numpy as np
import pytest

from nnscratch.__main__ import build_parser, main


def _refused(argv, capsys):
    """Run ``nnscratch argv``; it must exit with status 2 before printing anything to stdout."""
    with pytest.raises(SystemExit) as info:
        main(argv)
    out, err = capsys.readouterr()
    assert info.value.code == 2, err
    assert out == "", f"work was done before the option was refused:\n{out[:2000]}"
    return err


@pytest.mark.parametrize("argv, option, expected", [
    # knn: a negative row count used to slice from the end (--train-rows -5 -> 59,995 rows)
    (["knn", "--train-rows", "-5"], "--train-rows", "a number of rows >= 1 (or 0 for all rows)"),
    (["knn", "--test-rows", "-1"], "--test-rows", "a number of rows >= 1 (or 0 for all rows)"),
    (["knn", "--neighbors", "0"], "--neighbors", "a positive integer"),
    (["knn", "--nn-epochs", "-1"], "--nn-epochs", "an integer >= 0"),
    # train
    (["train", "--epochs", "0"], "--epochs", "a positive integer"),
    (["train", "--epochs", "-3"], "--epochs", "a positive integer"),
    (["train", "--epochs", "two"], "--epochs", "a positive integer"),
    (["train", "--batch-size", "0"], "--batch-size", "a positive integer"),
    (["train", "--batch-size", "-128"], "--batch-size", "a positive integer"),
    (["train", "--hidden", "0"], "--hidden", "a positive integer"),
    (["train", "--seed", "-1"], "--seed", "an integer >= 0"),
    # gradcheck
    (["gradcheck", "--entries", "0"], "--entries", "a positive integer"),
    # workshop (the full run: the check must come before an hour of training)
    (["workshop", "--epochs", "0"], "--epochs", "a positive integer"),
    (["workshop", "--batch-size", "-1"], "--batch-size", "a positive integer"),
    (["workshop", "--sweep-epochs", "0"], "--sweep-epochs", "a positive integer"),
    (["workshop", "--depth-units", "0"], "--depth-units", "a positive integer"),
    (["workshop", "--knn-neighbors", "0"], "--knn-neighbors", "a positive integer"),
    (["workshop", "--train-rows", "-5"], "--train-rows", "a number of rows >= 1 (or 0 for all rows)"),
    (["workshop", "--knn-test-rows", "-3"], "--knn-test-rows", "a number of rows >= 1 (or 0 for all rows)"),
    (["workshop", "--batch-sizes", "32,0"], "--batch-sizes", "positive integers"),
    (["workshop", "--hidden-units", "10,abc"], "--hidden-units", "comma-separated integers such as 32,128,512"),
])
def test_bad_numbers_are_refused_while_parsing(argv, option, expected, capsys):
    err = _refused(argv, capsys)
    assert f"argument {option}: expected {expected}, got {argv[-1]!r}" in err


def test_good_numbers_are_accepted():
    args = build_parser().parse_args(["knn", "--train-rows", "3000", "--test-rows", "0", "--neighbors", "1",
                                      "--nn-epochs", "0"])
    assert (args.train_rows, args.test_rows, args.neighbors, args.nn_epochs) == (3000, 0, 1, 0)
    args = build_parser().parse_args(["train", "--epochs", "1", "--batch-size", "1", "--hidden", "7",
                                      "--seed", "0"])
    assert (args.epochs, args.batch_size, args.hidden, args.seed) == (1, 1, 7, 0)
    args = build_parser().parse_args(["workshop", "--quick", "--train-rows", "0", "--batch-sizes", "32, 64"])
    assert args.train_rows == 0 and args.batch_sizes == (32, 64)


# ------------------------------------------------------------------------------------ train --save
def test_save_into_a_missing_folder_is_refused_before_training(tmp_path, capsys):
    target = tmp_path / "missing" / "dir" / "m.npz"
    err = _refused(["train", "--model", "1layer", "--epochs", "1", "--save", str(target)], capsys)
    assert f"argument --save: cannot save to {str(target)!r}" in err
    assert f"folder {str(tmp_path / 'missing' / 'dir')!r} does not exist" in err
    assert not (tmp_path / "missing").exists()


def test_save_onto_a_folder_is_refused(tmp_path, capsys):
    err = _refused(["train", "--model", "1layer", "--epochs", "1", "--save", str(tmp_path)], capsys)
    assert "it is a folder; give a file name such as" in err


@pytest.mark.skipif(os.name != "posix" or os.geteuid() == 0, reason="root may write into any folder")
def test_save_into_a_read_only_folder_is_refused(tmp_path, capsys):
    folder = tmp_path / "ro"
    folder.mkdir()
    folder.chmod(0o500)
    try:
        err = _refused(["train", "--model", "1layer", "--epochs", "1", "--save", str(folder / "m.npz")], capsys)
    finally:
        folder.chmod(0o700)
    assert "is not writable" in err


def test_save_into_an_existing_folder_trains_and_saves(tmp_path, capsys, mnist_data):
    """The check refuses only what cannot work: a file in an existing folder is saved and loads back."""
    import nnscratch
    target = tmp_path / "m.npz"
    assert main(["train", "--model", "1layer", "--epochs", "1", "--verbose", "0", "--save", str(target)]) == 0
    out = capsys.readouterr().out
    assert f"Saved to {target}" in out
    accuracy = float(out.split("Test accuracy: ")[1].split()[0])
    model = nnscratch.load_model(str(target))
    _, _, Xt, Yt, _, _ = mnist_data
    assert model.count_params() == 7850
    assert model.evaluate(Xt, Yt, verbose=0)[1] == pytest.approx(accuracy, abs=1e-4)
    assert accuracy > 0.8


# ------------------------------------------------------------------------------------ the library's own checks
def test_subset_refuses_negative_counts():
    """``nnscratch.workshop.subset`` (used by ``knn``) checks too, for callers that skip the CLI."""
    from nnscratch.workshop import subset
    full = {k: np.arange(10) for k in ("x", "y", "X", "Y", "xt", "yt", "Xt", "Yt")}
    assert len(subset(full, train_rows=3)["X"]) == 3 and len(subset(full)["X"]) == 10
    with pytest.raises(ValueError, match=r"knn_train_rows must be >= 0 \(0 = all rows\), got -5"):
        subset(full, knn_train_rows=-5)


@pytest.mark.parametrize("overrides, message", [
    (dict(epochs=0), "epochs must be a positive integer"),
    (dict(train_rows=-5), "train_rows must be >= 0"),
    (dict(hidden_units=()), "hidden_units must be a non-empty list of positive integers"),
    (dict(keras="maybe"), "keras must be 'auto', 'on' or 'off'"),
    (dict(dataset="cifar10"), "unknown dataset 'cifar10'"),
])
def test_workshop_settings_are_checked(overrides, message):
    from nnscratch.workshop import Settings
    with pytest.raises(ValueError, match=message):
        Settings.quick(**overrides).check()
