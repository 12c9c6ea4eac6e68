"""Shipped weights: every file scores its record, is found the documented ways, and is checked."""

import dataclasses
import json
import shutil

import numpy as np
import pytest

import nnzoo
from nnzoo import files, pretrained

SHIPPED = pretrained.names()


def test_the_shelf_and_the_table_agree():
    """Each set of weights is on the shelf once, in its record's format, and the shelf holds nothing else."""
    assert SHIPPED, "nnzoo/pretrained.json should list at least one network"
    assert nnzoo.list_models(pretrained=True) == SHIPPED  # the same networks, in the same natural order
    assert set(SHIPPED) <= set(nnzoo.list_models())
    records = [pretrained.get(name) for name in SHIPPED]
    shelf = pretrained.CHECKOUT_DIR
    on_disk = {p.name for p in shelf.glob("*.weights.h5")}
    assert on_disk == {r.file for r in records if not r.is_saved_model}, "a weights file without a record, or the reverse"
    saved_models = {p.parent.relative_to(shelf).as_posix() for p in shelf.glob("*/*/saved_model.pb")}
    assert saved_models == {r.file for r in records if r.is_saved_model}, "a SavedModel without a record, or the reverse"
    for record in records:
        assert record is nnzoo.card(record.name).weights
        assert record.is_saved_model == (record.name in pretrained.SERVED)
        path = shelf / record.file
        if record.is_saved_model:
            assert record.file.startswith(f"{record.name}/")
            assert files.tree_sha256(path) == record.sha256 and files.tree_size(path) == record.size
            assert nnzoo.read_card(path)["test_accuracy"] == pytest.approx(record.test_accuracy, abs=2e-4)
        else:
            assert record.file == f"{record.name}.weights.h5"
            assert files.sha256(path) == record.sha256 and path.stat().st_size == record.size
        assert 0.0 < record.test_accuracy <= 1.0 and 0.0 < record.selected_by["accuracy"] <= 1.0
        assert 1 <= record.run <= record.runs and 1 <= record.epoch <= record.epochs
        assert record.command and record.hardware and record.protocol
    assert nnzoo.card("deep_fc_ciresan").weights is None or "deep_fc_ciresan" in SHIPPED


@pytest.mark.parametrize("name", SHIPPED)
def test_shipped_weights_score_their_records_test_accuracy(name, mnist_split):
    model = nnzoo.build(name, weights="mnist", compile=False)
    probabilities = model.predict(mnist_split.test.x, batch_size=1000, verbose=0)
    accuracy = float(np.mean(np.argmax(probabilities, axis=1) == mnist_split.test.y))
    assert len(mnist_split.test.y) == 10_000
    assert accuracy == pytest.approx(nnzoo.card(name).weights.test_accuracy, abs=2e-4)  # two images of float noise


def test_card_json_carries_the_weights_record():
    name = SHIPPED[0]
    as_dict = nnzoo.card(name).to_dict()
    assert as_dict["weights"]["sha256"] == pretrained.get(name).sha256
    json.dumps(as_dict, default=list)


def test_training_overrides_are_allowed_with_shipped_weights():
    name = SHIPPED[0]
    reference = nnzoo.build(name, weights="mnist", compile=False)
    tuned = nnzoo.build(name, weights="mnist", eta=0.01, lmbda=1.0)
    for a, b in zip(reference.get_weights(), tuned.get_weights()):
        np.testing.assert_array_equal(a, b)
    assert float(tuned.optimizer.learning_rate.numpy()) == pytest.approx(0.01)


def test_architecture_overrides_are_refused_with_shipped_weights():
    name = SHIPPED[0]
    with pytest.raises(ValueError, match=r"change its architecture: hidden=\(7,\)"):
        nnzoo.build(name, weights="mnist", hidden=(7,))


@pytest.mark.parametrize("weights, message", [
    ("imagenet", r"Received: weights='imagenet'.*list_models\(pretrained=True\)"),
    (3, r"weights must be None, 'mnist' or a path. Received: weights=3"),
])
def test_unknown_weights_are_refused(weights, message):
    with pytest.raises(ValueError, match=message):
        nnzoo.build("network2", weights=weights)


def test_a_network_without_shipped_weights_says_how_to_get_them():
    with pytest.raises(ValueError, match=r"'deep_fc_ciresan' has no shipped weights yet.*nnzoo train deep_fc_ciresan"):
        nnzoo.build("deep_fc_ciresan", weights="mnist")


