"""Datasets, lineage, the rest of the registry API, and namespaces that form a hierarchy (``vision/detection``)."""

import threading

import pytest

import modelbox


def digest(byte: str) -> str:
    return "sha256:" + byte * 32


def test_dataset_versions_are_registered_idempotently_and_listed(client, namespace):
    first = client.create_dataset("imagenet", digest("aa"), namespace, uri="s3://data/imagenet/v1",
                                  description="images", metadata={"rows": 1000})
    assert not first.dataset_existed and not first.version_existed
    assert first.dataset.id.startswith("ds-") and first.version.id.startswith("dsv-")
    assert (first.dataset.name, first.dataset.namespace, first.version.uri) == ("imagenet", namespace, "s3://data/imagenet/v1")
    again = client.create_dataset("imagenet", digest("aa"), namespace)
    assert again.dataset_existed and again.version_existed and again.version.id == first.version.id
    second = client.create_dataset("imagenet", digest("bb"), namespace)
    assert second.dataset_existed and not second.version_existed and second.dataset.id == first.dataset.id
    details = client.get_dataset(first.dataset.id)
    assert details.dataset.description == "images"
    assert [v.digest for v in details.versions] == [digest("aa"), digest("bb")]
    client.create_dataset("coco", digest("cc"), namespace)
    assert [d.name for d in client.list_datasets(namespace)] == ["coco", "imagenet"]


def test_dataset_bad_input_and_missing_dataset(client, namespace):
    with pytest.raises(modelbox.InvalidArgument, match="digest"):
        client.create_dataset("no-digest", "", namespace)
    with pytest.raises(modelbox.InvalidArgument, match="name"):
        client.create_dataset("", digest("aa"), namespace)
    with pytest.raises(modelbox.NotFound):
        client.get_dataset("ds-00000000000000000000000000000000")
    with pytest.raises(modelbox.InvalidArgument, match="role"):
        client.set_lineage("mv-x", datasets=[("dsv-x", "memorised")])


def test_lineage_with_datasets_derivations_and_usage(client, namespace):
    exp = client.create_experiment("train", namespace).id
    train = client.create_dataset("corpus", digest("01"), namespace).version.id
    evaluation = client.create_dataset("heldout", digest("02"), namespace).version.id
    model = client.create_model("lm", namespace).id
    base = client.create_model_version(model, "v1", experiment_id=exp, datasets=[train, (evaluation, "evaluation")]).id
    tuned = client.create_model_version(model, "v2", derived_from=[(base, "fine-tuning")]).id

    lineage = client.get_lineage(base)
    assert lineage.experiment.id == exp
    assert sorted((d.version.id, d.role) for d in lineage.datasets) == sorted(
        [(train, modelbox.pb.DATASET_ROLE_TRAINING), (evaluation, modelbox.pb.DATASET_ROLE_EVALUATION)])
    assert [d.id for d in lineage.descendants] == [tuned]
    ancestors = client.get_lineage(tuned).ancestors
    assert [(a.version.id, a.relation, a.depth) for a in ancestors] == [(base, "fine-tuning", 1)]

    usage = client.get_dataset_usage(train)
    assert [v.id for v in usage.model_versions] == [base] and [e.id for e in usage.experiments] == [exp]
    assert [v.id for v in client.list_versions_trained_in(exp)] == [base]

    # set_lineage replaces the whole lineage.
    stored = client.set_lineage(tuned, derived_from=[base], datasets=[evaluation])
    assert [d.dataset_version_id for d in stored.datasets] == [evaluation] and stored.derived_from[0].version_id == base
    assert [d.version.id for d in client.get_lineage(tuned).datasets] == [evaluation]
    with pytest.raises(modelbox.NotFound):
        client.set_lineage(tuned, datasets=["dsv-00000000000000000000000000000000"])


def test_models_versions_artifacts_delete_restore_and_unique_tags(client, namespace, tmp_path):
    model = client.create_model("clf", namespace).id
    v1 = client.create_model_version(model, "v1", unique_tags=["best"]).id
    v2 = client.create_model_version(model, "v2").id
    assert list(client.update_unique_tags(v2, add=["best"]).unique_tags) == ["best"]
    assert list(client.get_model_version(v1).unique_tags) == []
    assert list(client.update_unique_tags(v2, remove=["best"]).unique_tags) == []
    client.delete_model_version(v1)
    with pytest.raises(modelbox.NotFound):
        client.get_model_version(v1)
    assert client.restore_model_version(v1).id == v1
    client.delete_model(model)
    assert [m.id for m in client.list_models(namespace)] == []
    assert client.restore_model(model).id == model
    path = tmp_path / "notes.txt"
    path.write_text("hello")
    record = client.upload_file(v2, str(path))
    client.delete_artifact(record.id)
    assert client.list_artifacts(v2) == []


def test_hierarchical_namespaces_list_search_and_recursive(client, namespace):
    parent, child, grandchild = namespace, f"{namespace}/detection", f"{namespace}/detection/yolo"
    sibling = f"{namespace}-other"
    experiments = {ns: client.create_experiment("e", ns).id for ns in (parent, child, grandchild, sibling)}
    models = {ns: client.create_model("m", ns).id for ns in (parent, child, sibling)}
    datasets = {ns: client.create_dataset("d", digest("ff"), ns).dataset.id for ns in (parent, grandchild, sibling)}
    assert len(set(experiments.values())) == 4 and client.get_experiment(experiments[child]).namespace == child

    assert [e.id for e in client.list_experiments(parent)] == [experiments[parent]]
    assert {e.id for e in client.list_experiments(parent, recursive=True)} == {experiments[n] for n in (parent, child, grandchild)}
    assert {e.id for e in client.list_experiments(child, recursive=True)} == {experiments[n] for n in (child, grandchild)}
    assert [m.id for m in client.list_models(parent)] == [models[parent]]
    assert {m.id for m in client.list_models(parent, recursive=True)} == {models[parent], models[child]}
    assert [d.id for d in client.list_datasets(parent)] == [datasets[parent]]
    assert {d.id for d in client.list_datasets(parent, recursive=True)} == {datasets[parent], datasets[grandchild]}
    assert {e.id for e in client.search_experiments(parent, "name = 'e'", recursive=True)} == {
        experiments[n] for n in (parent, child, grandchild)}
    assert [e.id for e in client.search_experiments(child, "name = 'e'")] == [experiments[child]]
    assert {child, grandchild} <= {n.name for n in client.list_namespaces()}


@pytest.mark.parametrize("bad", ["vision/", "/vision", "vision//detection"])
def test_malformed_namespace_paths_are_refused(client, bad):
    with pytest.raises(modelbox.InvalidArgument, match="namespace"):
        client.create_experiment("e", bad)


def test_recursive_watch_includes_children_and_only_them(client, namespace):
    seen = []
    done = threading.Event()

    def consume(recursive):
        for change in modelbox.watch(namespace, recursive=recursive, server_addr=client.server_addr):
            seen.append((recursive, change.object_id))
            if sum(1 for r, _ in seen if r) == 2:
                done.set()
                return

    threading.Thread(target=consume, args=(True,), daemon=True).start()
    client.create_experiment("x", f"{namespace}-sibling")
    child = client.create_experiment("x", f"{namespace}/child").id
    own = client.create_experiment("x", namespace).id
    assert done.wait(30)
    assert [o for r, o in seen if r] == [child, own]
    # Without recursive, the parent's watch sees its own change only (replayed from the start).
    plain = client.watch(namespace)
    assert next(plain).object_id == own
    plain.close()
