"""The hunter measured against the simulator's truth: one run (harness), and the grid of
sky profiles x seeds (grid). Only this package joins the simulator, imaging and hunting."""