def test_weights_of_another_architecture_are_refused(tmp_path):
    file = tmp_path / "other.weights.h5"
    nnzoo.build("network2_100", compile=False, seed=0).save_weights(file)
    with pytest.raises(ValueError, match=r"other\.weights\.h5.*do not fit model 'network2'"):
        nnzoo.build("network2", weights=str(file))


def _shelf_copy(tmp_path, name):
    shelf = tmp_path / "shelf"
    shelf.mkdir()
    shutil.copy(pretrained.CHECKOUT_DIR / pretrained.get(name).file, shelf)
    return shelf


def test_weights_dir_comes_first_and_a_tampered_file_is_named(tmp_path, monkeypatch):
    name = SHIPPED[0]
    shelf = _shelf_copy(tmp_path, name)
    monkeypatch.setenv("NNZOO_WEIGHTS_DIR", str(shelf))
    assert pretrained.file_path(pretrained.get(name)) == shelf / pretrained.get(name).file
    file = shelf / pretrained.get(name).file
    content = bytearray(file.read_bytes())
    content[-100] ^= 0xFF
    file.write_bytes(bytes(content))
    with pytest.raises(pretrained.WeightsError, match=rf"{file}.*corrupt or was modified"):
        nnzoo.build(name, weights="mnist")


def _offline(monkeypatch, tmp_path, remote):
    """No local copy (no NNZOO_WEIGHTS_DIR, package or checkout), a Keras cache of its own, and ``remote``'s URL."""
    monkeypatch.delenv("NNZOO_WEIGHTS_DIR", raising=False)
    monkeypatch.setattr(pretrained, "PACKAGE_DIR", tmp_path / "no-package")
    monkeypatch.setattr(pretrained, "CHECKOUT_DIR", tmp_path / "no-checkout")
    monkeypatch.setenv("KERAS_HOME", str(tmp_path / "keras-home"))
    monkeypatch.setenv("NNZOO_WEIGHTS_URL", remote.as_uri() + "/")
    return tmp_path / "keras-home" / "models"


def _cache_holds(cache):
    return sorted(p.relative_to(cache).as_posix() for p in cache.rglob("*")) if cache.exists() else []


def test_download_into_the_keras_cache_verifies_the_hash(tmp_path, monkeypatch):
    """The pip-installed path without the weights: a URL (file:// here, offline) and the SHA-256 on the record."""
    name = SHIPPED[0]
    record = pretrained.get(name)
    remote = _shelf_copy(tmp_path, name)
    good = (remote / record.file).read_bytes()
    cache = _offline(monkeypatch, tmp_path, remote)
    assert not pretrained.available(record)
    path = pretrained.file_path(record)
    assert path == cache / record.file and pretrained.available(record)
    model = nnzoo.build(name, weights="mnist", compile=False)
    reference = nnzoo.build(name, weights=str(remote / record.file), compile=False)
    for a, b in zip(model.get_weights(), reference.get_weights()):
        np.testing.assert_array_equal(a, b)

    path.unlink()
    for bad, message in ((b"not the weights", "is not the published file: its SHA-256 is"),
                         (good[:-1000], "is not the published file"),  # truncated
                         (good + b"\0" * 1000, "sent more than the")):  # more than the record's size
        (remote / record.file).write_bytes(bad)
        with pytest.raises(pretrained.WeightsError, match=rf"The weights of '{name}' \({record.file}\) are not on this "
                                                          rf"machine.*{message}.*the download was removed"):
            pretrained.file_path(record)
        assert _cache_holds(cache) == [], "a download that failed its check stayed in the cache"
    (remote / record.file).write_bytes(good)  # the next good download succeeds
    assert pretrained.file_path(record) == path and files.sha256(path) == record.sha256


def test_weights_nowhere_are_one_message_naming_the_places_and_the_fix(tmp_path, monkeypatch):
    record = pretrained.get(SHIPPED[0])
    _offline(monkeypatch, tmp_path, tmp_path / "nothing-published")
    with pytest.raises(pretrained.WeightsError) as caught:
        nnzoo.build(record.name, weights="mnist")
    message = str(caught.value)
    assert caught.value.__cause__ is None and caught.value.__suppress_context__  # one message, no chained traceback
    for place in ("NNZOO_WEIGHTS_DIR (unset)", "the installed package", "the checkout", "the Keras cache",
                  f"downloading {record.url} failed", "pip install"):
        assert place in message, message


