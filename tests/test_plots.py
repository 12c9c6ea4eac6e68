"""``nnzoo.plots`` and ``nnzoo plot`` on synthetic run directories (no training, no MNIST)."""

import json
import subprocess
import sys

import keras
import numpy as np
import pytest

pytest.importorskip("matplotlib")

from nnzoo import cli, plots  # noqa: E402

PNG_MAGIC = b"\x89PNG\r\n\x1a\n"


def _history(epochs=30, monitor=False, seed=0):
    rng = np.random.default_rng(seed)
    history = []
    for epoch in range(epochs):
        entry = {
            "epoch": epoch,
            "loss": 1.0 / (epoch + 1),
            "accuracy": 0.8 + 0.1 * epoch / epochs,
            "validation_accuracy": 0.85 + 0.1 * epoch / epochs + 0.001 * rng.standard_normal(),
            "test_accuracy": 0.84 + 0.1 * epoch / epochs,
            "eta": 0.5,
            "seconds": 1.0,
        }
        if monitor:
            entry.update(training_cost=2.0 / (epoch + 1), training_accuracy=min(1.0, 0.8 + epoch / epochs),
                         validation_cost=1.0 + 0.01 * epoch, test_cost=1.0 + 0.01 * epoch)
        history.append(entry)
    return history


def _run(tmp_path, name, **kwargs):
    run_dir = tmp_path / name
    run_dir.mkdir(parents=True)
    (run_dir / "history.json").write_text(json.dumps(_history(**kwargs)))
    return run_dir


def _is_png(path):
    return path.is_file() and path.read_bytes()[:8] == PNG_MAGIC and path.stat().st_size < 300_000


def _lines(ax):
    return [line for line in ax.get_lines() if len(line.get_xdata()) > 2]


def test_nnzoo_and_nnzoo_plots_import_without_matplotlib():
    # (TensorFlow may import matplotlib itself when it is installed; block it to see nnzoo's own needs.)
    code = ("import sys; sys.modules['matplotlib'] = None\n"
            "import nnzoo, nnzoo.plots, nnzoo.cli\n"
            "print('imported')")
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert result.returncode == 0, result.stderr[-2000:]
    assert result.stdout.strip().splitlines()[-1] == "imported"


def test_accuracy_curves_one_line_per_run_in_percent(tmp_path):
    runs = [_run(tmp_path, "a"), _run(tmp_path, "b", seed=1)]
    out = tmp_path / "figs" / "acc.png"
    fig = plots.accuracy_curves(runs, labels=["sigmoid", "tanh"], reference={"book": 0.99}, out=out)
    (ax,) = fig.axes
    lines = _lines(ax)
    assert len(lines) == 2
    assert lines[0].get_ydata()[0] == pytest.approx(100 * plots.load_history(runs[0])[0]["validation_accuracy"])
    assert [t.get_text() for t in ax.get_legend().get_texts()] == ["sigmoid", "tanh", "book"]
    assert "Validation accuracy" in ax.get_ylabel()
    assert _is_png(out)


def test_accuracy_curves_many_runs_put_the_legend_under_the_axes(tmp_path):
    runs = [_run(tmp_path, f"r{i}", seed=i) for i in range(5)]
    fig = plots.accuracy_curves(runs, metric="test_accuracy", ylim=(80, 100))
    assert fig.axes[0].get_legend() is None and len(fig.legends) == 1
    assert fig.axes[0].get_ylim() == (80, 100)


def test_accuracy_curves_accepts_histories_files_and_best_of_runs(tmp_path):
    multi = tmp_path / "multi"
    for index in (1, 2):
        _run(multi, f"run-{index}", epochs=10 * index)
    (multi / "summary.json").write_text(json.dumps({"best_run": 1}))
    single = _run(tmp_path, "single", epochs=5)
    fig = plots.accuracy_curves([multi, single / "history.json", _history(epochs=7)])
    assert [len(line.get_xdata()) for line in fig.axes[0].get_lines()] == [20, 5, 7]


def test_a_directory_of_runs_without_summary_or_an_ensemble_says_what_to_pass(tmp_path):
    _run(tmp_path / "multi", "run-1")
    with pytest.raises(ValueError, match="run-1"):
        plots.accuracy_curves(tmp_path / "multi")
    _run(tmp_path / "ensemble", "member-1")
    with pytest.raises(ValueError, match="ensemble.*member-1"):
        plots.accuracy_curves(tmp_path / "ensemble")
    with pytest.raises(FileNotFoundError, match="history.json"):
        plots.accuracy_curves(tmp_path / "nowhere")


