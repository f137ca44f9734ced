"""uvbuild.docker.layers: an image's layers by its id, kept between runs, and the engine
answering from them."""

from __future__ import annotations

import os

from uvbuild.docker import layers
from uvbuild.docker.engine import Engine
from uvbuild.docker.facts.values import Layer

IMAGE_ID = "sha256:" + "cd" * 32
LAYERS = [Layer("sha256:l1", "FROM python", 100), Layer("sha256:l2", "RUN uv sync", 7)]


def test_the_layers_of_an_image_id_are_kept(tmp_path):
    cache = layers.LayerCache(tmp_path)
    assert cache.get(IMAGE_ID) is None
    cache.put(IMAGE_ID, LAYERS)
    assert layers.LayerCache(tmp_path).get(IMAGE_ID) == LAYERS


def test_only_image_ids_are_kept(tmp_path):
    cache = layers.LayerCache(tmp_path)
    cache.put("app:dev", LAYERS)  # a tag moves
    assert cache.get("app:dev") is None
    assert not (tmp_path / layers.DIR_NAME).exists()


def test_an_unreadable_answer_is_a_miss(tmp_path):
    cache = layers.LayerCache(tmp_path)
    cache.put(IMAGE_ID, LAYERS)
    (tmp_path / layers.DIR_NAME / f"{IMAGE_ID[7:]}.json").write_text("{broken")
    assert cache.get(IMAGE_ID) is None


def test_the_newest_answers_are_kept(tmp_path, monkeypatch):
    monkeypatch.setattr(layers, "KEEP", 2)
    cache = layers.LayerCache(tmp_path)
    ids = [f"sha256:{n:064x}" for n in range(3)]
    for age, image_id in enumerate(ids):
        cache.put(image_id, LAYERS)
        file = tmp_path / layers.DIR_NAME / f"{image_id[7:]}.json"
        os.utime(file, (1000 + age, 1000 + age))
    cache.put(ids[2], LAYERS)  # prunes
    assert [cache.get(i) is not None for i in ids] == [False, True, True]


def test_the_engine_reads_an_image_ids_layers_once(tmp_path, monkeypatch):
    asked = []

    def read(self, ref):
        asked.append(ref)
        return LAYERS

    monkeypatch.setattr(Engine, "_read_layers", read)
    lines = []
    assert Engine(cache_dir=tmp_path).image_layers(IMAGE_ID) == LAYERS
    assert Engine(cache_dir=tmp_path, log=lines.append).image_layers(IMAGE_ID) == LAYERS
    assert asked == [IMAGE_ID]
    assert lines == [f"the layers of {IMAGE_ID[:19]}, as docker answered before"]
    Engine().image_layers(IMAGE_ID)  # no cache dir: asked
    assert asked == [IMAGE_ID, IMAGE_ID]
