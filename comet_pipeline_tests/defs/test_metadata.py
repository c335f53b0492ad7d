"""The one markdown table builder the assets share."""

from comet_pipeline.defs.metadata import md_table


def test_md_table_escapes_pipes_and_counts_what_it_cuts():
    text = md_table(["a", "b"], [(1, "x|y"), (2, "z"), (3, "w")], limit=2).value
    assert text.splitlines() == [
        "| a | b |",
        "|---|---|",
        "| 1 | x/y |",
        "| 2 | z |",
        "| … 1 more | |",
    ]