def test_accuracy_curves_bad_metric_and_labels(tmp_path):
    run = _run(tmp_path, "a")
    with pytest.raises(ValueError, match="accuracy key"):
        plots.accuracy_curves(run, metric="loss")
    with pytest.raises(ValueError, match="no training_accuracy: train it with monitor=True"):
        plots.accuracy_curves(run, metric="training_accuracy")
    with pytest.raises(ValueError, match="2 labels for 1 runs"):
        plots.accuracy_curves(run, labels=["a", "b"])


def test_overfitting_four_panels_from_the_books_epochs(tmp_path):
    run = _run(tmp_path, "C3-07", epochs=400, monitor=True)
    out = tmp_path / "overfitting.png"
    fig = plots.overfitting(run, out=out)
    assert len(fig.axes) == 4
    firsts = [_lines(ax)[0].get_xdata()[0] for ax in fig.axes]
    assert firsts == [200, 200, 0, 0]  # training cost and test accuracy from epoch 200, as the book
    training_accuracy = _lines(fig.axes[3])[0].get_ydata()
    assert training_accuracy.max() == pytest.approx(100.0)
    assert "training" in fig.axes[0].get_ylabel().lower() and "epochs 200-399" in fig.axes[0].get_title()
    assert _is_png(out)


def test_overfitting_short_run_is_drawn_whole(tmp_path):
    fig = plots.overfitting(_run(tmp_path, "short", epochs=30, monitor=True))
    assert [_lines(ax)[0].get_xdata()[0] for ax in fig.axes] == [0, 0, 0, 0]


def test_overfitting_without_monitor_says_how_to_fix_it(tmp_path):
    with pytest.raises(ValueError, match="has no training_cost: train it with monitor=True"):
        plots.overfitting(_run(tmp_path, "plain"))


def test_train_vs_test(tmp_path):
    out = tmp_path / "tvt.png"
    fig = plots.train_vs_test(_run(tmp_path, "C3-08", monitor=True), ylim=(80, 100), out=out)
    labels = [t.get_text() for t in fig.axes[0].get_legend().get_texts()]
    assert labels == ["Accuracy on the test data", "Accuracy on the training data"]
    assert _is_png(out)


def test_train_vs_test_without_monitor(tmp_path):
    run = _run(tmp_path, "plain")
    with pytest.raises(ValueError, match="no training_accuracy: train it with monitor=True.*training_key='accuracy'"):
        plots.train_vs_test(run)
    fig = plots.train_vs_test(run, training_key="accuracy")  # Keras's running value, labelled so
    assert "running" in fig.axes[0].get_legend().get_texts()[1].get_text()


def test_training_costs(tmp_path):
    runs = [_run(tmp_path, f"eta{i}", monitor=True, seed=i) for i in range(3)]
    out = tmp_path / "costs.png"
    fig = plots.training_costs(runs, ["η = 0.025", "η = 0.25", "η = 2.5"], log=True, out=out)
    ax = fig.axes[0]
    assert len(_lines(ax)) == 3 and ax.get_yscale() == "log"
    assert _lines(ax)[0].get_ydata()[0] == pytest.approx(2.0)
    assert _is_png(out)
    with pytest.raises(ValueError, match="'plain' has no training_cost: train it with monitor=True"):
        plots.training_costs([runs[0], _run(tmp_path, "plain")])


def _conv_model():
    inputs = keras.Input((28, 28, 1), name="image")
    x = keras.layers.Conv2D(6, 5, name="conv_1")(inputs)
    x = keras.layers.Conv2D(4, 5, name="conv_2")(x)
    x = keras.layers.Flatten()(x)
    return keras.Model(inputs, keras.layers.Dense(10, activation="softmax", name="output")(x), name="tiny")


def test_filters_grid_from_a_model_and_a_keras_file(tmp_path):
    model = _conv_model()
    fig = plots.filters(model, ncols=4)
    images = [ax for ax in fig.axes if ax.get_images()]
    assert len(images) == 6 and len(fig.axes) == 8  # 2 rows of 4, two cells blank
    kernel = keras.ops.convert_to_numpy(model.get_layer("conv_1").kernel)
    np.testing.assert_allclose(images[2].get_images()[0].get_array(), kernel[:, :, 0, 2])
    assert images[0].get_images()[0].get_cmap().name == "Greys"  # darker = larger weight
    path = tmp_path / "tiny.keras"
    model.save(path)
    out = tmp_path / "filters.png"
    plots.filters(path, layer="conv_2", channel=3, out=out)
    assert _is_png(out)