def test_a_run_directory_stands_for_its_best_runs_selected_weights(tmp_path):
    run_dir = tmp_path / "run"
    for index, seed in ((1, 0), (2, 1)):
        (run_dir / f"run-{index}").mkdir(parents=True)
        nnzoo.build("network2", compile=False, seed=seed).save_weights(run_dir / f"run-{index}" / "selected.weights.h5")
    (run_dir / "summary.json").write_text(json.dumps(
        {"best_run": 1, "runs": [{"run_dir": str(run_dir / "run-1")}, {"run_dir": str(run_dir / "run-2")}]}))
    loaded = nnzoo.build("network2", weights=str(run_dir), compile=False)
    expected = nnzoo.build("network2", compile=False, seed=1)
    for a, b in zip(loaded.get_weights(), expected.get_weights()):
        np.testing.assert_array_equal(a, b)


@pytest.mark.parametrize("summary", ['{"best_run": 3, "runs": []}', '{"best_run": 0, "runs": [{}]}', "{not json"])
def test_a_broken_runs_summary_is_named(tmp_path, summary):
    run_dir = tmp_path / "run"
    (run_dir / "run-1").mkdir(parents=True)
    nnzoo.build("network2", compile=False).save_weights(run_dir / "run-1" / "selected.weights.h5")
    (run_dir / "summary.json").write_text(summary)
    with pytest.raises(pretrained.WeightsError, match=r"summary\.json"):
        nnzoo.build("network2", weights=str(run_dir), compile=False)


def test_a_saved_model_version_directory_loads_its_variables(tmp_path):
    trained = nnzoo.build("conv2", compile=False, seed=1)
    version = nnzoo.export(trained, tmp_path / "conv2")
    loaded = nnzoo.build("conv2", weights=str(version), compile=False)
    for a, b in zip(loaded.get_weights(), trained.get_weights()):
        np.testing.assert_array_equal(a, b)


@pytest.mark.parametrize("exported, built", [
    ("conv2_tanh", "conv2"),  # the same shapes, another activation
    ("shallow_sigmoid", "network2_100"),
    ("conv2_dropout", "conv2_relu_2fc1000"),  # the same layers but for the dropout's seed states
])
def test_a_saved_model_of_another_network_says_which_network_it_holds(tmp_path, exported, built):
    version = nnzoo.export(nnzoo.build(exported, compile=False, seed=0), tmp_path / exported)
    with pytest.raises(pretrained.WeightsError, match=rf"holds the network '{exported}'.*not '{built}'.*"
                                                      rf"Build that one: nnzoo.build\('{exported}', weights="):
        nnzoo.build(built, weights=str(version), compile=False)


def test_a_saved_model_with_other_activations_is_refused_from_its_graph(tmp_path):
    """The card says conv2, the graph (parsed, not run) computes tanh: another network beyond the shapes."""
    version = nnzoo.export(nnzoo.build("conv2", activation="tanh", compile=False, seed=0), tmp_path / "conv2")
    with pytest.raises(pretrained.WeightsError, match=r"computes with softmax, tanh, model 'conv2' with sigmoid, softmax"):
        nnzoo.build("conv2", weights=str(version), compile=False)


def _planted_saved_model(directory, victim, card=None):
    """A SavedModel with network2's variables whose serving_default writes ``victim`` (not an nnzoo export)."""
    import tensorflow as tf

    module = tf.__internal__.tracking.AutoTrackable()  # keeps a "variables" list, as an nnzoo export does
    shapes = [(784, 30), (30,), (30, 10), (10,)]
    module.variables = [tf.Variable(np.full(shape, index + 0.5, "float32")) for index, shape in enumerate(shapes)]

    @tf.function(input_signature=[tf.TensorSpec([None, 28, 28, 1], tf.float32, name="image")])
    def serve(image):
        tf.io.write_file(str(victim), "written by a SavedModel")
        return {"probabilities": tf.nn.sigmoid(tf.zeros([tf.shape(image)[0], 10]) + module.variables[3])}

    tf.saved_model.save(module, str(directory), signatures={"serving_default": serve})
    if card is not None:
        (directory / "assets.extra").mkdir()
        (directory / "assets.extra" / "nnzoo_card.json").write_text(json.dumps(card))
    return [np.full(shape, index + 0.5, "float32") for index, shape in enumerate(shapes)]


