"""The evaluation through the products: FrameProcessor writes, the hourly hunt's loader reads.

One short run (nominal sky, held-out seed 101, C3, 6 hours after a 3 h lead-in: 45 frames,
30 hunted) in both modes. The products mode must really have gone through the compressed
``.bgsub.fits.fz`` files (every file the hunt's loader opened is listed and checked), hunt
the products' quantised images (1/16 sigma steps, never more than half a step from the
in-memory frame), and on this run give the same figures as memory mode: the same
candidates, comets found, matched frames and false candidates (scores move a little with
the quantisation, recall and false counts do not).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from comet_pipeline import cli
from comet_pipeline.evaluation import grid
from comet_pipeline.evaluation.grid import start_for_seed
from comet_pipeline.evaluation.harness import EvaluationReport, Source, evaluate, format_report
from comet_pipeline.hunting import loading as hunt_loader
from comet_pipeline.hunting.model import HuntFrame
from comet_pipeline.imaging.fitsio import PROCESSED_STEP

SEED = 101
RUN = {
    "profile": "nominal",
    "start": start_for_seed(SEED),
    "detectors": ("c3",),
    "hours": 6.0,
}


@pytest.fixture(scope="module")
def both_modes() -> dict[str, object]:
    """Both runs once for the module; the products run spies on the hunt's product reader."""
    read: list[tuple[str, int, bytes]] = []
    real = hunt_loader.read_image

    def spy(path: Path):
        path = Path(path)
        read.append((str(path), path.stat().st_size, path.read_bytes()[:80]))
        return real(path)

    memory_frames: dict[str, HuntFrame] = {}
    product_frames: dict[str, HuntFrame] = {}
    memory = evaluate(1, SEED, keep_frames=memory_frames, **RUN)
    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(hunt_loader, "read_image", spy)
        products = evaluate(
            1,
            SEED,
            keep_frames=product_frames,
            source=Source.PRODUCTS,
            **RUN,
        )
    return {
        "memory": memory,
        "products": products,
        "read": read,
        "memory_frames": memory_frames,
        "product_frames": product_frames,
    }


def test_products_mode_writes_and_reads_the_compressed_products(both_modes):
    memory: EvaluationReport = both_modes["memory"]
    products: EvaluationReport = both_modes["products"]
    read = both_modes["read"]
    assert memory.source is Source.MEMORY and memory.products_read == 0
    assert products.source is Source.PRODUCTS
    # every frame (lead-in included) was written by FrameProcessor and read back from disk
    assert products.n_frames == memory.n_frames == 30
    assert products.products_read == len(read) == 45
    assert products.product_bytes_read == sum(size for _, size, _ in read) > 0
    for path, size, head in read:
        assert path.endswith(".bgsub.fits.fz"), path
        assert head.startswith(b"SIMPLE  =") and size > 0
    # the temporary folder is gone after the run
    assert not any(Path(path).exists() for path, _, _ in read)
    assert products.as_dict()["source"] == "products"
    assert products.as_dict()["products_read"] == 45
    assert "source: products" in format_report(products)
    assert "source: memory" in format_report(memory)


def test_products_mode_hunts_the_quantised_images(both_modes):
    mem: dict[str, HuntFrame] = both_modes["memory_frames"]
    prod: dict[str, HuntFrame] = both_modes["product_frames"]
    assert set(mem) == set(prod) and len(prod) == 30
    differs = 0
    for name, frame in prod.items():
        mine = mem[name].image
        rounded = np.rint(mine / PROCESSED_STEP) * PROCESSED_STEP
        assert np.array_equal(rounded, frame.image, equal_nan=True), name
        assert np.nanmax(np.abs(mine - frame.image)) <= PROCESSED_STEP / 2
        differs += int(not np.array_equal(mine, frame.image, equal_nan=True))
    assert differs == len(prod)  # not the memory arrays: every frame was quantised


def test_products_mode_gives_the_memory_figures_on_this_run(both_modes):
    memory: EvaluationReport = both_modes["memory"]
    products: EvaluationReport = both_modes["products"]
    assert memory.recall() == products.recall()
    assert memory.recall()["snr>=5 & >=6 frames"] == (6, 7)  # this sky's figure, both modes
    assert len(memory.false_candidates) == len(products.false_candidates) == 0
    assert memory.duplicates == products.duplicates
    assert memory.days_top_true == products.days_top_true
    assert [(c.comet_id, c.found, c.candidate_id, c.n_matched, c.ranks) for c in memory.comets] == [
        (c.comet_id, c.found, c.candidate_id, c.n_matched, c.ranks) for c in products.comets
    ]
    assert sorted(c.id for c in memory.candidates) == sorted(c.id for c in products.candidates)
    for a, b in zip(
        sorted(memory.comets, key=lambda c: c.comet_id),
        sorted(products.comets, key=lambda c: c.comet_id),
        strict=True,
    ):
        if a.found:  # positions move by the quantisation only: hundredths of a pixel
            assert b.median_err == pytest.approx(a.median_err, abs=0.02)


def test_cli_through_products_reaches_the_harness_and_names_the_mode(capsys, monkeypatch, tmp_path):
    monkeypatch.setenv("COMET_HOME", str(tmp_path))
    seen: list[object] = []

    def short(days: int, seed: int, **kwargs: object) -> EvaluationReport:
        seen.append(kwargs.get("source"))  # the grid's call, then a shorter real run
        return evaluate(days, seed, **{**kwargs, "detectors": ("c3",), "hours": 1.0})

    monkeypatch.setattr(grid, "evaluate", short)
    code = cli.main(
        ["evaluate", "--profiles", "nominal", "--seeds", str(SEED), "--jobs", "1",
         "--through-products"]
    )  # fmt: skip
    out = capsys.readouterr().out
    assert code == 0
    assert seen == [Source.PRODUCTS]
    assert "source: products: frames hunted from the .bgsub.fits.fz products" in out
    assert "products read" in out
    head = out.splitlines()
    assert head[1].startswith("  source: products")  # the run's report
    assert any(line.startswith("  source: products") for line in head[3:])  # the grid's


def test_cli_defaults_to_memory_mode(capsys, monkeypatch, tmp_path):
    monkeypatch.setenv("COMET_HOME", str(tmp_path))
    seen: list[object] = []

    def fake(days: int, seed: int, **kwargs: object) -> EvaluationReport:
        seen.append(kwargs.get("source"))
        return evaluate(days, seed, **{**kwargs, "detectors": ("c3",), "hours": 0.5})

    monkeypatch.setattr(grid, "evaluate", fake)
    assert cli.main(["evaluate", "--profiles", "nominal", "--seeds", "1", "--jobs", "1"]) == 0
    assert seen == [Source.MEMORY]
    assert "source: memory" in capsys.readouterr().out