def test_filters_unknown_layer_lists_the_conv_layers():
    with pytest.raises(ValueError, match=r"no layer 'conv_9'.*\['conv_1', 'conv_2'\]"):
        plots.filters(_conv_model(), layer="conv_9")
    with pytest.raises(ValueError, match="not a 2-D convolution"):
        plots.filters(_conv_model(), layer="output")


class _Fixed:
    """A stand-in model whose predictions are given."""

    def __init__(self, digits, confidence=0.9):
        self.probabilities = np.full((len(digits), 10), (1 - confidence) / 9, "float32")
        self.probabilities[np.arange(len(digits)), digits] = confidence

    def predict(self, x, batch_size=None, verbose=0):
        assert len(x) == len(self.probabilities) and x.dtype == np.float32 and x.shape[-1] == 1
        return self.probabilities


def test_misclassified_shows_the_votes_errors_with_both_labels(tmp_path):
    y = np.arange(12) % 10
    x = np.random.default_rng(0).integers(0, 256, size=(12, 28, 28), dtype=np.uint8)
    wrong_a, wrong_b = y.copy(), y.copy()
    wrong_a[[1, 5, 7]] = 3
    wrong_b[[1, 5]] = 3
    right = y.copy()
    right[7] = 4  # index 7: one vote each for 3, 7 and 4; the larger mean probability (b's 0.95) decides
    members = [_Fixed(wrong_a), _Fixed(wrong_b, 0.95), _Fixed(right)]
    out = tmp_path / "errors.png"
    fig = plots.misclassified(members, x, y, out=out)
    wrong, predicted = fig.nnzoo_wrong
    assert wrong.tolist() == [1, 5]  # two of three members say 3; index 7: b's confident 7 wins the tie
    assert predicted.tolist() == [3, 3]
    cells = [ax for ax in fig.axes if ax.get_images()]
    assert len(cells) == 2
    texts = [t.get_text() for t in cells[0].texts]
    assert texts == ["1", "3"]  # true label top right, prediction bottom right
    top, bottom = cells[0].texts
    assert top.get_position()[1] > 0.5 > bottom.get_position()[1]
    assert "2 of 12 digits misclassified by the plurality vote of 3 networks" in fig.get_suptitle()
    assert _is_png(out)


def test_misclassified_counts_an_ensemble_models_members():
    """One ensemble model (its vote inside, as build("conv2_dropout_ensemble") gives) is titled by its members."""
    from nnzoo.layers import PluralityVote

    image = keras.Input((28, 28, 1))
    flat = keras.layers.Flatten()(image)
    members = [keras.layers.Dense(10, activation="softmax", name=f"member_{i}")(flat) for i in range(3)]
    ensemble = keras.Model(image, PluralityVote(name="vote")(members))
    x = np.random.default_rng(0).random((12, 28, 28, 1), dtype=np.float32)
    y = np.arange(12) % 10
    fig = plots.misclassified(ensemble, x, y)
    wrong, predicted = fig.nnzoo_wrong
    expected = np.argmax(ensemble.predict(x, verbose=0), axis=1)
    assert wrong.tolist() == np.flatnonzero(expected != y).tolist() and predicted.tolist() == expected[wrong].tolist()
    assert f"{len(wrong)} of 12 digits misclassified by the plurality vote of 3 networks" in fig.get_suptitle()


def test_misclassified_limits_the_grid_and_handles_no_errors():
    y = np.arange(50) % 10
    x = np.zeros((50, 28, 28, 1), "float32")
    fig = plots.misclassified(_Fixed((y + 1) % 10), x, y, max_images=12, ncols=6)
    assert len([ax for ax in fig.axes if ax.get_images()]) == 12
    assert "50 of 50" in fig.get_suptitle() and "first 12 shown" in fig.get_suptitle()
    fig = plots.misclassified([_Fixed(y)], x, y)
    assert len(fig.nnzoo_wrong[0]) == 0 and "0 of 50" in fig.get_suptitle()
    with pytest.raises(ValueError, match="differ in length"):
        plots.misclassified([_Fixed(y)], x, y[:10])


def test_layer_speeds_lines_on_a_log_axis(tmp_path):
    speeds = [[0.07 * 0.9**e, 0.31 * 0.9**e] for e in range(20)]
    out = tmp_path / "speeds.png"
    fig = plots.layer_speeds(speeds, ["dense_1", "dense_2"], out=out)
    ax = fig.axes[0]
    assert ax.get_yscale() == "log" and len(ax.get_lines()) == 2
    assert [t.get_text() for t in ax.get_legend().get_texts()] == ["dense_1", "dense_2"]
    assert _is_png(out)
    with pytest.raises(ValueError, match="3 layer names for 2 layers"):
        plots.layer_speeds(speeds, ["a", "b", "c"])
    with pytest.raises(ValueError, match="kind must be"):
        plots.layer_speeds(speeds, kind="pie")