def test_a_saved_model_without_an_nnzoo_card_is_refused_before_anything_runs(tmp_path):
    victim = tmp_path / "victim"
    _planted_saved_model(tmp_path / "planted", victim)
    with pytest.raises(pretrained.WeightsError, match=r"holds no assets.extra/nnzoo_card.json.*nothing of it was loaded or run"):
        nnzoo.build("network2", weights=str(tmp_path / "planted"), compile=False)
    assert not victim.exists()


def test_a_saved_models_variables_are_read_as_data_never_by_running_it(tmp_path):
    """Even with a card that names the network, the SavedModel's functions are never called."""
    victim = tmp_path / "victim"
    values = _planted_saved_model(tmp_path / "planted", victim, card={"name": "network2"})
    model = nnzoo.build("network2", weights=str(tmp_path / "planted"), compile=False)
    assert not victim.exists()
    for loaded, planted in zip(model.get_weights(), values):
        np.testing.assert_array_equal(loaded, planted)


def _exact_copy(model):
    return [np.array(w, copy=True) for w in model.get_weights()]


def _unchanged(model, before):
    after = model.get_weights()
    assert len(after) == len(before)
    for a, b in zip(after, before):
        assert a.dtype == b.dtype and a.tobytes() == b.tobytes()  # bit for bit