def test_layer_speeds_bars_at_init(tmp_path):
    book = {"deep_sigmoid_2": (0.07, 0.31), "deep_sigmoid_3": (0.012, 0.060, 0.283)}
    measured = {"deep_sigmoid_2": [0.05, 0.2], "deep_sigmoid_3": [0.01, 0.05, 0.3]}
    out = tmp_path / "bars.png"
    fig = plots.layer_speeds(measured, kind="bars", reference=book, out=out)
    ax = fig.axes[0]
    assert ax.get_yscale() == "log" and len(ax.patches) == 5
    assert [t.get_text() for t in ax.get_xticklabels()] == ["Hidden layer 1", "Hidden layer 2", "Hidden layer 3"]
    assert "the book" in [t.get_text() for t in ax.get_legend().get_texts()]
    assert _is_png(out)
    # One network: the callback's speeds use the measurement at initialisation.
    fig = plots.layer_speeds([[0.1, 0.3], [0.01, 0.02]], ["hidden_1", "hidden_2"], kind="bars")
    assert [p.get_height() for p in fig.axes[0].patches] == pytest.approx([0.1, 0.3])


def test_cli_plot_writes_pngs(tmp_path, capsys):
    runs = [str(_run(tmp_path, name, monitor=True, seed=i)) for i, name in enumerate(("a", "b"))]
    cases = {
        "accuracy": (runs, ["--labels", "A", "B", "--metric", "test_accuracy", "--ylim", "80", "100"]),
        "overfitting": (runs[:1], []),
        "train-vs-test": (runs[:1], []),
        "costs": (runs, ["--labels", "x", "y"]),
    }
    for kind, (run_dirs, extra) in cases.items():
        out = tmp_path / f"{kind}.png"
        assert cli.main(["plot", *run_dirs, "--kind", kind, "--out", str(out), *extra]) == 0, kind
        assert _is_png(out)
    model_path = tmp_path / "tiny.keras"
    _conv_model().save(model_path)
    assert cli.main(["plot", str(model_path), "--kind", "filters", "--out", str(tmp_path / "f.png")]) == 0
    assert _is_png(tmp_path / "f.png")


def test_cli_plot_errors(tmp_path, capsys):
    plain = str(_run(tmp_path, "plain"))
    assert cli.main(["plot", plain, "--kind", "overfitting", "--out", str(tmp_path / "o.png")]) == 2
    assert "train it with monitor=True" in capsys.readouterr().err
    assert cli.main(["plot", plain, plain, "--kind", "train-vs-test", "--out", str(tmp_path / "t.png")]) == 2
    assert "draws one run" in capsys.readouterr().err
    assert not (tmp_path / "o.png").exists()


def test_cli_plot_without_matplotlib_says_what_to_install(tmp_path, capsys, monkeypatch):
    monkeypatch.setitem(sys.modules, "matplotlib", None)
    run = str(_run(tmp_path, "a"))
    assert cli.main(["plot", run, "--kind", "accuracy", "--out", str(tmp_path / "a.png")]) == 2
    assert 'pip install "nnzoo[plots]"' in capsys.readouterr().err


def test_plot_into_an_existing_directory_writes_name_kind_png_and_prints_it(tmp_path, capsys):
    run = str(_run(tmp_path, "conv2", epochs=3))
    figures = tmp_path / "figures"
    figures.mkdir()
    assert cli.main(["plot", run, "--kind", "accuracy", "--out", str(figures)]) == 0
    assert capsys.readouterr().out.strip() == str(figures / "conv2-accuracy.png")
    assert _is_png(figures / "conv2-accuracy.png") and not (tmp_path / "figures.png").exists()


def test_a_dangling_link_as_out_says_it_is_a_broken_link(tmp_path, capsys):
    run = str(_run(tmp_path, "conv2", epochs=3))
    (tmp_path / "p.png").symlink_to(tmp_path / "gone" / "p.png")
    assert cli.main(["plot", run, "--kind", "accuracy", "--out", str(tmp_path / "p.png")]) == 2
    err = capsys.readouterr().err
    assert f"p.png is a broken symbolic link (to '{tmp_path / 'gone' / 'p.png'}'" in err
    assert not (tmp_path / "gone").exists()


def test_a_history_file_in_a_run_directory_is_read_through_rundir(tmp_path):
    run = _run(tmp_path, "conv2", epochs=3)
    (run / "history.json").write_text("5")
    with pytest.raises(ValueError, match=r"history.json' \(a run's history\) holds a number; expected a list"):
        plots.load_history(run)