def test_a_refused_saved_model_leaves_the_model_as_it_was(tmp_path):
    model = nnzoo.build("conv2", weights="mnist", compile=False)
    before = _exact_copy(model)
    other = nnzoo.export(nnzoo.build("conv2_tanh", compile=False, seed=3), tmp_path / "conv2_tanh")
    with pytest.raises(ValueError, match="holds the network 'conv2_tanh'"):
        nnzoo.load_weights(model, other)
    _unchanged(model, before)
    same = nnzoo.export(nnzoo.build("conv2", compile=False, seed=3), tmp_path / "conv2")
    data_file = next((same / "variables").glob("variables.data-*"))
    data_file.write_bytes(data_file.read_bytes()[: data_file.stat().st_size // 2])  # cut short
    with pytest.raises(ValueError, match=r"variables of the SavedModel .* are not readable"):
        nnzoo.load_weights(model, same)
    _unchanged(model, before)


def test_a_weights_file_that_fails_half_way_leaves_the_model_as_it_was(tmp_path):
    """Every array has the right shape (the layout check passes), the last one cannot be assigned."""
    import h5py

    file = tmp_path / "broken.weights.h5"
    nnzoo.build("network2", compile=False, seed=4).save_weights(file)
    with h5py.File(file, "r+") as handle:
        names = []
        handle.visititems(lambda name, item: names.append(name) if isinstance(item, h5py.Dataset) else None)
        last = sorted(names)[-1]
        shape = handle[last].shape
        del handle[last]
        handle.create_dataset(last, data=np.full(shape, b"x", dtype="S1"))
    model = nnzoo.build("network2", weights="mnist", compile=False)
    before = _exact_copy(model)
    with pytest.raises(ValueError, match=r"broken\.weights\.h5.*the model keeps its weights"):
        nnzoo.load_weights(model, file)
    _unchanged(model, before)


@pytest.mark.parametrize("empty", ["", "   "])
def test_an_empty_weights_path_is_refused(empty, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)  # were it read as ".", this directory
    with pytest.raises(ValueError, match=rf"weights is an empty path. Received: '{empty}'"):
        nnzoo.build("network2", weights=empty)
    with pytest.raises(ValueError, match=r"source is an empty path"):
        nnzoo.load_weights(nnzoo.build("network2", compile=False), empty)


def test_a_keras_file_with_an_unknown_function_is_named_and_nothing_runs(tmp_path):
    import keras

    def planted_activation(x):  # never registered: Keras cannot rebuild it, and safe mode stays on
        (tmp_path / "victim").write_text("ran")
        return x

    inputs = keras.Input((28, 28, 1), name="image")
    outputs = keras.layers.Dense(10, activation=planted_activation)(keras.layers.Flatten()(inputs))
    keras.Model(inputs, outputs, name="network2").save(tmp_path / "planted.keras")
    for load in (lambda: nnzoo.build("shallow_softmax", weights=str(tmp_path / "planted.keras")),
                 lambda: nnzoo.load(tmp_path / "planted.keras")):
        with pytest.raises(ValueError, match=r"planted\.keras.*Nothing from the file was run: safe mode stays on"):
            load()
    assert not (tmp_path / "victim").exists()

def test_an_ensemble_run_directory_loads_every_members_final_model(tmp_path):
    run_dir = tmp_path / "ensemble"
    members = []
    for index in range(1, 6):
        member = nnzoo.build("conv2_dropout", seed=100 + index)
        (run_dir / f"member-{index}").mkdir(parents=True)
        member.save(run_dir / f"member-{index}" / "model.keras")
        members.append(member)
    ensemble = nnzoo.build("conv2_dropout_ensemble", weights=str(run_dir), compile=False)
    for index, member in enumerate(members, start=1):
        for a, b in zip(ensemble.get_layer(f"member_{index}").get_weights(), member.get_weights()):
            np.testing.assert_array_equal(a, b)


@pytest.fixture
def saved_model_record(tmp_path, monkeypatch):
    """shallow_sigmoid's shipped weights as a SavedModel record on a shelf of its own (NNZOO_WEIGHTS_DIR)."""
    name = "shallow_sigmoid"
    shelf = tmp_path / "shelf"
    version = nnzoo.export(nnzoo.build(name, weights="mnist", compile=False), shelf / name)
    record = dataclasses.replace(pretrained.get(name), file=f"{name}/{version.name}", format="savedmodel",
                                 sha256=files.tree_sha256(version), size=files.tree_size(version))
    record = dataclasses.replace(record, archive_sha256=pretrained.packed_sha256(record, version))
    monkeypatch.setattr(pretrained, "get", lambda wanted: record if wanted == name else None)
    monkeypatch.setenv("NNZOO_WEIGHTS_DIR", str(shelf))
    return record, shelf


def _same_weights(a, b):
    assert len(a.get_weights()) == len(b.get_weights())
    for x, y in zip(a.get_weights(), b.get_weights()):
        np.testing.assert_array_equal(x, y)


def test_a_saved_model_record_loads_its_variables_and_a_tampered_one_is_named(saved_model_record):
    record, shelf = saved_model_record
    assert pretrained.file_path(record) == shelf / record.file
    _same_weights(nnzoo.build(record.name, weights="mnist", compile=False),
                  nnzoo.build(record.name, weights=str(pretrained.CHECKOUT_DIR / f"{record.name}.weights.h5")))
    data_file = next((shelf / record.file / "variables").glob("variables.data-*"))
    content = bytearray(data_file.read_bytes())
    content[len(content) // 2] ^= 0xFF
    data_file.write_bytes(bytes(content))
    with pytest.raises(pretrained.WeightsError, match=rf"The SavedModel '{shelf / record.file}'.*corrupt or was modified"):
        nnzoo.build(record.name, weights="mnist")


def _bomb(path, member_bytes):
    """A .tar.gz of one file of zeros: tiny, and ``member_bytes`` once extracted."""
    import gzip
    import io
    import tarfile

    with open(path, "wb") as raw, gzip.GzipFile(fileobj=raw, mode="wb", mtime=0) as zipped, \
            tarfile.open(fileobj=zipped, mode="w") as tar:
        info = tarfile.TarInfo("saved_model.pb")
        info.size = member_bytes
        tar.addfile(info, io.BytesIO(bytes(member_bytes)))
    return path


def test_a_saved_model_record_downloads_as_an_archive_checked_before_extraction(saved_model_record, tmp_path,
                                                                               monkeypatch):
    """The pip-installed path for a SavedModel: a .tar.gz (file:// here, offline), its SHA-256 checked before it
    is opened, extracted within the record's size, its files checked; whatever fails is removed."""
    record, shelf = saved_model_record
    remote = tmp_path / "remote"
    archive = pretrained.pack(record, remote)
    assert archive.name == f"{record.name}-{record.file.split('/')[1]}.savedmodel.tar.gz"
    assert pretrained.pack(record, tmp_path / "again").read_bytes() == archive.read_bytes()  # reproducible
    assert files.sha256(archive) == record.archive_sha256
    good = archive.read_bytes()
    reference = nnzoo.build(record.name, weights="mnist", compile=False)
    cache = _offline(monkeypatch, tmp_path, remote)

    bomb = _bomb(tmp_path / "bomb.tar.gz", record.size + 1)  # 1 byte past the record, as a forged record allows
    for bad, forged, message in (
            (good[: len(good) // 2], None, "is not the published file"),  # truncated: refused before extraction
            (bomb.read_bytes(), None, "is not the published file"),
            (bomb.read_bytes(), files.sha256(bomb), "expands to more than the record's"),
            (b"\0" * (len(good) * 2 + (2 << 20)), None, "sent more than the")):
        archive.write_bytes(bad)
        wanted = dataclasses.replace(record, archive_sha256=forged) if forged else record
        with pytest.raises(pretrained.WeightsError, match=rf"could not be downloaded.*{message}.*download was removed"):
            pretrained.file_path(wanted)
        assert _cache_holds(cache) == [], "an unverified download stayed in the cache"

    archive.write_bytes(good)  # the next good download succeeds
    path = pretrained.file_path(record)
    assert path.parent == cache and files.tree_sha256(path) == record.sha256
    _same_weights(nnzoo.build(record.name, weights="mnist", compile=False), reference)

    other = nnzoo.export(nnzoo.build(record.name, compile=False, seed=5), tmp_path / "other")  # another SavedModel
    shutil.rmtree(path)
    wrong = dataclasses.replace(record, file="other/1", sha256=files.tree_sha256(other))
    archive.write_bytes(pretrained.pack(wrong, tmp_path / "wrong", source=other).read_bytes())
    forged = dataclasses.replace(record, archive_sha256=files.sha256(archive),  # the archive passes, its files do not
                                 size=files.tree_size(other))
    with pytest.raises(pretrained.WeightsError, match=rf"could not be downloaded.*corrupt or was modified"):
        pretrained.file_path(forged)
    assert _cache_holds(cache) == [], "an unverified download stayed in the cache"


def test_every_saved_model_records_archive_sha256_is_its_packed_archives():
    for name in SHIPPED:
        record = pretrained.get(name)
        assert bool(record.archive_sha256) == record.is_saved_model
        if record.is_saved_model:
            assert pretrained.packed_sha256(record, pretrained.CHECKOUT_DIR / record.file) == record.archive_sha256


def test_a_record_of_an_unknown_format_is_refused():
    with pytest.raises(pretrained.WeightsError, match=r"unknown format. Received: format='onnx'"):
        dataclasses.replace(pretrained.get(SHIPPED[0]), format="onnx")


@pytest.mark.parametrize("member", ["../outside", "/tmp/absolute", "link"])
def test_an_archive_member_outside_it_or_not_a_plain_file_is_refused(tmp_path, member):
    import io
    import tarfile

    from nnzoo import downloads

    archive = tmp_path / "a.tar.gz"
    with tarfile.open(archive, "w:gz") as tar:
        info = tarfile.TarInfo(member)
        if member == "link":
            info.type, info.linkname = tarfile.SYMTYPE, "/etc/passwd"
            tar.addfile(info)
        else:
            info.size = 3
            tar.addfile(info, io.BytesIO(b"abc"))
    with pytest.raises(ValueError, match=rf"holds '{member}', which is not a plain file inside the archive"):
        downloads.extract(archive, tmp_path / "into", limit=1000)
    assert not (tmp_path / "into").exists() and not (tmp_path / "outside").exists()


def test_a_dropout_network_refuses_a_saved_model_exported_before_network3s_dropout(tmp_path):
    """Its weights stood for Keras's inverted dropout: the card's date tells, without running the SavedModel."""
    version = nnzoo.export(nnzoo.build("conv2_dropout", compile=False, seed=0), tmp_path / "conv2_dropout")
    card_file = version / "assets.extra" / "nnzoo_card.json"
    card = json.loads(card_file.read_text())
    card["exported_at"] = "2026-12-01T06:38:15+00:00"  # the inverted-dropout conv2_dropout/3's
    card_file.write_text(json.dumps(card))
    with pytest.raises(pretrained.WeightsError, match=r"exported 2026-12-01T06:38:15\+00:00, before nnzoo used "
                                                      r"network3's dropout"):
        nnzoo.build("conv2_dropout", weights=str(version), compile=False)


def test_an_ensemble_run_directory_with_a_member_that_does_not_fit_changes_nothing(tmp_path):
    run_dir = tmp_path / "ensemble"
    for index in (1, 2, 3):
        (run_dir / f"member-{index}").mkdir(parents=True)
        member = nnzoo.build("conv2_dropout" if index < 3 else "conv2_relu_2fc", seed=index, compile=False)
        member.save(run_dir / f"member-{index}" / "model.keras")
    ensemble = nnzoo.build("conv2_dropout_ensemble", compile=False, seed=0)
    before = _exact_copy(ensemble)
    with pytest.raises(ValueError, match=r"member-3"):
        pretrained.load_into(ensemble, run_dir)
    _unchanged(ensemble, before)
